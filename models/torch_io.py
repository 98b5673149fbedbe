"""Conversion between ``torch.nn.Sequential(Linear, activation, Linear, …)`` and the neutral
networks: `TwoLayerNetwork` for two linear layers, `DeepNetwork` for more, with the same
activation between every two consecutive linear layers.

Only modules whose forward pass is fully determined by their type are accepted, so the
network read here is exactly the function that torch computes (up to floating point).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import Network
from .activations import Activation
from .deep import linear_layers, network_from_layers
from .formats.base import activation_text, one_activation
from .formats.errors import ModelFormatError, layer_count_error, library_errors
from .network import NetworkError

__all__ = ["activation_module", "from_module", "tensor_to_array", "to_module"]

# torch's Softplus is linear above ``threshold`` (in β·u); its default 20 suits float32, while
# at 40 the float64 result equals the exact softplus to within rounding.
_SOFTPLUS_THRESHOLD = 40.0


def tensor_to_array(tensor: object, name: str) -> np.ndarray:
    """A float64 numpy copy of a real tensor; anything else is a `ModelFormatError`."""
    if not isinstance(tensor, torch.Tensor):
        raise ModelFormatError(f"entry {name!r} is of type {type(tensor).__name__}, not a tensor")
    if tensor.is_complex():
        raise ModelFormatError(f"tensor {name!r} is complex")
    with library_errors(f"cannot convert tensor {name!r}"):
        return tensor.detach().to(device="cpu", dtype=torch.float64).numpy().copy()


def _activation_spec(layer: nn.Module) -> str | None:
    """The `get_activation` spec of an activation module, None if ``layer`` is not one."""
    if isinstance(layer, nn.LeakyReLU):
        return f"leaky_relu({float(layer.negative_slope)!r})"
    if isinstance(layer, nn.Softplus):
        return f"softplus({float(layer.beta)!r})"
    if isinstance(layer, nn.ELU):
        return f"elu({float(layer.alpha)!r})"
    if isinstance(layer, nn.GELU):
        if layer.approximate != "none":
            raise ModelFormatError(
                f"GELU(approximate={layer.approximate!r}) is not supported "
                "(only the exact erf form, approximate='none')"
            )
        return "gelu"
    plain = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}
    return next((spec for kind, spec in plain.items() if isinstance(layer, kind)), None)


def _layer_kinds(layers: list[nn.Module]) -> list[str]:
    """``"linear"`` or an activation spec per layer; any other layer type is refused."""
    kinds = []
    for index, layer in enumerate(layers):
        spec = "linear" if isinstance(layer, nn.Linear) else _activation_spec(layer)
        if spec is None:
            raise ModelFormatError(f"unsupported layer {index}: {type(layer).__name__}")
        kinds.append(spec)
    return kinds


def _alternation_error(layers: list[nn.Module]) -> ModelFormatError:
    names = ", ".join(type(layer).__name__ for layer in layers)
    return ModelFormatError(f"expected Linear, activation, Linear, …, Linear; got {names}")


def from_module(module: nn.Module) -> Network:
    """Read ``Sequential(Linear, activation, Linear, …, Linear)`` (biases optional) as a float64
    network: a `TwoLayerNetwork` for two linear layers, a `DeepNetwork` for more."""
    if not isinstance(module, nn.Sequential):
        raise ModelFormatError(
            "expected torch.nn.Sequential(Linear, activation, Linear, …), "
            f"got {type(module).__name__}"
        )
    layers = list(module)
    kinds = _layer_kinds(layers)
    count = kinds.count("linear")
    if count < 2:
        raise layer_count_error(count)
    if len(kinds) != 2 * count - 1 or any((kind == "linear") != (i % 2 == 0)
                                          for i, kind in enumerate(kinds)):
        raise _alternation_error(layers)
    linear = layers[::2]
    weights = [tensor_to_array(layer.weight, f"{2 * i}.weight") for i, layer in enumerate(linear)]
    biases = [
        None if layer.bias is None else tensor_to_array(layer.bias, f"{2 * i}.bias")
        for i, layer in enumerate(linear)
    ]
    try:
        return network_from_layers(weights, biases, one_activation(kinds[1::2]))
    except NetworkError as error:
        raise ModelFormatError(str(error)) from error


def activation_module(activation: Activation) -> nn.Module:
    """The torch module computing ``activation`` in float64."""
    parameter = 1.0 if activation.parameter is None else activation.parameter
    factories = {
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(parameter),
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "softplus": lambda: nn.Softplus(beta=parameter, threshold=_SOFTPLUS_THRESHOLD),
        "elu": lambda: nn.ELU(alpha=parameter),
        "gelu": nn.GELU,
    }
    if activation.name not in factories:
        raise ModelFormatError(
            f"activation {activation_text(activation)!r} has no torch module"
        )
    return factories[activation.name]()


def _linear(weight: np.ndarray, bias: np.ndarray) -> nn.Linear:
    out_features, in_features = weight.shape
    layer = nn.Linear(in_features, out_features, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))
    return layer


def to_module(net: Network) -> nn.Sequential:
    """``Sequential(Linear, activation, Linear, …)`` with float64 parameters computing ``net``."""
    modules: list[nn.Module] = []
    for W, b in zip(*linear_layers(net), strict=True):
        if modules:
            modules.append(activation_module(net.activation))
        modules.append(_linear(W, b))
    return nn.Sequential(*modules)
