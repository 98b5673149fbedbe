"""Training two-layer networks to interpolation (Adam on the square loss, full batch).

The protocol of Bubeck, Li, Nagaraj (COLT 2021, §4): a run counts as interpolating when every
label is fitted — the sign of f(x_i) equals y_i (argmax for one-hot targets) — and the mean
square loss is at most ε.  A run that does not get there within its epochs is returned with
``interpolated=False``, never silently dropped.  Both tests are made on the returned float64
network itself, the function that is later certified.

Options: batch normalisation between the first linear layer and σ, as in the paper's
experiments, folded into W and b after training (`fold_batch_norm`); and bias-free networks
(b = 0 and c = 0), the class F_k of Theorem 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .activations import Activation, get_activation
from .network import TwoLayerNetwork
from .torch_io import from_module, to_module

__all__ = [
    "TrainingResult", "as_targets", "fit_loss", "fits_labels", "fold_batch_norm", "train_two_layer",
    "trainable_module",
]


@dataclass(frozen=True)
class TrainingResult:
    """The trained network, whether it interpolates, the epochs used and the final loss."""

    network: TwoLayerNetwork
    interpolated: bool
    epochs: int
    loss: float
    #: The training objective's float estimate of an upper bound on Lip(f) (smooth training).
    bound: float | None = None


def fits_labels(outputs: np.ndarray, targets: np.ndarray) -> bool:
    """Every label fitted: sign agreement for one output, argmax agreement for several."""
    if targets.shape[1] == 1:
        return bool(np.all(np.sign(outputs[:, 0]) == np.sign(targets[:, 0])))
    return bool(np.all(outputs.argmax(axis=1) == targets.argmax(axis=1)))


def fold_batch_norm(linear: nn.Linear, norm: nn.BatchNorm1d) -> nn.Linear:
    """The affine layer equal to ``norm(linear(x))`` in eval mode.

    Eval-mode batch normalisation is γ(z − μ)/√(σ² + eps) + β per neuron (Ioffe and Szegedy,
    ICML 2015), so with s = γ/√(σ² + eps): W' = diag(s)·W and b' = s·(b − μ) + β.
    """
    weight, bias = linear.weight.detach(), linear.bias
    mean, variance = norm.running_mean, norm.running_var
    scale = torch.ones_like(mean) if norm.weight is None else norm.weight.detach()
    shift = torch.zeros_like(mean) if norm.bias is None else norm.bias.detach()
    scale = scale / torch.sqrt(variance + norm.eps)
    centred = -mean if bias is None else bias.detach() - mean
    folded = nn.Linear(linear.in_features, linear.out_features, dtype=weight.dtype)
    with torch.no_grad():
        folded.weight.copy_(scale[:, None] * weight)
        folded.bias.copy_(scale * centred + shift)
    return folded.to(weight.device)


def _initial_network(d: int, k: int, m: int, activation: Activation, seed: int) -> TwoLayerNetwork:
    """He-style initialisation: W ~ N(0, 2/d), A ~ N(0, 1/k), zero biases."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((k, d)) * np.sqrt(2.0 / d)
    A = rng.standard_normal((m, k)) / np.sqrt(k)
    return TwoLayerNetwork.create(W, A, b=np.zeros(k), c=np.zeros(m), activation=activation)


def trainable_module(start: TwoLayerNetwork, batch_norm: bool, bias_free: bool) -> nn.Sequential:
    """The torch module to train: Linear, [BatchNorm1d], σ, Linear; no biases if ``bias_free``."""
    first, activation, second = to_module(start)
    if bias_free:
        first.bias, second.bias = None, None
    if batch_norm:
        norm = nn.BatchNorm1d(start.k, dtype=torch.float64)
        return nn.Sequential(first, norm, activation, second)
    return nn.Sequential(first, activation, second)


def _network(module: nn.Sequential, inputs: torch.Tensor) -> TwoLayerNetwork:
    """The float64 network computed by ``module``; batch normalisation takes the statistics
    of the whole training set, so the folded network equals the full-batch training forward."""
    if len(module) == 3:
        return from_module(module)
    first, norm, activation, second = module
    with torch.no_grad():
        z = first(inputs)
        norm.running_mean.copy_(z.mean(dim=0))
        norm.running_var.copy_(z.var(dim=0, unbiased=False))
    return from_module(nn.Sequential(fold_batch_norm(first, norm), activation, second))


def fit_loss(net: TwoLayerNetwork, X: np.ndarray, Y: np.ndarray) -> tuple[float, bool]:
    """Mean square loss of ``net`` on (X, Y) and whether it fits every label."""
    outputs = net(X)
    return float(np.mean((outputs - Y) ** 2)), fits_labels(outputs, Y)


def as_targets(targets: np.ndarray) -> np.ndarray:
    """The targets as a float64 n×m matrix (n labels become one column)."""
    Y = np.asarray(targets, dtype=np.float64)
    return Y[:, None] if Y.ndim == 1 else Y


def train_two_layer(
    X: np.ndarray,
    targets: np.ndarray,
    k: int,
    activation: str | Activation = "relu",
    epsilon: float = 0.02,
    max_epochs: int = 5000,
    learning_rate: float = 1e-2,
    seed: int = 0,
    check_every: int = 25,
    batch_norm: bool = False,
    bias_free: bool = False,
    device: str | torch.device = "cpu",
) -> TrainingResult:
    """Fit f(X) ≈ targets (n×m, or n labels ±1) with k hidden neurons; stop once interpolating.

    ``batch_norm`` trains Linear → BatchNorm1d → σ → Linear and returns the folded network;
    ``bias_free`` trains f(x) = A·σ(W x) (b = 0, c = 0).  The two exclude each other, since
    batch normalisation adds a bias.  ``device`` is where torch trains ("cpu", "cuda", ...).
    """
    if batch_norm and bias_free:
        raise ValueError("batch normalisation adds a bias: it cannot train a bias-free network")
    X, Y = np.asarray(X, dtype=np.float64), as_targets(targets)
    torch.manual_seed(seed)
    start = _initial_network(X.shape[1], k, Y.shape[1], get_activation(activation), seed)
    module = trainable_module(start, batch_norm, bias_free).to(device)
    inputs = torch.from_numpy(X).to(device)
    outputs = torch.from_numpy(Y).to(device)
    optimiser = torch.optim.Adam(module.parameters(), lr=learning_rate)
    epoch, net, loss, interpolated = 0, start, float("inf"), False
    for epoch in range(1, max_epochs + 1):
        optimiser.zero_grad()
        torch.mean((module(inputs) - outputs) ** 2).backward()
        optimiser.step()
        if epoch % check_every == 0 or epoch == max_epochs:
            net = _network(module, inputs)
            loss, fitted = fit_loss(net, X, Y)
            interpolated = loss <= epsilon and fitted
            if interpolated:
                break
    return TrainingResult(net, interpolated, epoch, loss)
