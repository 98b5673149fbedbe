"""MATLAB ``.mat`` files in the layout of LipSDP (Fazlyab et al., NeurIPS 2019).

Variable ``weights``: a 1×L cell of matrices W_1 … W_L (out×in), ReLU between them (unless
``--activation`` names another), no biases.
Two optional variables extend it losslessly: ``biases`` (a cell of L vectors) and ``activation``
(a string).  ``scipy.io.loadmat`` decodes data only; MATLAB v7.3 (HDF5) files are not read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import loadmat, savemat

from .. import Network
from ..deep import linear_layers, network_from_layers
from .base import Format, LoadOptions, activation_text, real_array, settle_activation, stored_text
from .errors import ModelFormatError, layer_count_error, library_errors

__all__ = ["MATLAB"]

_VARIABLES = ("weights", "biases", "activation")


def _read(path: Path) -> dict[str, np.ndarray]:
    with library_errors("not a readable MATLAB file"):
        content = loadmat(path)
    variables = {name: value for name, value in content.items() if not name.startswith("__")}
    unexpected = sorted(set(variables) - set(_VARIABLES))
    if unexpected:
        raise ModelFormatError(
            f"unexpected variable {unexpected[0]!r} (known: {', '.join(_VARIABLES)})"
        )
    if "weights" not in variables:
        raise ModelFormatError("no variable 'weights' (a cell array of weight matrices)")
    return variables


def _cell(name: str, value: np.ndarray) -> list[np.ndarray]:
    """The entries of a MATLAB cell array, in MATLAB's (column-major) order."""
    if value.dtype != object:
        raise ModelFormatError(
            f"variable {name!r} must be a cell array, got a {value.dtype} array of shape "
            f"{value.shape}"
        )
    return [real_array(f"{name}{{{i + 1}}}", entry) for i, entry in enumerate(value.ravel("F"))]


def _vector(name: str, value: np.ndarray) -> np.ndarray:
    if value.ndim > 2 or (value.ndim == 2 and min(value.shape) > 1):
        raise ModelFormatError(f"{name} must be a vector, got shape {value.shape}")
    return value.ravel()


def _biases(value: np.ndarray | None, count: int) -> list[np.ndarray | None]:
    if value is None:
        return [None] * count
    vectors = [_vector(f"biases{{{i + 1}}}", bias) for i, bias in enumerate(_cell("biases", value))]
    if len(vectors) != count:
        raise ModelFormatError(f"{len(vectors)} biases for {count} weight matrices")
    return vectors


def load(path: Path, options: LoadOptions) -> Network:
    """The matrices W_1 … W_L (at least two) as linear layers, biases zero unless stored."""
    variables = _read(path)
    matrices = _cell("weights", variables["weights"])
    if len(matrices) < 2:
        raise layer_count_error(len(matrices))
    biases = _biases(variables.get("biases"), len(matrices))
    stored = stored_text("variable 'activation'", variables.get("activation"))
    return network_from_layers(
        matrices, biases, settle_activation(options.activation, stored, implied="relu")
    )


def _cell_of(arrays: list[np.ndarray]) -> np.ndarray:
    cell = np.empty((1, len(arrays)), dtype=object)
    for index, array in enumerate(arrays):
        cell[0, index] = array
    return cell


def save(net: Network, path: Path) -> None:
    """``weights`` = {W_1, …, W_L}, ``biases`` = {b_1, …, b_L} as column vectors, and
    ``activation``."""
    weights, biases = linear_layers(net)
    with open(path, "wb") as file:  # a file object stops scipy from appending ".mat"
        savemat(
            file,
            {
                "weights": _cell_of(list(weights)),
                "biases": _cell_of([b[:, None] for b in biases]),
                "activation": activation_text(net.activation),
            },
        )


MATLAB = Format(
    name="MATLAB (LipSDP layout)",
    suffixes=(".mat",),
    kinds=frozenset({"matlab"}),
    load=load,
    save=save,
)
