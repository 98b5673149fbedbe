"""torch.nn.Sequential ↔ TwoLayerNetwork: exact weights, equal forward passes, clear refusals."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from models import TwoLayerNetwork, get_activation
from models.formats import ModelFormatError
from models.torch_io import from_module, to_module

D, K, M = 4, 7, 3

ACTIVATION_MODULES = {
    "relu": nn.ReLU(),
    "leaky_relu(0.01)": nn.LeakyReLU(),
    "leaky_relu(0.23)": nn.LeakyReLU(0.23),
    "tanh": nn.Tanh(),
    "sigmoid": nn.Sigmoid(),
    "softplus": nn.Softplus(),
    "softplus(2.5)": nn.Softplus(beta=2.5),
    "elu": nn.ELU(),
    "elu(0.7)": nn.ELU(alpha=0.7),
    "gelu": nn.GELU(),
}


def _sequential(activation: nn.Module, bias: bool = True) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(D, K, bias=bias), activation, nn.Linear(K, M, bias=bias))


def _inputs(n: int = 64) -> np.ndarray:
    """Inputs whose pre-activations stay below torch's Softplus threshold (β·u < 20)."""
    return np.random.default_rng(1).normal(size=(n, D))


def _torch_forward(module: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.tensor(x)).numpy()


def _message(error: pytest.ExceptionInfo[ModelFormatError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("spec", list(ACTIVATION_MODULES))
def test_forward_matches_torch(spec: str) -> None:
    module = _sequential(ACTIVATION_MODULES[spec]).double()
    net = from_module(module)
    x = _inputs()
    assert net.activation == get_activation(spec)
    np.testing.assert_allclose(net(x), _torch_forward(module, x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spec", list(ACTIVATION_MODULES))
def test_round_trip_through_torch(spec: str) -> None:
    net = from_module(_sequential(ACTIVATION_MODULES[spec]))
    module = to_module(net)
    assert all(parameter.dtype == torch.float64 for parameter in module.parameters())
    back = from_module(module)
    for name in ("W", "b", "A", "c"):
        np.testing.assert_array_equal(getattr(back, name), getattr(net, name))
    assert back.activation == net.activation
    x = _inputs()
    np.testing.assert_allclose(_torch_forward(module, x), net(x), rtol=1e-12, atol=1e-12)


def test_float32_weights_convert_exactly() -> None:
    module = _sequential(nn.ReLU())
    net = from_module(module)
    assert net.W.dtype == np.float64
    np.testing.assert_array_equal(net.W, module[0].weight.detach().numpy().astype(np.float64))
    np.testing.assert_array_equal(net.c, module[2].bias.detach().numpy().astype(np.float64))


def test_linear_without_bias_gives_zero_biases() -> None:
    net = from_module(_sequential(nn.Tanh(), bias=False))
    assert not net.b.any() and not net.c.any()
    assert net.b.shape == (K,) and net.c.shape == (M,)


def test_to_module_of_large_softplus_input_is_exact() -> None:
    net = TwoLayerNetwork.create(np.array([[1.0]]), np.array([[1.0]]), activation="softplus")
    x = np.array([[25.0]])
    np.testing.assert_allclose(_torch_forward(to_module(net), x), net(x), rtol=1e-15)


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1)),
         "different activations between layers ('relu' and 'tanh')"),
        (nn.Sequential(nn.Linear(2, 3), nn.ReLU()), "not supported yet: 1 linear layer "),
        (nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1)),
         "unsupported layer 1: BatchNorm1d"),
        (nn.Sequential(nn.Conv1d(1, 1, 3), nn.ReLU(), nn.Linear(3, 1)),
         "unsupported layer 0: Conv1d"),
        (nn.Sequential(nn.Linear(2, 3), nn.Dropout(), nn.Linear(3, 1)),
         "unsupported layer 1: Dropout"),
        (nn.Sequential(nn.Linear(2, 3), nn.GELU(approximate="tanh"), nn.Linear(3, 1)),
         "approximate='tanh'"),
        (nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1), nn.ReLU()),
         "expected Linear, activation, Linear"),
        (nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Tanh(), nn.Linear(3, 1)),
         "expected Linear, activation, Linear"),
        (nn.Linear(2, 3), "expected torch.nn.Sequential"),
        (nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(float("nan")), nn.Linear(3, 1)),
         "must be finite"),
    ],
)
def test_unsupported_modules_are_refused(module: nn.Module, expected: str) -> None:
    with pytest.raises(ModelFormatError) as error:
        from_module(module)
    assert expected in _message(error)


def test_non_finite_weights_are_refused() -> None:
    module = _sequential(nn.ReLU())
    with torch.no_grad():
        module[2].weight[0, 0] = float("inf")
    with pytest.raises(ModelFormatError) as error:
        from_module(module)
    assert "NaN or Inf" in _message(error)


def test_activation_without_torch_module_is_refused() -> None:
    net = TwoLayerNetwork.create(np.eye(2), np.eye(2), activation="square")
    with pytest.raises(ModelFormatError) as error:
        to_module(net)
    assert "'square' has no torch module" in _message(error)


def test_importable_before_formats() -> None:
    """torch_io and models.formats import each other; a fresh import of torch_io must work."""
    subprocess.run([sys.executable, "-c", "import models.torch_io"], check=True)
