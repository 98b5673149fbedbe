"""safetensors files: state-dict keys (see `layers`), with the activation in the metadata.

The format is a JSON header plus raw little-endian buffers, so reading it runs no code.  Tensors
are read through torch so that half and bfloat16 weights convert too.
"""

from __future__ import annotations

from pathlib import Path

from safetensors import safe_open
from safetensors.numpy import save_file

from .. import Network
from .base import Format, LoadOptions, activation_text, settle_activation
from .errors import library_errors
from .layers import network_from_state, state_of
from .torch_module import tensor_to_array

__all__ = ["SAFETENSORS"]


def load(path: Path, options: LoadOptions) -> Network:
    """The network in ``path``; metadata ``{"activation": ...}`` names σ (else the caller must).

    The file keeps no order of its tensors (safetensors sorts them), so the layer order comes
    from the layer numbers or the shapes (see `layers`).
    """
    with library_errors("not a readable safetensors file"), safe_open(path, framework="pt") as file:
        metadata = file.metadata() or {}
        tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118 (safe_open handles are not iterable)
    arrays = {key: tensor_to_array(tensor, key) for key, tensor in tensors.items()}
    activation = settle_activation(options.activation, metadata.get("activation"))
    return network_from_state(arrays, activation, key_order=False)


def save(net: Network, path: Path) -> None:
    """The state-dict arrays of ``net`` with its activation as metadata."""
    save_file(state_of(net), path, metadata={"activation": activation_text(net.activation)})


SAFETENSORS = Format(
    name="safetensors",
    suffixes=(".safetensors",),
    kinds=frozenset({"safetensors"}),
    load=load,
    save=save,
)
