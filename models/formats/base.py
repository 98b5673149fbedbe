"""What every file format provides, and how a format settles the activation of a network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import Network
from ..activations import Activation, get_activation
from .errors import ModelFormatError

__all__ = [
    "DEFAULT_ACTIVATION",
    "Format",
    "LoadOptions",
    "activation_text",
    "one_activation",
    "real_array",
    "settle_activation",
    "stored_text",
]

DEFAULT_ACTIVATION = "relu"


@dataclass(frozen=True)
class LoadOptions:
    """What the caller adds to a file: an activation, and whether pickled code may run."""

    activation: str | None = None
    trust_pickle: bool = False


@dataclass(frozen=True)
class Format:
    """A file format: its suffixes, the content kinds it accepts (see `sniff`), a reader, a writer.

    ``kinds`` holds ``None`` when the format has no magic bytes (then any unrecognised content
    is handed to the reader).
    """

    name: str
    suffixes: tuple[str, ...]
    kinds: frozenset[str | None]
    load: Callable[[Path, LoadOptions], Network]
    save: Callable[[Network, Path], None]


def activation_text(activation: Activation) -> str:
    """An exact textual form for storage: unlike ``Activation.spec`` it keeps every digit."""
    if activation.parameter is None:
        return activation.name
    return f"{activation.name}({float(activation.parameter)!r})"


def one_activation(specs: list[str]) -> str:
    """The activation that every hidden layer shares; different ones are refused."""
    different = [spec for spec in specs if spec != specs[0]]
    if different:
        raise ModelFormatError(
            f"different activations between layers ({specs[0]!r} and {different[0]!r}); "
            "only one activation throughout is supported"
        )
    return specs[0]


def settle_activation(requested: str | None, stored: str | Activation | None) -> Activation:
    """The activation of a loaded network: the file's own if it has one, else the request.

    A request that contradicts the file is refused rather than silently preferred: certifying
    a different function than the one stored would make every bound meaningless.
    """
    if stored is None:
        return get_activation(DEFAULT_ACTIVATION if requested is None else requested)
    found = get_activation(stored)
    if requested is not None and get_activation(requested) != found:
        raise ModelFormatError(
            f"the file stores activation {activation_text(found)!r}, "
            f"but {requested!r} was requested"
        )
    return found


def real_array(name: str, value: object) -> np.ndarray:
    """``value`` as a float64 array if it holds real numbers (complex parts are never dropped)."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ModelFormatError(f"{name} has dtype {array.dtype}, expected real numbers")
    return array.astype(np.float64)


def stored_text(name: str, value: np.ndarray | None) -> str | None:
    """The string held by a one-element string array (as numpy and scipy store text)."""
    if value is None:
        return None
    if value.dtype.kind not in "US" or value.size != 1:
        raise ModelFormatError(
            f"{name} must be one string, got dtype {value.dtype} and shape {value.shape}"
        )
    text = value.item()
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text
