"""Linear layers from flat ``name -> array`` maps: PyTorch state dicts and safetensors files.

Keys follow ``torch.nn.Module.state_dict``: ``"<prefix>.weight"`` (out×in) with an optional
``"<prefix>.bias"``.  Layers are ordered by their prefix, read naturally (``"10" > "2"``,
``"fc10" > "fc2"``); any other tensor (batch norm, convolution, ...) is refused, never ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from ..activations import Activation
from ..network import TwoLayerNetwork
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


def _refuse_ambiguous_order(first: str, second: str, W: np.ndarray, A: np.ndarray) -> None:
    """Names like ``hidden``/``output`` carry no order; refuse when both orders fit the shapes."""
    same_pattern = _NUMBER.sub("#", first) == _NUMBER.sub("#", second)
    if not same_pattern and W.shape[1] == A.shape[0] and W.shape[0] == A.shape[1]:
        raise ModelFormatError(
            f"cannot tell whether layer {first!r} or {second!r} comes first "
            "(name them with layer numbers, e.g. '0.weight' and '2.weight')"
        )


def network_from_state(
    state: Mapping[str, np.ndarray], activation: Activation
) -> TwoLayerNetwork:
    """f(x) = A·σ(W x + b) + c from the two linear layers of ``state`` (missing biases are 0)."""
    prefixes = _ordered_prefixes(state)
    _refuse_leftovers(state, prefixes)
    if len(prefixes) != 2:
        raise layer_count_error(len(prefixes))
    first, second = prefixes
    W, A = state[_key(first, "weight")], state[_key(second, "weight")]
    _refuse_ambiguous_order(first, second, W, A)
    return TwoLayerNetwork.create(
        W, A, b=state.get(_key(first, "bias")), c=state.get(_key(second, "bias")),
        activation=activation,
    )


def state_of(net: TwoLayerNetwork) -> dict[str, np.ndarray]:
    """The state-dict keys of ``Sequential(Linear, activation, Linear)`` for ``net``."""
    return {"0.weight": net.W, "0.bias": net.b, "2.weight": net.A, "2.bias": net.c}
