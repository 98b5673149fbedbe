"""Smooth interpolation: fit every label while making an upper bound on Lip(f) small.

The problem is min B(θ) subject to the fit of `models.train` (every sign right, mean square loss
≤ ε), where B is a differentiable upper bound on Lip(f) (`models.penalties`).  It starts from
the Adam interpolator of `train_two_layer` and then runs Adam on s_p(θ) + μ·MSE(θ), where s_p is
the smooth surrogate of B over its leading singular values (`models.penalties`), with an adaptive
multiplier μ: at each check μ shrinks when the float64 net fits and grows when it does not, so
the iterates track the boundary of the feasible set (a penalty method with multiplier updates,
Nocedal and Wright, *Numerical Optimization*, §17.1).  The exponent p rises through `POWERS`
(continuation: a smooth problem first, then ever closer to B itself), a stage ending when the
best bound has not improved by 0.1 % for ``patience`` checks.  The answer is the fitting
checkpoint with the smallest B itself (computed by SVD).  ``penalty="constrained"`` instead
fixes the bound: W = V/‖V‖₂ and A = (ℓ/L)·U/‖U‖₂, so L·‖A‖₂·‖W‖₂ = ℓ exactly, and bisects on
log ℓ for the smallest ℓ at which Adam on the square loss still fits.  A run that never fits is
returned with ``interpolated=False``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .activations import get_activation
from .network import TwoLayerNetwork
from .penalties import TopSingularValues, make_penalty
from .torch_io import from_module, tensor_to_array
from .train import (
    CheckCallback,
    TrainingResult,
    as_targets,
    fit_loss,
    train_two_layer,
    trainable_module,
    training_dtype,
)

__all__ = ["PENALTIES", "SmoothingCallback", "train_smooth"]

#: Told at each check of the smoothing: (its epochs so far, the smallest bound of a fitting net
#: so far, the start's included).
SmoothingCallback = Callable[[int, float], None]

PENALTIES = ("lipsdp", "spectral", "constrained")
#: Multiplier updates per check: shrink when fitting (smoother), grow when not (fit again).
_SHRINK, _GROW = 1.2, 1.5
#: Relative improvement of the best bound that resets the patience counter.
_PROGRESS = 1e-3
#: Exponents p of the smooth surrogate s_p of the bound, one stage each (continuation).
POWERS = (4.0, 16.0, 64.0)
#: Bisection steps on log ℓ, and the factor below the start's product where bisection begins.
_BISECTIONS, _RANGE = 7, 64.0


@dataclass(frozen=True)
class _Data:
    """The training set twice: float64 arrays for the fit tests of the nets found, and tensors
    on the device and in the precision torch trains in."""

    X: np.ndarray
    Y: np.ndarray
    inputs: torch.Tensor
    outputs: torch.Tensor
    epsilon: float

    def fits(self, net: TwoLayerNetwork) -> tuple[bool, float]:
        """Whether ``net`` fits (every label, mean square loss ≤ ε), and its loss."""
        loss, fitted = fit_loss(net, self.X, self.Y)
        return fitted and loss <= self.epsilon, loss

    def place(self, module: nn.Module) -> nn.Module:
        """``module`` moved to the training device and precision."""
        return module.to(self.inputs.device, self.inputs.dtype)


def _penalised(
    start: TwoLayerNetwork,
    data: _Data,
    penalty: str,
    max_epochs: int,
    learning_rate: float,
    bias_free: bool,
    check_every: int,
    patience: int,
    powers: tuple[float, ...],
    on_check: SmoothingCallback,
) -> TrainingResult:
    module = data.place(trainable_module(start, batch_norm=False, bias_free=bias_free))
    first, _, second = module
    bound = make_penalty(penalty, start.activation, start.k, data.inputs.dtype, data.inputs.device)
    optimiser = torch.optim.Adam([*module.parameters(), *bound.parameters()], lr=learning_rate)
    best, best_bound = start, bound.exact(first.weight, second.weight)
    best_loss = data.fits(start)[1]
    multiplier = best_bound / data.epsilon
    stages, stale, epoch = iter(powers), 0, 0
    bound.power = next(stages)
    for epoch in range(1, max_epochs + 1):
        optimiser.zero_grad()
        mse = torch.mean((module(data.inputs) - data.outputs) ** 2)
        (bound(first.weight, second.weight) + multiplier * mse).backward()
        optimiser.step()
        if epoch % check_every:
            continue
        net = from_module(module)
        fitted, loss = data.fits(net)
        multiplier *= 1 / _SHRINK if fitted else _GROW
        value = bound.exact(first.weight, second.weight)
        stale += 1
        if fitted and value < best_bound:
            if value < best_bound * (1 - _PROGRESS):
                stale = 0
            best, best_bound, best_loss = net, value, loss
        on_check(epoch, best_bound)
        if stale >= patience:
            power = next(stages, None)
            if power is None:
                break
            bound.power, stale = power, 0
    return TrainingResult(best, True, epoch, best_loss, best_bound)


class _Constrained(nn.Module):
    """f(x) = (ℓ/(L‖U‖₂))·U·σ(V x/‖V‖₂ + b) + c: a net whose spectral product is exactly ℓ."""

    def __init__(self, start: TwoLayerNetwork, bias_free: bool) -> None:
        super().__init__()
        self.first, self.activation, self.second = trainable_module(start, False, bias_free)
        self.lipschitz = start.activation.lipschitz
        self.activation_spec = start.activation.spec
        self.level = 1.0
        self._V, self._U = TopSingularValues(), TopSingularValues()

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        W = self.first.weight / self._V(self.first.weight)
        A = self.second.weight * (self.level / (self.lipschitz * self._U(self.second.weight)))
        return W, A

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        W, A = self.weights()
        hidden = self.activation(nn.functional.linear(x, W, self.first.bias))
        return nn.functional.linear(hidden, A, self.second.bias)

    def network(self) -> TwoLayerNetwork:
        with torch.no_grad():
            W, A = self.weights()
            b, c = (
                np.zeros(len(weight)) if bias is None else tensor_to_array(bias, "bias")
                for bias, weight in ((self.first.bias, W), (self.second.bias, A))
            )
            return TwoLayerNetwork.create(
                tensor_to_array(W, "W"),
                tensor_to_array(A, "A"),
                b=b,
                c=c,
                activation=self.activation_spec,
            )


def _fit_at_level(
    model: _Constrained,
    data: _Data,
    epochs: int,
    learning_rate: float,
    check_every: int,
) -> TwoLayerNetwork | None:
    """Adam on the square loss at the current ℓ; the first fitting checkpoint, else None."""
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    for epoch in range(1, epochs + 1):
        optimiser.zero_grad()
        torch.mean((model(data.inputs) - data.outputs) ** 2).backward()
        optimiser.step()
        if epoch % check_every == 0:
            net = model.network()
            if data.fits(net)[0]:
                return net
    return None


def _bisect(
    start: TwoLayerNetwork,
    data: _Data,
    max_epochs: int,
    learning_rate: float,
    bias_free: bool,
    check_every: int,
    on_check: SmoothingCallback,
) -> TrainingResult:
    """Bisection on log ℓ in [ℓ₀/64, ℓ₀], ℓ₀ the start's product (which fits by assumption);
    each level warm-starts from the last level that fitted."""
    model = data.place(_Constrained(start, bias_free))
    high = _product(start)
    low = high / _RANGE
    best, best_loss, epochs = start, data.fits(start)[1], 0
    saved = {name: value.clone() for name, value in model.state_dict().items()}
    budget = max(check_every, max_epochs // _BISECTIONS)
    for _ in range(_BISECTIONS):
        model.level = math.sqrt(low * high)
        model.load_state_dict(saved)
        net = _fit_at_level(model, data, budget, learning_rate, check_every)
        epochs += budget
        if net is None:
            low = model.level
        else:
            high, best, best_loss = model.level, net, data.fits(net)[1]
            saved = {name: value.clone() for name, value in model.state_dict().items()}
        on_check(epochs, _product(best))
    return TrainingResult(best, True, epochs, best_loss, _product(best))


def _ignore(epoch: int, bound: float) -> None:
    """The smoothing callback of a run nobody watches."""


def _product(net: TwoLayerNetwork) -> float:
    """L·‖A‖₂·‖W‖₂ in float64 (power iteration only approximates the normalisation)."""
    return float(net.activation.lipschitz * np.linalg.norm(net.A, 2) * np.linalg.norm(net.W, 2))


def train_smooth(
    X: np.ndarray,
    targets: np.ndarray,
    k: int,
    activation: str = "relu",
    penalty: str = "lipsdp",
    epsilon: float = 0.02,
    max_epochs: int = 5000,
    learning_rate: float = 1e-2,
    seed: int = 0,
    bias_free: bool = False,
    check_every: int = 25,
    patience: int = 20,
    powers: tuple[float, ...] = POWERS,
    device: str | torch.device = "cpu",
    precision: str = "float64",
    on_check: CheckCallback | None = None,
    on_smoothing: SmoothingCallback | None = None,
) -> TrainingResult:
    """An interpolating net with a small upper bound on Lip(f): ``penalty`` is ``lipsdp``
    (structured LipSDP-Neuron), ``spectral`` (L·‖A‖₂·‖W‖₂) or ``constrained`` (bisection on a
    hard bound ℓ).  ``max_epochs`` applies to the Adam start and again to the smoothing; torch
    trains on ``device`` in ``precision`` (as `train_two_layer`).  ``on_check`` sees each test
    of the Adam start, ``on_smoothing`` each of the smoothing."""
    if penalty not in PENALTIES:
        raise ValueError(f"unknown penalty {penalty!r} (known: {', '.join(PENALTIES)})")
    X, Y = np.asarray(X, dtype=np.float64), as_targets(targets)
    dtype = training_dtype(precision)
    start = train_two_layer(
        X,
        Y,
        k,
        activation=get_activation(activation),
        epsilon=epsilon,
        max_epochs=max_epochs,
        learning_rate=learning_rate,
        seed=seed,
        check_every=check_every,
        bias_free=bias_free,
        device=device,
        precision=precision,
        on_check=on_check,
    )
    if not start.interpolated:
        return start
    torch.manual_seed(seed)
    smoothing = on_smoothing or _ignore
    tensors = (torch.from_numpy(array).to(device, dtype) for array in (X, Y))
    data = _Data(X, Y, *tensors, epsilon)
    if penalty == "constrained":
        result = _bisect(
            start.network,
            data,
            max_epochs,
            learning_rate,
            bias_free,
            check_every,
            smoothing,
        )
    else:
        result = _penalised(
            start.network,
            data,
            penalty,
            max_epochs,
            learning_rate,
            bias_free,
            check_every,
            patience,
            powers,
            smoothing,
        )
    return TrainingResult(
        result.network, result.interpolated, start.epochs + result.epochs, result.loss, result.bound
    )
