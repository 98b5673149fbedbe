"""ℓ2 projected gradient ascent on the classification margin (Madry et al., ICLR 2018).

For each point x with label y and radius r it maximises the loss max_{j≠y} f_j − f_y (or −y·f
for one output) over the ball ‖x' − x‖₂ ≤ ρ, ρ slightly below r so that rounding cannot carry
x' outside.  The gradient needs no autodiff: for f = A·σ(Wx + b) + c it is
(A_j − A_y)·diag(σ'(Wx' + b))·W.  Steps are normalised gradients of length 2.5ρ/steps; the first
start is x itself, the others uniform on spheres inside the ball.  The result is only a
candidate: `certify.audit.radii` re-checks it in ball arithmetic.
"""

from __future__ import annotations

import time

import numpy as np

from models import TwoLayerNetwork

__all__ = ["INNER_RADIUS", "attack"]

#: Fraction of the claimed radius the attack searches, leaving room for rounding.
INNER_RADIUS = 1.0 - 1e-7


def _loss_and_gradient(
    net: TwoLayerNetwork, points: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Loss (> 0 when misclassified) and its gradient at each row of ``points``."""
    z = net.preactivation(points)
    outputs = net.activation.value(z) @ net.A.T + net.c
    rows = np.arange(len(points))
    if net.m == 1:
        loss = -labels * outputs[:, 0]
        weights = -labels[:, None] * net.A[0]
    else:
        rivals = outputs.copy()
        rivals[rows, labels] = -np.inf
        best = np.argmax(rivals, axis=1)
        loss = rivals[rows, best] - outputs[rows, labels]
        weights = net.A[best] - net.A[labels]
    return loss, (weights * net.activation.derivative(z)) @ net.W


def _project(delta: np.ndarray, radii: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(delta, axis=1)
    scale = np.where(norms > radii, radii / np.maximum(norms, np.finfo(float).tiny), 1.0)
    return delta * scale[:, None]


def _start(rng: np.random.Generator, radii: np.ndarray, d: int) -> np.ndarray:
    direction = rng.standard_normal((len(radii), d))
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-300)
    return direction * (radii * rng.uniform(size=len(radii)))[:, None]


def attack(
    net: TwoLayerNetwork,
    points: np.ndarray,
    labels: np.ndarray,
    radii: np.ndarray,
    seconds: float,
    seed: int = 0,
    steps: int = 100,
    restarts: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """The best point found for each row, and its float loss (> 0: a candidate counterexample).

    Stops early once ``seconds`` are spent.  Overflow (weights near the largest double) is
    silent: it only spoils candidates, which the rigorous check then rejects.
    """
    with np.errstate(all="ignore"):
        return _attack(net, points, labels, radii, seconds, seed, steps, restarts)


def _attack(
    net: TwoLayerNetwork,
    points: np.ndarray,
    labels: np.ndarray,
    radii: np.ndarray,
    seconds: float,
    seed: int,
    steps: int,
    restarts: int,
) -> tuple[np.ndarray, np.ndarray]:
    deadline = time.monotonic() + seconds
    rng = np.random.default_rng(seed)
    inner = radii * INNER_RADIUS
    step = 2.5 * inner / steps
    best, best_loss = points.copy(), np.full(len(points), -np.inf)
    for restart in range(restarts):
        delta = np.zeros_like(points) if restart == 0 else _start(rng, inner, net.d)
        for _ in range(steps):
            if time.monotonic() > deadline:
                return best, best_loss
            candidate = points + delta
            loss, gradient = _loss_and_gradient(net, candidate, labels)
            better = loss > best_loss
            best[better], best_loss[better] = candidate[better], loss[better]
            norms = np.linalg.norm(gradient, axis=1, keepdims=True)
            direction = np.divide(gradient, norms, out=np.zeros_like(gradient), where=norms > 0)
            delta = _project(delta + step[:, None] * direction, inner)
    return best, best_loss
