"""NumPy ``.npz`` archives, in one of two layouts, with an ``activation`` (a 0-d string array;
a file without one needs the activation named when it is loaded):

* two layers: ``W`` (k×d), ``A`` (m×k, or a k-vector for m = 1), optional ``b``, ``c``;
* any depth: ``W1`` … ``WL`` (out×in, L ≥ 2), optional ``b1`` … ``bL``.

Missing biases are zero.  Read with ``allow_pickle=False``, so object arrays, the only ones that
could run code, are refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import Network
from ..deep import network_from_layers
from ..network import TwoLayerNetwork
from .base import (
    Format,
    LoadOptions,
    activation_text,
    real_array,
    settle_activation,
    stored_text,
)
from .errors import ModelFormatError, layer_count_error, library_errors

__all__ = ["NPZ"]

Layers = tuple[list[np.ndarray], list[np.ndarray | None]]

_TWO_LAYER = ("W", "A", "b", "c")
_NUMBERED = re.compile(r"([Wb])([1-9]\d*)")
_KNOWN = "W, A, b, c or W1, b1, …, WL, bL, and activation"


def _read(path: Path) -> dict[str, np.ndarray]:
    with library_errors("not a readable .npz archive"), np.load(path, allow_pickle=False) as file:
        return {name: file[name] for name in file.files}


def _two_layer(numbers: dict[str, np.ndarray]) -> Layers:
    missing = [name for name in ("W", "A") if name not in numbers]
    if missing:
        raise ModelFormatError(f"missing array {missing[0]!r}")
    A = numbers["A"]
    return [numbers["W"], A[None, :] if A.ndim == 1 else A], [numbers.get("b"), numbers.get("c")]


def _numbered(numbers: dict[str, np.ndarray]) -> Layers:
    count = 0
    while f"W{count + 1}" in numbers:
        count += 1
    for name in sorted(numbers, key=lambda name: int(name[1:])):
        if int(name[1:]) > count:
            missing = f"W{count + 1}"
            if name[0] == "b" and int(name[1:]) == count + 1:
                raise ModelFormatError(f"array {name!r} has no weight matrix {missing!r}")
            raise ModelFormatError(
                f"array {name!r} but no {missing!r} (weight matrices are numbered W1, W2, … "
                "without gaps)"
            )
    if count < 2:
        raise layer_count_error(count)
    layers = range(1, count + 1)
    return [numbers[f"W{i}"] for i in layers], [numbers.get(f"b{i}") for i in layers]


def load(path: Path, options: LoadOptions) -> Network:
    """The network stored as named arrays in ``path``."""
    arrays = _read(path)
    names = set(arrays) - {"activation"}
    numbered = {name for name in names if _NUMBERED.fullmatch(name)}
    unexpected = sorted(names - numbered - set(_TWO_LAYER))
    if unexpected:
        raise ModelFormatError(f"unexpected array {unexpected[0]!r} (known: {_KNOWN})")
    if numbered and names - numbered:
        raise ModelFormatError(
            f"mixes the two-layer names ({sorted(names - numbered)[0]!r}) with the numbered "
            f"ones ({sorted(numbered)[0]!r})"
        )
    numbers = {name: real_array(f"array {name!r}", arrays[name]) for name in names}
    weights, biases = _numbered(numbers) if numbered else _two_layer(numbers)
    stored = stored_text("array 'activation'", arrays.get("activation"))
    return network_from_layers(weights, biases, settle_activation(options.activation, stored))


def _arrays(net: Network) -> dict[str, np.ndarray]:
    if isinstance(net, TwoLayerNetwork):
        return {"W": net.W, "b": net.b, "A": net.A, "c": net.c}
    arrays = {}
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True), start=1):
        arrays[f"W{i}"], arrays[f"b{i}"] = W, b
    return arrays


def save(net: Network, path: Path) -> None:
    """The arrays of ``net`` (two-layer names for a `TwoLayerNetwork`, numbered ones otherwise)
    and ``activation``, as an uncompressed archive."""
    with open(path, "wb") as file:  # a file object stops numpy from appending ".npz"
        np.savez(file, **_arrays(net), activation=np.array(activation_text(net.activation)))


NPZ = Format(
    name="NumPy .npz",
    suffixes=(".npz",),
    kinds=frozenset({"npz", "zip"}),
    load=load,
    save=save,
)
