"""PyTorch files: a state dict from ``torch.save(model.state_dict(), path)``.

Read with ``torch.load(weights_only=True)``, which unpickles tensors and containers only.  A whole
pickled module (``torch.save(model, path)``) needs ``weights_only=False``, which runs code from
the file, so it is read only on explicit trust.  A state dict stores no activation, so one must
be named; it keeps the order in which the module registered its layers.
"""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from .. import Network
from .base import Format, LoadOptions, settle_activation
from .errors import ModelFormatError, library_errors, one_line
from .layers import network_from_state, state_of
from .torch_module import from_module, tensor_to_array

__all__ = ["PYTORCH"]

_UNREADABLE = "not a readable PyTorch file"
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


class _PickledObjectError(ModelFormatError):
    """The file needs ``weights_only=False``: it pickles more than tensors and containers."""


def _pickled_object_error(message: str) -> _PickledObjectError:
    found = _GLOBAL.search(message)
    what = f" ({found.group(1)})" if found else ""
    return _PickledObjectError(
        f"contains a pickled Python object{what}, not plain weights; pass --trust-pickle to "
        "load it (this executes code from the file)"
    )


def _read_weights_only(path: Path) -> object:
    """torch.load without code execution; raises on anything beyond tensors and containers."""
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as error:
        message = str(error)
        if "Unsupported global" in message:
            raise _pickled_object_error(message) from error
        _, _, detail = message.partition("WeightsUnpickler error:")
        raise ModelFormatError(f"{_UNREADABLE}: {one_line(detail) or one_line(message)}") from error


def _read(path: Path, trust_pickle: bool) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with library_errors(_UNREADABLE):
                return _read_weights_only(path)
        except _PickledObjectError:
            if not trust_pickle:
                raise
        with library_errors("cannot unpickle the file"):
            return torch.load(path, weights_only=False, map_location="cpu")


def load(path: Path, options: LoadOptions) -> Network:
    """The network in a state dict (or, with ``trust_pickle``, in a pickled Sequential)."""
    content = _read(path, options.trust_pickle)
    if isinstance(content, nn.Module):
        net = from_module(content, options.assume_chain)
        settle_activation(options.activation, net.activation)
        return net
    if not isinstance(content, Mapping):
        raise ModelFormatError(f"holds a {type(content).__name__}, not a state dict of tensors")
    arrays = {str(key): tensor_to_array(value, str(key)) for key, value in content.items()}
    activation = settle_activation(options.activation, None)
    return network_from_state(arrays, activation, key_order=True)


def save(net: Network, path: Path) -> None:
    """``torch.save`` of the state dict of ``Sequential(Linear, activation, Linear, …)``."""
    torch.save({key: torch.tensor(array) for key, array in state_of(net).items()}, path)


PYTORCH = Format(
    name="PyTorch",
    suffixes=(".pt", ".pth"),
    kinds=frozenset({"torch", "pickle", "zip"}),
    load=load,
    save=save,
)
