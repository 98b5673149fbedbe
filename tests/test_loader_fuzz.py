"""Fuzz: random valid networks written in every format, with random layer names and orders, must
load as the same function (outputs at random points agree to rounding) or be refused because
the file cannot establish the layer order; never load as another function."""

from __future__ import annotations

import itertools
import string
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file
from torch import nn

from models import get_activation
from models.deep import network_from_layers
from models.formats import ModelFormatError, load_model, save_model
from models.torch_io import activation_module, from_module

ACTIVATIONS = ("relu", "leaky_relu(0.2)", "tanh", "sigmoid", "gelu", "elu(0.5)", "softplus")
WRITTEN = (".npz", ".mat", ".onnx", ".safetensors", ".pt")
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def layer_stacks(draw: st.DrawFn) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    """Widths n_0 … n_L (L = 2 … 4, small so that layer shapes often repeat), weights, biases."""
    depth = draw(st.integers(2, 4))
    widths = draw(st.lists(st.integers(1, 4), min_size=depth + 1, max_size=depth + 1))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(widths[i + 1], widths[i])) for i in range(depth)]
    biases = [rng.normal(size=widths[i + 1]) for i in range(depth)]
    return weights, biases, draw(st.sampled_from(ACTIVATIONS))


def _agree(net: object, reference: object, d: int) -> None:
    x = np.random.default_rng(7).normal(size=(40, d)) * 3
    np.testing.assert_allclose(net(x), reference(x), rtol=1e-9, atol=1e-9)


def _orders_that_fit(shapes: list[tuple[int, int]]) -> int:
    """How many orders of the layers chain their shapes (brute force: the oracle of the test)."""
    return sum(
        all(shapes[a][0] == shapes[b][1] for a, b in itertools.pairwise(order))
        for order in itertools.permutations(range(len(shapes)))
    )


names = st.text(string.ascii_lowercase, min_size=1, max_size=6)


@FUZZ
@given(stack=layer_stacks(), suffix=st.sampled_from(WRITTEN))
def test_every_writer_round_trips_the_function(tmp_path: Path, stack, suffix: str) -> None:
    weights, biases, activation = stack
    net = network_from_layers(weights, biases, activation)
    path = tmp_path / f"net{suffix}"
    try:
        save_model(net, path)
    except ModelFormatError as error:
        assert suffix == ".onnx" and "no exact ONNX operator" in str(error)
        return
    loaded = load_model(path, activation=activation if suffix == ".pt" else None)
    assert loaded.activation == get_activation(activation)
    _agree(loaded, net, net.d)


@FUZZ
@given(
    stack=layer_stacks(),
    layer_names=st.lists(names, min_size=4, max_size=4, unique=True),
    numbered=st.booleans(),
    suffix=st.sampled_from((".pt", ".safetensors")),
)
def test_state_dicts_with_any_names(tmp_path: Path, stack, layer_names, numbered, suffix) -> None:
    """Names are numbered (``layers.0``, ``layers.2``) or arbitrary words, in a random order."""
    weights, biases, activation = stack
    net = network_from_layers(weights, biases, activation)
    prefixes = (
        [f"layers.{2 * i}" for i in range(len(weights))]
        if numbered
        else layer_names[: len(weights)]
    )
    state = OrderedDict()
    for prefix, W, b in zip(prefixes, weights, biases, strict=False):
        state[f"{prefix}.weight"], state[f"{prefix}.bias"] = W, b
    path = tmp_path / f"net{suffix}"
    if suffix == ".pt":
        torch.save({key: torch.tensor(value) for key, value in state.items()}, path)
    else:
        save_file(dict(state), path)
    ambiguous = (
        not numbered
        and suffix == ".safetensors"
        and _orders_that_fit([W.shape for W in weights]) > 1
    )
    if ambiguous:
        with pytest.raises(ModelFormatError, match="cannot tell the order of layers"):
            load_model(path, activation=activation)
        return
    _agree(load_model(path, activation=activation), net, net.d)


def _extras(draw: st.DrawFn, width: int) -> list[nn.Module]:
    """Layers that change nothing in evaluation mode, or a batch norm (folded on reading)."""
    kinds = draw(st.lists(st.sampled_from(("dropout", "identity", "norm")), max_size=2))
    layers: list[nn.Module] = []
    for kind in kinds:
        if kind == "dropout":
            layers.append(nn.Dropout(0.5))
        elif kind == "identity":
            layers.append(nn.Identity())
        else:
            norm = nn.BatchNorm1d(width, dtype=torch.float64)
            with torch.no_grad():
                norm.running_mean.normal_()
                norm.running_var.uniform_(0.3, 2.0)
                norm.weight.normal_()
                norm.bias.normal_()
            layers.append(norm)
    return layers


@st.composite
def torch_mlps(draw: st.DrawFn) -> nn.Module:
    """Sequential MLPs as users write them: Flatten first, extras after each linear layer and
    activation, and random nesting."""
    weights, biases, activation = draw(layer_stacks())
    layers: list[nn.Module] = [nn.Flatten()] if draw(st.booleans()) else []
    for index, (W, b) in enumerate(zip(weights, biases, strict=True)):
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(W))
            linear.bias.copy_(torch.tensor(b))
        layers.append(linear)
        if index < len(weights) - 1:
            layers.extend(_extras(draw, W.shape[0]))
            layers.append(activation_module(get_activation(activation)))
            layers.extend(_extras(draw, W.shape[0]))
    cut = draw(st.integers(0, len(layers)))
    if draw(st.booleans()):
        return nn.Sequential(*layers[:cut], nn.Sequential(*layers[cut:]))
    return nn.Sequential(*layers)


def _module_function(module: nn.Module):
    module.eval()

    def evaluate(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.tensor(x)).numpy()

    return evaluate


@FUZZ
@given(module=torch_mlps(), pickled=st.booleans())
def test_torch_modules_through_memory_and_pickle(tmp_path: Path, module, pickled) -> None:
    if pickled:
        path = tmp_path / "module.pt"
        torch.save(module, path)
        net = load_model(path, trust_pickle=True)
    else:
        net = from_module(module)
    _agree(net, _module_function(module), net.d)
