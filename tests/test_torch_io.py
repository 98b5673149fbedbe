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
        (
            nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1)),
            "different activations between layers ('relu' and 'tanh')",
        ),
        (nn.Sequential(nn.Linear(2, 3), nn.ReLU()), "not supported yet: 1 linear layer "),
        (
            nn.Sequential(nn.Conv1d(1, 1, 3), nn.ReLU(), nn.Linear(3, 1)),
            "unsupported layer 0: Conv1d",
        ),
        (
            nn.Sequential(nn.Linear(2, 3), nn.Dropout(), nn.Linear(3, 1)),
            "expected Linear, activation, Linear, …, Linear; got Linear, Linear",
        ),
        (
            nn.Sequential(
                nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.ReLU(), nn.BatchNorm1d(3)
            ),
            "layer 4: BatchNorm1d after the last linear layer's activation cannot be folded",
        ),
        (
            nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(3, 1)),
            "layer 1: BatchNorm1d has 4 features next to a linear layer of width 3",
        ),
        (
            nn.Sequential(
                nn.Linear(2, 3),
                nn.ReLU(),
                nn.BatchNorm1d(3, track_running_stats=False),
                nn.Linear(3, 1),
            ),
            "normalises by the statistics of each batch",
        ),
        (
            nn.Sequential(nn.Flatten(0), nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)),
            "only Flatten(start_dim=1, end_dim=-1)",
        ),
        (
            nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.LayerNorm(3), nn.Linear(3, 1)),
            "unsupported layer 2: LayerNorm",
        ),
        (
            nn.Sequential(nn.Linear(2, 3), nn.GELU(approximate="tanh"), nn.Linear(3, 1)),
            "approximate='tanh'",
        ),
        (
            nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1), nn.ReLU()),
            "expected Linear, activation, Linear",
        ),
        (
            nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Tanh(), nn.Linear(3, 1)),
            "expected Linear, activation, Linear",
        ),
        (nn.Linear(2, 3), "not supported yet: 1 linear layer"),
        (nn.ReLU(), "no linear layer found"),
        (
            nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(float("nan")), nn.Linear(3, 1)),
            "must be finite",
        ),
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


# --- what a PyTorch user's MLP contains; exact types only -------------------------------------


class ScaledReLU(nn.ReLU):
    """A subclass whose forward computes another function than its base class."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 3 * torch.relu(x)


def _unit_chain(activation: nn.Module) -> nn.Sequential:
    module = nn.Sequential(nn.Linear(1, 1), activation, nn.Linear(1, 1))
    with torch.no_grad():
        for layer in (module[0], module[2]):
            layer.weight.fill_(1.0)
            layer.bias.zero_()
    return module


def test_a_subclass_of_a_known_layer_is_refused() -> None:
    """Regression: ScaledReLU was read as ReLU and certified [1, 1] while f(2) − f(1) = 3."""
    with pytest.raises(ModelFormatError) as error:
        from_module(_unit_chain(ScaledReLU()))
    assert "layer 1: ScaledReLU is not one of torch's layer types" in _message(error)


def _with_statistics(norm: nn.BatchNorm1d, seed: int) -> nn.BatchNorm1d:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        norm.running_mean.copy_(torch.randn(norm.num_features, generator=generator))
        norm.running_var.copy_(torch.rand(norm.num_features, generator=generator) + 0.2)
        if norm.affine:
            norm.weight.copy_(torch.randn(norm.num_features, generator=generator))
            norm.bias.copy_(torch.randn(norm.num_features, generator=generator))
    return norm


def _everyday_mlp() -> nn.Sequential:
    torch.manual_seed(4)
    return nn.Sequential(
        nn.Flatten(),
        nn.BatchNorm1d(D),
        nn.Linear(D, K),
        _with_statistics(nn.BatchNorm1d(K), 1),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Sequential(_with_statistics(nn.BatchNorm1d(K, affine=False), 2), nn.Linear(K, 5)),
        nn.Identity(),
        nn.ReLU(),
        nn.Linear(5, M),
    )


def test_flatten_dropout_identity_batch_norm_and_nesting_are_folded() -> None:
    module = _everyday_mlp()
    _with_statistics(module[1], 3)
    net = from_module(module)
    assert (net.d, net.widths, net.m) == (D, (K, 5), M)
    module.eval()
    x = _inputs()
    np.testing.assert_allclose(net(x), _torch_forward(module.double(), x), rtol=1e-12, atol=1e-12)


def test_a_module_is_read_in_evaluation_mode_and_left_unchanged() -> None:
    module = _everyday_mlp().train()
    before = {key: value.clone() for key, value in module.state_dict().items()}
    from_module(module)
    assert module.training
    for key, value in module.state_dict().items():
        assert torch.equal(value, before[key]), key


class Wrapper(nn.Module):
    """The usual user class: a Sequential inside, a forward that calls it."""

    def __init__(self, forward_twice: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(D, K), nn.Tanh(), nn.Linear(K, M))
        self.forward_twice = forward_twice

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) * (2 if self.forward_twice else 1)


def test_a_custom_forward_needs_assume_chain_and_is_checked() -> None:
    with pytest.raises(ModelFormatError) as error:
        from_module(Wrapper())
    assert "Wrapper defines its own forward()" in _message(error)
    assert "--assume-chain" in _message(error)
    module = Wrapper()
    x = _inputs()
    np.testing.assert_allclose(
        from_module(module, assume_chain=True)(x),
        _torch_forward(module.double(), x),
        rtol=1e-12,
        atol=1e-12,
    )
    with pytest.raises(ModelFormatError) as error:
        from_module(Wrapper(forward_twice=True), assume_chain=True)
    assert "does not compute the chain of its layers" in _message(error)


def test_hooks_and_instance_forwards_are_refused() -> None:
    hooked = _unit_chain(nn.ReLU())
    hooked[0].register_forward_hook(lambda layer, inputs, output: 3 * output)
    patched = _unit_chain(nn.ReLU())
    patched[1].forward = lambda x: 3 * torch.relu(x)
    for module in (hooked, patched):
        with pytest.raises(ModelFormatError) as error:
            from_module(module)
        assert "has a hook or its own forward attached" in _message(error)
    handle = nn.modules.module.register_module_forward_hook(lambda layer, inputs, output: output)
    try:
        with pytest.raises(ModelFormatError) as error:
            from_module(_unit_chain(nn.ReLU()))
        assert "global forward hooks" in _message(error)
    finally:
        handle.remove()


def test_an_activation_module_used_twice_counts_twice() -> None:
    """Regression: named_children() yields a reused module once, dropping the second ReLU."""
    relu = nn.ReLU()
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(D, K), relu, nn.Linear(K, K), relu, nn.Linear(K, M))
    net = from_module(module)
    assert net.widths == (K, K)
    x = _inputs()
    np.testing.assert_allclose(net(x), _torch_forward(module.double(), x), rtol=1e-12, atol=1e-12)
