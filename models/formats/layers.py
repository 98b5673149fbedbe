"""Linear layers from flat ``name -> array`` maps: PyTorch state dicts and safetensors files.

Keys follow ``torch.nn.Module.state_dict``: ``"<prefix>.weight"`` (out×in) with an optional
``"<prefix>.bias"``; any other tensor (batch norm, convolution, ...) is refused, never ignored.

The order of the layers is the one thing such a map does not state outright, and a wrong order
is a different function, so it is established, never guessed:

* layers numbered alike (``0``, ``2``, ``4`` as `torch.nn.Sequential` names them, or ``fc1``,
  ``fc2``, …) run in the order of their numbers;
* otherwise a ``key_order`` that the file keeps (a pickled state dict keeps the order in which
  the module registered its layers) is taken, if no numbering contradicts it;
* otherwise (safetensors files sort their keys) the layers must fit together in exactly one
  order, the chain of shapes n_0 → n_1 → … → n_L;

and in every case the whole chain of shapes must fit.  Anything else is refused in one line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping

import numpy as np

from .. import Network
from ..activations import Activation
from ..deep import linear_layers, network_from_layers
from .errors import ModelFormatError, layer_count_error

__all__ = ["network_from_state", "state_of"]

_NUMBER = re.compile(r"(\d+)")
_LEAVES = ("weight", "bias")
_SEARCH_STEPS = 100_000


def _split(key: str) -> tuple[str, str] | None:
    """``("fc1", "weight")`` for ``"fc1.weight"``, ``("", "bias")`` for a bare ``"bias"``."""
    prefix, _, leaf = key.rpartition(".")
    return (prefix, leaf) if leaf in _LEAVES else None


def _key(prefix: str, leaf: str) -> str:
    return f"{prefix}.{leaf}" if prefix else leaf


def _layer_prefixes(state: Mapping[str, np.ndarray]) -> list[str]:
    """The prefixes of the linear layers in the order of the keys; every key must belong to one
    layer, and every bias needs its weight."""
    prefixes: dict[str, None] = {}
    for key, array in state.items():
        parts = _split(key)
        if parts is None:
            raise ModelFormatError(
                f"unexpected tensor {key!r} of shape {tuple(np.shape(array))} "
                "(only the weights and biases of linear layers are supported)"
            )
        prefixes.setdefault(parts[0])
    for prefix in prefixes:
        weight = _key(prefix, "weight")
        if weight not in state:
            raise ModelFormatError(
                f"bias {_key(prefix, 'bias')!r} has no weight {weight!r} beside it"
            )
        if np.ndim(state[weight]) != 2:
            raise ModelFormatError(
                f"weight {weight!r} has shape {tuple(np.shape(state[weight]))}, expected a "
                "matrix (out × in) of a linear layer"
            )
    return list(prefixes)


def _numbering(prefixes: list[str]) -> list[str] | None:
    """The prefixes in the order of their numbers when all are numbered alike (``0``/``2``,
    ``fc1``/``fc2``, ``net.0``/``net.2``), else None."""
    if len({_NUMBER.sub("#", prefix) for prefix in prefixes}) != 1:
        return None
    if not _NUMBER.search(prefixes[0]):
        return None
    return sorted(prefixes, key=lambda p: [int(n) for n in _NUMBER.findall(p)])


def _fits(prefixes: list[str], shapes: Mapping[str, tuple[int, int]]) -> bool:
    return all(shapes[a][0] == shapes[b][1] for a, b in itertools.pairwise(prefixes))


def _chains(
    shapes: Mapping[str, tuple[int, int]], path: list[str], left: list[str], steps: list[int]
) -> Iterator[list[str]]:
    """Every order of the layers in which each one's input width is the previous output width
    (a depth-first search that gives up after ``_SEARCH_STEPS`` partial orders)."""
    steps[0] += 1
    if steps[0] > _SEARCH_STEPS:
        raise ModelFormatError(
            f"cannot tell the order of the {len(path) + len(left)} layers: the file does not "
            "record it and the search for an order that fits their shapes is too long"
        )
    if not left:
        yield path
        return
    for prefix in left:
        if not path or shapes[path[-1]][0] == shapes[prefix][1]:
            rest = [other for other in left if other != prefix]
            yield from _chains(shapes, [*path, prefix], rest, steps)


def _chain_of_shapes(prefixes: list[str], shapes: Mapping[str, tuple[int, int]]) -> list[str]:
    """The one order in which the layers fit together; refused when none or several do."""
    found = []
    for chain in _chains(shapes, [], prefixes, [0]):
        found.append(chain)
        if len(found) == 2:
            raise ModelFormatError(
                f"cannot tell the order of layers {', '.join(map(repr, prefixes))}: the file "
                "does not record it and more than one order fits their shapes (number them "
                "'0.weight', '2.weight', … as torch.nn.Sequential does, or save the state dict "
                "with torch.save, which keeps the order)"
            )
    if not found:
        raise ModelFormatError(
            f"layers {', '.join(map(repr, prefixes))} do not fit together in any order "
            f"(shapes out×in: {', '.join(f'{shapes[p][0]}×{shapes[p][1]}' for p in prefixes)})"
        )
    return found[0]


def _shape_error(order: list[str], shapes: Mapping[str, tuple[int, int]]) -> ModelFormatError:
    for a, b in itertools.pairwise(order):
        if shapes[a][0] != shapes[b][1]:
            return ModelFormatError(
                f"layer {b!r} takes {shapes[b][1]} inputs but layer {a!r} before it gives "
                f"{shapes[a][0]} outputs"
            )
    raise AssertionError("the chain fits")


def _layer_order(
    prefixes: list[str], shapes: Mapping[str, tuple[int, int]], key_order: bool
) -> list[str]:
    numbered = _numbering(prefixes)
    if numbered is not None:
        if key_order and numbered != prefixes:
            raise ModelFormatError(
                f"the layers are stored in the order {', '.join(map(repr, prefixes))} but "
                f"numbered {', '.join(map(repr, numbered))}: cannot tell which order the "
                "network applies them in"
            )
        order = numbered
    elif key_order:
        order = prefixes
    else:
        return _chain_of_shapes(prefixes, shapes)
    if not _fits(order, shapes):
        raise _shape_error(order, shapes)
    return order


def network_from_state(
    state: Mapping[str, np.ndarray], activation: Activation, key_order: bool
) -> Network:
    """The network of the linear layers of ``state`` with σ between them (missing biases are 0).

    ``key_order`` says whether the order of the keys of ``state`` is the order in which the
    layers were registered (true of pickled state dicts, false of safetensors files).
    """
    prefixes = _layer_prefixes(state)
    if len(prefixes) < 2:
        raise layer_count_error(len(prefixes))
    shapes = {prefix: np.shape(state[_key(prefix, "weight")]) for prefix in prefixes}
    order = _layer_order(prefixes, shapes, key_order)
    weights = [state[_key(prefix, "weight")] for prefix in order]
    biases = [state.get(_key(prefix, "bias")) for prefix in order]
    return network_from_layers(weights, biases, activation)


def state_of(net: Network) -> dict[str, np.ndarray]:
    """The state-dict keys of ``Sequential(Linear, activation, Linear, …)`` for ``net``: layer l
    is module 2(l − 1)."""
    state = {}
    for index, (W, b) in enumerate(zip(*linear_layers(net), strict=True)):
        state[f"{2 * index}.weight"], state[f"{2 * index}.bias"] = W, b
    return state
