"""Smooth interpolation: the differentiable bounds are the LipSDP and spectral expressions,
subspace iteration gives σ_max, the smooth surrogate over the leading singular values and their
gradients, and every penalty returns a fitting net whose bound is below that of the Adam start."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from models import get_activation
from models.data import generic_data
from models.penalties import LipSDPPenalty, SpectralPenalty, TopSingularValues
from models.smooth import train_smooth
from models.train import fit_loss, train_two_layer


def test_power_iteration_converges_to_the_top_singular_value_and_its_gradient() -> None:
    torch.manual_seed(0)
    B = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    power = TopSingularValues()
    for _ in range(20):
        value = power(B)
    value.backward()
    grad = torch.autograd.grad(torch.linalg.matrix_norm(B, 2), B)[0]
    assert value.item() == pytest.approx(torch.linalg.matrix_norm(B, 2).item(), rel=1e-10)
    assert torch.allclose(B.grad, grad, atol=1e-8)


@pytest.mark.parametrize("power", [1.0, 4.0, 64.0])
def test_subspace_surrogate_is_the_schatten_sum_of_the_leading_values(power: float) -> None:
    torch.manual_seed(1)
    B = torch.randn(12, 9, dtype=torch.float64, requires_grad=True)
    top = TopSingularValues(rank=3)
    for _ in range(30):
        value = top(B, power)
    value.backward()
    leading = torch.linalg.svdvals(B)[:3]
    exact = torch.sum(leading ** (2 * power)) ** (0.5 / power)
    grad = torch.autograd.grad(exact, B)[0]
    assert value.item() == pytest.approx(exact.item(), rel=1e-10)
    assert torch.allclose(B.grad, grad, atol=1e-8)
    assert leading[0] <= value.item() <= 3 ** (0.5 / power) * leading[0]


def test_surrogate_of_a_zero_matrix_has_a_finite_gradient() -> None:
    B = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
    TopSingularValues(rank=2)(B, 8.0).backward()
    assert torch.all(torch.isfinite(B.grad))


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(0, 10**6),
    st.sampled_from(["relu", "leaky_relu(0.1)", "tanh"]),
)
def test_lipsdp_factor_is_the_schur_form_with_feasible_multipliers(
    m: int, k: int, d: int, seed: int, activation: str
) -> None:
    rng = np.random.default_rng(seed)
    W = torch.from_numpy(rng.standard_normal((k, d)))
    A = torch.from_numpy(rng.standard_normal((m, k)))
    sigma = get_activation(activation)
    penalty = LipSDPPenalty(sigma, k, torch.float64)
    with torch.no_grad():
        penalty.logits.copy_(torch.from_numpy(rng.standard_normal(k + 1) * 2))
        B = penalty.factor(W, A)
        p = torch.softmax(penalty.logits, 0)[:-1]
        t = ((A * A).sum(0) + 1e-12) / (2 * p)
    C = torch.eye(m, dtype=torch.float64) - A @ torch.diag(1 / (2 * t)) @ A.T
    assert torch.linalg.eigvalsh(C).min() > 0
    alpha, beta = sigma.slope_lower, sigma.slope_upper
    G = 0.5 * (beta - alpha) ** 2 * W.T @ torch.diag(t) @ W + 0.25 * (alpha + beta) ** 2 * (
        A @ W
    ).T @ torch.linalg.solve(C, A @ W)
    assert torch.allclose(B.T @ B, G, rtol=1e-8, atol=1e-8)


def _sampled_lipschitz(net, d: int) -> float:
    points = np.random.default_rng(1).standard_normal((2000, d))
    return max(np.linalg.norm(net.jacobian(x), 2) for x in points)


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("penalty", ["lipsdp", "spectral", "constrained"])
def test_each_penalty_fits_and_lowers_its_bound_below_the_adam_start(
    penalty: str, precision: str
) -> None:
    X, y = generic_data(12, 8, "sphere", 0)
    start = train_two_layer(X, y, 6, max_epochs=800, seed=0, precision=precision)
    result = train_smooth(
        X, y, 6, penalty=penalty, max_epochs=800, seed=0, patience=8, precision=precision
    )
    assert start.interpolated and result.interpolated
    loss, fitted = fit_loss(result.network, X, y[:, None])
    assert fitted and loss <= 0.02 and loss == pytest.approx(result.loss)
    net = result.network
    product = np.linalg.norm(net.A, 2) * np.linalg.norm(net.W, 2)
    start_product = np.linalg.norm(start.network.A, 2) * np.linalg.norm(start.network.W, 2)
    assert _sampled_lipschitz(net, 8) <= result.bound * (1 + 1e-9)
    assert result.bound < start_product
    if penalty != "lipsdp":
        assert product == pytest.approx(result.bound, rel=1e-6)


@pytest.mark.parametrize("penalty", ["lipsdp", "constrained"])
def test_smoothing_reports_each_check_with_the_best_bound_so_far(penalty: str) -> None:
    X, y = generic_data(12, 8, "sphere", 0)
    starts: list[tuple[int, float]] = []
    checks: list[tuple[int, float]] = []
    result = train_smooth(
        X,
        y,
        6,
        penalty=penalty,
        max_epochs=400,
        seed=0,
        patience=4,
        on_check=lambda epoch, loss: starts.append((epoch, loss)),
        on_smoothing=lambda epoch, bound: checks.append((epoch, bound)),
    )
    assert result.interpolated and starts and len(checks) >= 2
    epochs, bounds = zip(*checks, strict=True)
    assert list(epochs) == sorted(set(epochs)) and bounds[-1] == result.bound
    assert result.epochs == starts[-1][0] + epochs[-1]
    if penalty == "lipsdp":  # the bisection's is re-measured on each fitted level's net
        assert list(bounds) == sorted(bounds, reverse=True)


def test_smooth_training_that_cannot_fit_says_so() -> None:
    X, y = generic_data(60, 3, "sphere", 0)
    result = train_smooth(X, y, 1, max_epochs=50, seed=0)
    assert not result.interpolated and result.bound is None


def test_unknown_penalty_is_refused() -> None:
    with pytest.raises(ValueError, match="penalty"):
        train_smooth(np.eye(2), np.ones(2), 2, penalty="frobenius")


def test_spectral_penalty_is_the_product_of_norms() -> None:
    W = torch.tensor([[3.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    A = torch.tensor([[0.0, 2.0]], dtype=torch.float64)
    penalty = SpectralPenalty(get_activation("leaky_relu(2.0)"))
    assert penalty.exact(W, A) == pytest.approx(12.0)
    assert penalty(W, A).item() == pytest.approx(12.0)
