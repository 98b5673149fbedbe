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
    "MISSING_ACTIVATION",
    "Format",
    "LoadOptions",
    "activation_text",
    "one_activation",
    "real_array",
    "settle_activation",
    "stored_text",
]

MISSING_ACTIVATION = (
    "the file does not record its activation: name it with --activation (activation= in "
    "Python), e.g. relu, tanh, gelu, leaky_relu(0.01)"
)


@dataclass(frozen=True)
class LoadOptions:
    """What the caller adds to a file: an activation, whether pickled code may run, and whether
    a pickled module with a forward of its own may be read as the chain of its layers."""

    activation: str | None = None
    trust_pickle: bool = False
    assume_chain: bool = False


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


def settle_activation(
    requested: str | None, stored: str | Activation | None, implied: str | None = None
) -> Activation:
    """The activation of a loaded network: the file's own if it has one, else the request.

    ``implied`` is the activation that a layout defines for files that record none (LipSDP's
    ``.mat`` files hold ReLU nets); a request takes precedence over it.  Without either, the
    file is refused: a guessed σ certifies a different function.  A request that contradicts
    what the file records is refused rather than silently preferred, for the same reason.
    """
    if stored is None:
        chosen = requested if requested is not None else implied
        if chosen is None:
            raise ModelFormatError(MISSING_ACTIVATION)
        return get_activation(chosen)
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
