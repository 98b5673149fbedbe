"""Training two-layer networks to interpolation (Adam on the square loss, full batch).

The protocol of Bubeck, Li, Nagaraj (COLT 2021, §4): a run counts as interpolating when every
label is fitted — the sign of f(x_i) equals y_i (argmax for one-hot targets) — and the mean
square loss is at most ε.  A run that does not get there within its epochs is returned with
``interpolated=False``, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .activations import Activation, get_activation
from .network import TwoLayerNetwork
from .torch_io import from_module, to_module

__all__ = ["TrainingResult", "fits_labels", "train_two_layer"]


@dataclass(frozen=True)
class TrainingResult:
    """The trained network, whether it interpolates, the epochs used and the final loss."""

    network: TwoLayerNetwork
    interpolated: bool
    epochs: int
    loss: float


def fits_labels(outputs: np.ndarray, targets: np.ndarray) -> bool:
    """Every label fitted: sign agreement for one output, argmax agreement for several."""
    if targets.shape[1] == 1:
        return bool(np.all(np.sign(outputs[:, 0]) == np.sign(targets[:, 0])))
    return bool(np.all(outputs.argmax(axis=1) == targets.argmax(axis=1)))


def _initial_network(d: int, k: int, m: int, activation: Activation, seed: int) -> TwoLayerNetwork:
    """He-style initialisation: W ~ N(0, 2/d), A ~ N(0, 1/k), zero biases."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((k, d)) * np.sqrt(2.0 / d)
    A = rng.standard_normal((m, k)) / np.sqrt(k)
    return TwoLayerNetwork.create(W, A, b=np.zeros(k), c=np.zeros(m), activation=activation)


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
) -> TrainingResult:
    """Fit f(X) ≈ targets (n×m, or n labels ±1) with k hidden neurons; stop once interpolating."""
    Y = np.asarray(targets, dtype=np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y
    X = np.asarray(X, dtype=np.float64)
    torch.manual_seed(seed)
    start = _initial_network(X.shape[1], k, Y.shape[1], get_activation(activation), seed)
    module = to_module(start)
    inputs, outputs = torch.from_numpy(X), torch.from_numpy(Y)
    optimiser = torch.optim.Adam(module.parameters(), lr=learning_rate)
    loss_value, epoch, interpolated = float("inf"), 0, False
    for epoch in range(1, max_epochs + 1):
        optimiser.zero_grad()
        prediction = module(inputs)
        loss = torch.mean((prediction - outputs) ** 2)
        loss.backward()
        optimiser.step()
        loss_value = float(loss)
        if epoch % check_every == 0 or epoch == max_epochs:
            with torch.no_grad():
                fitted = module(inputs).numpy()
            loss_value = float(np.mean((fitted - Y) ** 2))
            if loss_value <= epsilon and fits_labels(fitted, Y):
                interpolated = True
                break
    return TrainingResult(from_module(module), interpolated, epoch, loss_value)
