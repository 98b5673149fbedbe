"""What every gradient ascent of ‖J(x)‖ shares: smooth surrogates of σ' where it jumps, the
annealing schedule, normalised steps and the search sizes of a round."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from models import Activation, Network
from models.torch_io import activation_module

from ..methods import Budget

__all__ = [
    "SMOOTH_SLOPES",
    "TEMPERATURES",
    "AscentRounds",
    "no_smooth_surrogate",
    "normalised",
    "torch_activation",
]

Tensor = torch.Tensor
#: σ'(z) (smoothed where it jumps) from the pre-activation z, the gate g and the parameter p.
SMOOTH_SLOPES: dict[str, Callable[[Tensor, Tensor, float | None], Tensor]] = {
    "relu": lambda z, g, p: g,
    "leaky_relu": lambda z, g, p: p + (1.0 - p) * g,
    "elu": lambda z, g, p: g + (1.0 if p is None else p) * torch.exp(z.clamp(max=0.0)) * (1 - g),
    "tanh": lambda z, g, p: 1.0 - torch.tanh(z) ** 2,
    "sigmoid": lambda z, g, p: torch.sigmoid(z) * torch.sigmoid(-z),
    "softplus": lambda z, g, p: torch.sigmoid((1.0 if p is None else p) * z),
    "gelu": lambda z, g, p: (
        0.5 * torch.erfc(-z / np.sqrt(2.0)) + z * torch.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    ),
    "square": lambda z, g, p: 2.0 * z,
    "cube": lambda z, g, p: 3.0 * z * z,
}
#: σ in torch for the activations torch has no module for (the polynomials).
_POWERS = {"square": 2, "cube": 3}


def torch_activation(activation: Activation) -> Callable[[Tensor], Tensor]:
    """σ as a torch function (a search aid: the checkers evaluate σ in ball arithmetic)."""
    if activation.name in _POWERS:
        power = _POWERS[activation.name]
        return lambda z: z**power
    return activation_module(activation)


#: τ falls geometrically from the first to the last over the steps of an ascent.
TEMPERATURES = (0.5, 1e-4)


@dataclass
class AscentRounds:
    """The search sizes every gradient ascent shares: each round ascends the ``restarts`` best
    of ``samples`` starts for ``steps`` steps; one round per 4 s of budget, 1 to
    ``max_rounds``."""

    restarts: int = 16
    steps: int = 200
    max_rounds: int = 8
    samples: int = 1000

    def rounds(self, budget: Budget) -> int:
        """How many rounds the budget pays for."""
        return int(np.clip(budget.seconds // 4, 1, self.max_rounds))


def no_smooth_surrogate(net: Network) -> str | None:
    """Why the ascent cannot smooth σ' for ``net``'s activation, if it cannot."""
    if net.activation.name not in SMOOTH_SLOPES:
        return f"no smooth surrogate of the derivative of {net.activation.spec!r}"
    return None


def normalised(rows: Tensor, fallback: Tensor | None = None) -> Tensor:
    """Each row scaled to unit length; rows that vanish or are not finite become the fallback
    row (zero when there is none)."""
    norms = torch.linalg.vector_norm(rows, dim=1, keepdim=True)
    usable = torch.isfinite(norms) & (norms > 0)
    unit = rows / torch.where(usable, norms, 1.0)
    return torch.where(usable, unit, torch.zeros_like(rows) if fallback is None else fallback)
