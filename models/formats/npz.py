"""NumPy ``.npz`` archives: arrays ``W`` (k×d), ``A`` (m×k, or a k-vector for m = 1), optional
``b``, ``c`` (zero if absent) and ``activation`` (a 0-d string array, default ReLU).

Read with ``allow_pickle=False``, so object arrays, the only ones that could run code, are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..network import TwoLayerNetwork
from .base import (
    Format,
    LoadOptions,
    activation_text,
    real_array,
    settle_activation,
    stored_text,
)
from .errors import ModelFormatError, library_errors

__all__ = ["NPZ"]

_WEIGHTS = ("W", "A")
_OPTIONAL = ("b", "c", "activation")


def _read(path: Path) -> dict[str, np.ndarray]:
    with library_errors("not a readable .npz archive"), np.load(path, allow_pickle=False) as file:
        return {name: file[name] for name in file.files}


def load(path: Path, options: LoadOptions) -> TwoLayerNetwork:
    """The network stored as named arrays in ``path``."""
    arrays = _read(path)
    unexpected = sorted(set(arrays) - {*_WEIGHTS, *_OPTIONAL})
    if unexpected:
        raise ModelFormatError(
            f"unexpected array {unexpected[0]!r} (known: {', '.join(_WEIGHTS + _OPTIONAL)})"
        )
    missing = [name for name in _WEIGHTS if name not in arrays]
    if missing:
        raise ModelFormatError(f"missing array {missing[0]!r}")
    numbers = {
        name: real_array(f"array {name!r}", arrays[name])
        for name in ("W", "A", "b", "c")
        if name in arrays
    }
    stored = stored_text("array 'activation'", arrays.get("activation"))
    return TwoLayerNetwork.create(
        numbers["W"], numbers["A"], b=numbers.get("b"), c=numbers.get("c"),
        activation=settle_activation(options.activation, stored),
    )


def save(net: TwoLayerNetwork, path: Path) -> None:
    """``W``, ``b``, ``A``, ``c`` and ``activation`` as an uncompressed archive."""
    with open(path, "wb") as file:  # a file object stops numpy from appending ".npz"
        np.savez(
            file, W=net.W, b=net.b, A=net.A, c=net.c,
            activation=np.array(activation_text(net.activation)),
        )


NPZ = Format(
    name="NumPy .npz",
    suffixes=(".npz",),
    kinds=frozenset({"npz", "zip"}),
    load=load,
    save=save,
)
