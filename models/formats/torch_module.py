"""Reading a ``torch.nn.Module`` as a neutral network, and writing one.

A module is read in evaluation mode (``model.eval()``): `nn.Dropout` is the identity there and
`nn.BatchNorm1d` the affine map of its running statistics, BN(z) = γ ⊙ (z − μ)/√(σ² + ε) + β,
which is folded into the adjacent linear layer (Ioffe & Szegedy, ICML 2015).

Only layers whose forward pass torch itself defines are read, and only by their exact type: a
subclass may compute anything (``class ScaledReLU(nn.ReLU)`` whose forward returns 3·relu(x)),
so it is refused, as is any layer with a hook or an instance-level ``forward``.  A module with
a forward of its own is read as the chain of its layers only when the caller vouches for it
(``assume_chain``).  Either way the network read is evaluated against the module at random
points, and refused if the two disagree.

Softplus: torch returns x once β·x exceeds ``threshold``, an approximation of the exact
softplus (within e^(−threshold)/β) that is read, and certified, as the exact softplus.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.modules import module as torch_module_internals

from .. import Network
from ..activations import Activation
from ..deep import linear_layers, network_from_layers
from ..network import NetworkError
from .base import activation_text, one_activation
from .errors import ModelFormatError, layer_count_error, library_errors

__all__ = ["activation_module", "from_module", "tensor_to_array", "to_module"]

# torch's Softplus is linear above ``threshold`` (in β·u); its default 20 suits float32, while
# at 40 the float64 result equals the exact softplus to within rounding.
_SOFTPLUS_THRESHOLD = 40.0
_CHECK_POINTS = 32
_CHECK_TOLERANCE = 1e-6


def tensor_to_array(tensor: object, name: str) -> np.ndarray:
    """A float64 numpy copy of a real tensor; anything else is a `ModelFormatError`."""
    if not isinstance(tensor, torch.Tensor):
        raise ModelFormatError(f"entry {name!r} is of type {type(tensor).__name__}, not a tensor")
    if tensor.is_complex():
        raise ModelFormatError(f"tensor {name!r} is complex")
    with library_errors(f"cannot convert tensor {name!r}"):
        return tensor.detach().to(device="cpu", dtype=torch.float64).numpy().copy()


def _gelu(layer: nn.GELU) -> str:
    if layer.approximate != "none":
        raise ModelFormatError(
            f"GELU(approximate={layer.approximate!r}) is not supported "
            "(only the exact erf form, approximate='none')"
        )
    return "gelu"


#: The activation layers read, by exact type, with the `get_activation` spec of each.
_ACTIVATIONS: dict[type[nn.Module], Callable[[nn.Module], str]] = {
    nn.ReLU: lambda layer: "relu",
    nn.Tanh: lambda layer: "tanh",
    nn.Sigmoid: lambda layer: "sigmoid",
    nn.LeakyReLU: lambda layer: f"leaky_relu({float(layer.negative_slope)!r})",
    nn.Softplus: lambda layer: f"softplus({float(layer.beta)!r})",
    nn.ELU: lambda layer: f"elu({float(layer.alpha)!r})",
    nn.GELU: _gelu,
}
#: Layers that are the identity on a batch of vectors in evaluation mode.
_IDENTITIES = (nn.Identity, nn.Dropout)


@dataclass(frozen=True)
class _Affine:
    """x ↦ W x + b, from a linear layer."""

    W: np.ndarray
    b: np.ndarray


@dataclass(frozen=True)
class _Activation:
    """σ applied elementwise: its `get_activation` spec and the torch class it was read from."""

    spec: str
    layer: str


@dataclass(frozen=True)
class _Scale:
    """x ↦ s ⊙ x + t, from a batch norm in evaluation mode."""

    s: np.ndarray
    t: np.ndarray
    name: str


def _flatten_layer(layer: nn.Flatten, name: str) -> None:
    if (layer.start_dim, layer.end_dim) != (1, -1):
        raise ModelFormatError(
            f"layer {name}: only Flatten(start_dim=1, end_dim=-1) is supported, got "
            f"start_dim={layer.start_dim}, end_dim={layer.end_dim}"
        )


def _batch_norm(layer: nn.BatchNorm1d, name: str) -> _Scale:
    """s = γ/√(σ² + ε), t = β − s·μ: the evaluation-mode map of the running statistics."""
    if layer.running_mean is None or layer.running_var is None:
        raise ModelFormatError(
            f"layer {name}: BatchNorm1d(track_running_stats=False) normalises by the statistics "
            "of each batch, so it is no fixed function of its input"
        )
    mean = tensor_to_array(layer.running_mean, f"{name}.running_mean")
    variance = tensor_to_array(layer.running_var, f"{name}.running_var")
    features = mean.shape[0]
    gamma = tensor_to_array(layer.weight, f"{name}.weight") if layer.affine else np.ones(features)
    beta = tensor_to_array(layer.bias, f"{name}.bias") if layer.affine else np.zeros(features)
    with np.errstate(all="ignore"):
        s = gamma / np.sqrt(variance + float(layer.eps))
        t = beta - s * mean
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(t))):
        raise ModelFormatError(f"layer {name}: BatchNorm1d gives a non-finite scale or shift")
    return _Scale(s, t, name)


def _linear(layer: nn.Linear, name: str) -> _Affine:
    W = tensor_to_array(layer.weight, f"{name}.weight")
    b = np.zeros(W.shape[0]) if layer.bias is None else tensor_to_array(layer.bias, f"{name}.bias")
    return _Affine(W, b)


def _refuse_hooks(layer: nn.Module, name: str) -> None:
    hooks = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks")
    if any(getattr(layer, hook, None) for hook in hooks) or "forward" in vars(layer):
        raise ModelFormatError(
            f"layer {name} ({type(layer).__name__}) has a hook or its own forward attached, "
            "so it may not compute what its type says"
        )


def _is_layer(kind: type[nn.Module]) -> bool:
    """True for the torch layer types that are read (by exact type, never a subclass)."""
    return (
        kind in (nn.Linear, nn.Flatten, nn.BatchNorm1d)
        or kind in _ACTIVATIONS
        or (kind in _IDENTITIES)
    )


def _children(module: nn.Module, name: str, assume_chain: bool) -> Iterator[tuple[str, nn.Module]]:
    """The sub-modules of a container in the order its forward applies them."""
    kind = type(module)
    where = f"layer {name}: " if name else ""
    if kind is not nn.Sequential and kind.__module__.split(".")[0] == "torch":
        raise ModelFormatError(f"unsupported {where or 'layer: '}{kind.__name__}")
    if kind is not nn.Sequential and not list(module.children()):
        raise ModelFormatError(
            f"{where}{kind.__name__} is not one of torch's layer types (they are read by exact "
            "type: a subclass may compute anything)"
        )
    if kind is not nn.Sequential and not assume_chain:
        raise ModelFormatError(
            f"{where}{kind.__name__} defines its own forward(): its layers are read as a plain "
            "chain only if you confirm that forward applies them in order (--assume-chain, "
            "assume_chain=True in Python)"
        )
    # Not named_children(), which yields a module reused in two places only once.
    return iter(module._modules.items())


def _leaves(module: nn.Module, name: str, assume_chain: bool) -> Iterator[tuple[str, nn.Module]]:
    """The layers of ``module`` in the order its forward applies them."""
    _refuse_hooks(module, name or "the model")
    if _is_layer(type(module)):
        yield name, module
        return
    for child_name, child in _children(module, name, assume_chain):
        if child is None:
            continue
        yield from _leaves(child, f"{name}.{child_name}" if name else child_name, assume_chain)


Step = _Affine | _Scale | _Activation


def _steps(module: nn.Module, assume_chain: bool) -> list[Step]:
    """The layers as affine maps, batch-norm scalings and activation specs, identities dropped."""
    steps: list[Step] = []
    for name, layer in _leaves(module, "", assume_chain):
        kind = type(layer)
        if kind is nn.Linear:
            steps.append(_linear(layer, name))
        elif kind is nn.BatchNorm1d:
            steps.append(_batch_norm(layer, name))
        elif kind is nn.Flatten:
            _flatten_layer(layer, name)
        elif kind in _ACTIVATIONS:
            steps.append(_Activation(_ACTIVATIONS[kind](layer), kind.__name__))
    return steps


def _fold(steps: list[Step]) -> list[_Affine | _Activation]:
    """Fold each batch norm into the linear layer just before it (s ⊙ (W x + b) + t) or, after
    an activation or at the input, into the linear layer just after it (W (s ⊙ x + t) + b)."""
    folded: list[_Affine | _Activation] = []
    pending: _Scale | None = None
    for step in steps:
        if isinstance(step, _Scale):
            if pending is None and folded and isinstance(folded[-1], _Affine):
                last = folded.pop()
                if last.W.shape[0] != step.s.shape[0]:
                    raise _width_error(step, last.W.shape[0])
                folded.append(_Affine(step.s[:, None] * last.W, step.s * last.b + step.t))
            elif pending is None:
                pending = step
            else:
                pending = _Scale(step.s * pending.s, step.s * pending.t + step.t, step.name)
        elif isinstance(step, _Affine) and pending is not None:
            if step.W.shape[1] != pending.s.shape[0]:
                raise _width_error(pending, step.W.shape[1])
            folded.append(_Affine(step.W * pending.s[None, :], step.b + step.W @ pending.t))
            pending = None
        else:
            if pending is not None:
                raise ModelFormatError(
                    f"layer {pending.name}: a BatchNorm1d must sit next to a linear layer "
                    "to be folded into it"
                )
            folded.append(step)
    if pending is not None:
        raise ModelFormatError(
            f"layer {pending.name}: BatchNorm1d after the last linear layer's activation "
            "cannot be folded (the network must end with a linear layer)"
        )
    return folded


def _width_error(scale: _Scale, width: int) -> ModelFormatError:
    return ModelFormatError(
        f"layer {scale.name}: BatchNorm1d has {scale.s.shape[0]} features next to a linear "
        f"layer of width {width}"
    )


def _alternation_error(layers: list[_Affine | _Activation]) -> ModelFormatError:
    names = ", ".join("Linear" if isinstance(layer, _Affine) else layer.layer for layer in layers)
    return ModelFormatError(f"expected Linear, activation, Linear, …, Linear; got {names}")


def _network(layers: list[_Affine | _Activation]) -> Network:
    affine = [layer for layer in layers if isinstance(layer, _Affine)]
    if len(affine) < 2:
        raise layer_count_error(len(affine))
    alternates = all(isinstance(layer, _Affine) == (i % 2 == 0) for i, layer in enumerate(layers))
    if len(layers) != 2 * len(affine) - 1 or not alternates:
        raise _alternation_error(layers)
    activation = one_activation([step.spec for step in layers if isinstance(step, _Activation)])
    try:
        return network_from_layers([a.W for a in affine], [a.b for a in affine], activation)
    except NetworkError as error:
        raise ModelFormatError(str(error)) from error


def _global_hooks() -> bool:
    names = ("_global_forward_hooks", "_global_forward_pre_hooks")
    return any(getattr(torch_module_internals, name, None) for name in names)


def _module_outputs(module: nn.Module, x: np.ndarray) -> np.ndarray:
    """``module(x)`` in float64 and evaluation mode, computed on a CPU copy of ``module``."""
    with library_errors(f"cannot evaluate the module on inputs of shape {x.shape}"):
        probe = copy.deepcopy(module).to(device="cpu", dtype=torch.float64).eval()
        for layer in probe.modules():
            if type(layer) is nn.Softplus:
                layer.threshold = _SOFTPLUS_THRESHOLD
        with torch.no_grad():
            return tensor_to_array(probe(torch.tensor(x)), "output").reshape(len(x), -1)


def _refuse_disagreement(module: nn.Module, net: Network) -> None:
    """Evaluate both at random points of several scales; any difference beyond rounding means
    the layers read are not what the module computes."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(_CHECK_POINTS, net.d)) * np.geomspace(0.1, 10.0, _CHECK_POINTS)[:, None]
    expected = _module_outputs(module, x)
    with np.errstate(all="ignore"):
        found = net(x)
    if expected.shape != found.shape:
        raise ModelFormatError(
            f"the module's output has shape {expected.shape[1:]} per point, but its layers give "
            f"{found.shape[1:]}"
        )
    both = np.isfinite(expected) & np.isfinite(found)
    scale = 1.0 + np.max(np.abs(expected[both]), initial=0.0)
    gap = np.max(np.abs(expected[both] - found[both]), initial=0.0)
    if np.any(np.isfinite(expected) != np.isfinite(found)) or gap > _CHECK_TOLERANCE * scale:
        raise ModelFormatError(
            f"the module does not compute the chain of its layers: at random inputs its output "
            f"differs from theirs by up to {gap:.3g}"
        )


def from_module(module: nn.Module, assume_chain: bool = False) -> Network:
    """The float64 network of ``module`` (in evaluation mode): a chain Linear, activation, …,
    Linear inside `nn.Sequential` (nested ones too), with `nn.Flatten`, `nn.Dropout`,
    `nn.Identity` and `nn.BatchNorm1d` folded away; a `TwoLayerNetwork` for two linear layers, a
    `DeepNetwork` for more.

    A module of another class is read as the chain of its layers, in registration order, only
    with ``assume_chain``.  The result is checked against ``module`` at random points.
    """
    if not isinstance(module, nn.Module):
        raise ModelFormatError(f"expected a torch.nn.Module, got {type(module).__name__}")
    if _global_hooks():
        raise ModelFormatError("global forward hooks are registered, which may change any layer")
    net = _network(_fold(_steps(module, assume_chain)))
    _refuse_disagreement(module, net)
    return net


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
        raise ModelFormatError(f"activation {activation_text(activation)!r} has no torch module")
    return factories[activation.name]()


def _linear_module(weight: np.ndarray, bias: np.ndarray) -> nn.Linear:
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
        modules.append(_linear_module(W, b))
    return nn.Sequential(*modules)
