"""First-order minimisation of multi-layer LipSDP's least ρ over the multipliers.

ρ(T) = min{ρ : N(ρ, T) ⪰ ε·E} is convex in T: N and E are affine in (ρ, T), so the pairs that
satisfy the LMI form a convex set and ρ(T) is a partial minimum over it.  ρ(T) = λ_max(G(T))
(`certify.upper.deep_lmi.schur_eigenvalues`), and the top eigenvalue is typically multiple at
the optimum, so L-BFGS-B on u = log t minimises the smoothed ρ_μ = μ·log Σ_j exp(λ_j/μ) ≥ ρ,
its gradient by torch autograd, for μ = 10⁻²ρ, …, 10⁻⁸ρ, each stage warm-started from the best
point so far (the continuation that `certify.upper.lipsdp_solvers` uses for two layers).
Infeasible trial points get a large value and no slope, so the line search backtracks.  The net
is scaled first (`normalised`), and ρ_μ is divided by ρ at the start, as L-BFGS-B judges
progress relative to max(|ρ_μ|, 1).  Nothing returned here is trusted.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time

import numpy as np
import torch
from scipy.optimize import minimize

from ..verify.deep_lmi import LayerSlopes
from .deep_lmi import normalised, schur_eigenvalues

__all__ = ["minimise_rho"]

#: Sweeps over the smoothing stages μ = 10⁻²ρ … 10⁻⁸ρ.
_SWEEPS = 4
#: How far, in log t, the multipliers may move from their start.
_LOG_RANGE = 30.0


class _Stop(Exception):
    """Raised inside the objective once the deadline has passed."""


def minimise_rho(
    weights: tuple[np.ndarray, ...],
    slopes: LayerSlopes,
    start: tuple[np.ndarray, ...],
    layer: bool,
    seconds: float,
) -> tuple[np.ndarray, ...]:
    """The multipliers with the least ρ(T) seen, from the feasible ``start`` (one multiplier
    per layer if ``layer``: the mean of each start vector's logarithms), within ``seconds``."""
    scaled, factors = normalised(weights)
    tensors = [torch.tensor(W) for W in scaled]
    widths = [W.shape[0] for W in scaled[:-1]]
    logs = [np.log(t / factor) for t, factor in zip(start, factors, strict=True)]
    u = np.array([np.mean(v) for v in logs]) if layer else np.concatenate(logs)

    def expand(u: torch.Tensor) -> list[torch.Tensor]:
        if layer:
            return [
                torch.exp(u[i]) * torch.ones(n, dtype=torch.float64) for i, n in enumerate(widths)
            ]
        return list(torch.split(torch.exp(u), widths))

    deadline = time.monotonic() + seconds
    best = {"rho": math.inf, "u": u.copy()}

    def objective(point: np.ndarray, mu: float) -> tuple[float, np.ndarray]:
        if time.monotonic() > deadline:
            raise _Stop
        variable = torch.tensor(point, requires_grad=True)
        eigenvalues = schur_eigenvalues(tensors, expand(variable), slopes)
        if eigenvalues is None:
            return penalty, np.zeros_like(point)
        top = eigenvalues[-1].detach()
        if float(top) < best["rho"]:
            best["rho"], best["u"] = float(top), point.copy()
        smoothed = (top + mu * torch.logsumexp((eigenvalues - top) / mu, dim=0)) / unit
        smoothed.backward()
        return float(smoothed.detach()), variable.grad.numpy()

    penalty, unit = math.inf, 1.0
    with contextlib.suppress(_Stop):
        objective(u, 1.0)
        if not math.isfinite(best["rho"]) or best["rho"] <= 0.0:
            return start
        penalty, unit = 1e6, best["rho"]
        box = list(zip(u - _LOG_RANGE, u + _LOG_RANGE, strict=True))
        for sweep, exponent in itertools.product(range(_SWEEPS), range(2, 9)):
            options = {"maxiter": 2_000, "ftol": 10.0 ** -(exponent + sweep + 2), "gtol": 0.0}
            mu = max(best["rho"], 1e-300) * 10.0**-exponent
            minimize(
                objective,
                best["u"],
                args=(mu,),
                jac=True,
                method="L-BFGS-B",
                bounds=box,
                options=options,
            )
    with torch.no_grad():
        found = expand(torch.tensor(best["u"]))
    return tuple(factor * t.numpy() for t, factor in zip(found, factors, strict=True))
