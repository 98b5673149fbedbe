"""Training to interpolation: batch-norm folding is exact, bias-free nets have b = c = 0, and the
interpolation flag describes the returned float64 network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from models.data import generic_data
from models.torch_io import from_module
from models.train import fits_labels, fold_batch_norm, train_two_layer


def _random_batch_norm_net(d: int, k: int, seed: int) -> nn.Sequential:
    """Linear → BatchNorm1d → ReLU → Linear with random weights and running statistics."""
    torch.manual_seed(seed)
    norm = nn.BatchNorm1d(k, dtype=torch.float64, eps=1e-3)
    with torch.no_grad():
        norm.running_mean.copy_(torch.randn(k, dtype=torch.float64))
        norm.running_var.copy_(torch.rand(k, dtype=torch.float64) * 3 + 0.01)
        norm.weight.copy_(torch.randn(k, dtype=torch.float64))
        norm.bias.copy_(torch.randn(k, dtype=torch.float64))
    return nn.Sequential(
        nn.Linear(d, k, dtype=torch.float64), norm, nn.ReLU(), nn.Linear(k, 2, dtype=torch.float64)
    ).eval()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_folded_network_equals_the_batch_norm_network_in_eval_mode(seed: int) -> None:
    module = _random_batch_norm_net(d=7, k=12, seed=seed)
    first, norm, activation, second = module
    net = from_module(nn.Sequential(fold_batch_norm(first, norm), activation, second))
    X = np.random.default_rng(seed).standard_normal((50, 7)) * 3
    with torch.no_grad():
        expected = module(torch.from_numpy(X)).numpy()
    assert np.max(np.abs(net(X) - expected)) <= 1e-12 * (1 + np.max(np.abs(expected)))


def test_batch_norm_training_returns_a_folded_interpolating_network() -> None:
    X, y = generic_data(40, 10, "sphere", seed=3)
    result = train_two_layer(X, y, k=30, batch_norm=True, seed=3, max_epochs=2000)
    assert result.interpolated
    outputs = result.network(X)
    assert fits_labels(outputs, y[:, None])
    assert np.mean((outputs[:, 0] - y) ** 2) == pytest.approx(result.loss, rel=1e-12)
    assert result.loss <= 0.02
    assert np.any(result.network.b != 0)


def test_bias_free_training_keeps_both_biases_zero() -> None:
    X, y = generic_data(40, 10, "gaussian", seed=4)
    result = train_two_layer(X, y, k=30, bias_free=True, seed=4, max_epochs=2000)
    assert result.interpolated
    assert np.all(result.network.b == 0) and np.all(result.network.c == 0)


def test_a_run_that_cannot_interpolate_says_so() -> None:
    X, y = generic_data(60, 2, "sphere", seed=5)
    result = train_two_layer(X, y, k=1, seed=5, max_epochs=50)
    assert not result.interpolated
    assert result.epochs == 50


def test_batch_norm_and_bias_free_exclude_each_other() -> None:
    X, y = generic_data(10, 3, "sphere", seed=0)
    with pytest.raises(ValueError, match="bias"):
        train_two_layer(X, y, k=4, batch_norm=True, bias_free=True)
