"""Linear layers from flat ``name -> array`` maps: PyTorch state dicts and safetensors files.

Keys follow ``torch.nn.Module.state_dict``: ``"<prefix>.weight"`` (out×in) with an optional
``"<prefix>.bias"``.  Layers are ordered by their prefix, read naturally (``"10" > "2"``,
``"fc10" > "fc2"``); any other tensor (batch norm, convolution, ...) is refused, never ignored.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

import numpy as np

from .. import Network
from ..activations import Activation
from ..deep import linear_layers, network_from_layers
from .errors import ModelFormatError, layer_count_error

__all__ = ["network_from_state", "state_of"]

_NUMBER = re.compile(r"(\d+)")


def _prefix(key: str, leaf: str) -> str | None:
    """``"0"`` for ``"0.weight"`` with leaf ``"weight"``; ``""`` for a bare ``"weight"``."""
    if key == leaf:
        return ""
    return key[: -len(leaf) - 1] if key.endswith("." + leaf) else None


def _key(prefix: str, leaf: str) -> str:
    return f"{prefix}.{leaf}" if prefix else leaf


def _natural(prefix: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _NUMBER.split(prefix))


def _ordered_prefixes(state: Mapping[str, np.ndarray]) -> list[str]:
    prefixes = [
        prefix
        for key, array in state.items()
        if (prefix := _prefix(key, "weight")) is not None and np.ndim(array) == 2
    ]
    return sorted(prefixes, key=_natural)


def _refuse_leftovers(state: Mapping[str, np.ndarray], prefixes: list[str]) -> None:
    used = {_key(prefix, leaf) for prefix in prefixes for leaf in ("weight", "bias")}
    for key, array in state.items():
        if key not in used:
            raise ModelFormatError(
                f"unexpected tensor {key!r} of shape {tuple(np.shape(array))} "
                "(only the weights and biases of linear layers are supported)"
            )


def _refuse_ambiguous_order(prefixes: list[str], weights: list[np.ndarray]) -> None:
    """Names like ``hidden``/``output`` carry no order; refuse when another order of the layers
    fits the shapes too (only when the names are not all numbered alike)."""
    if len({_NUMBER.sub("#", prefix) for prefix in prefixes}) == 1:
        return
    for i, j in itertools.combinations(range(len(weights)), 2):
        swapped = weights.copy()
        swapped[i], swapped[j] = weights[j], weights[i]
        if all(a.shape[0] == b.shape[1] for a, b in itertools.pairwise(swapped)):
            raise ModelFormatError(
                f"cannot tell whether layer {prefixes[i]!r} or {prefixes[j]!r} comes first "
                "(name them with layer numbers, e.g. '0.weight' and '2.weight')"
            )


def network_from_state(state: Mapping[str, np.ndarray], activation: Activation) -> Network:
    """The network of the linear layers of ``state``, σ between them (missing biases are 0)."""
    prefixes = _ordered_prefixes(state)
    _refuse_leftovers(state, prefixes)
    if len(prefixes) < 2:
        raise layer_count_error(len(prefixes))
    weights = [state[_key(prefix, "weight")] for prefix in prefixes]
    _refuse_ambiguous_order(prefixes, weights)
    biases = [state.get(_key(prefix, "bias")) for prefix in prefixes]
    return network_from_layers(weights, biases, activation)


def state_of(net: Network) -> dict[str, np.ndarray]:
    """The state-dict keys of ``Sequential(Linear, activation, Linear, …)`` for ``net``: layer l
    is module 2(l − 1)."""
    state = {}
    for index, (W, b) in enumerate(zip(*linear_layers(net), strict=True)):
        state[f"{2 * index}.weight"], state[f"{2 * index}.bias"] = W, b
    return state
