"""Multi-layer LipSDP as a cone program in its chordal form, solved by SCS through cvxpy.

The LMI N(ρ, T) ⪰ 0 of `certify.upper.deep_lmi` is replaced by one PSD constraint per clique
(k − 1, k) of its block-sparsity graph (Agler et al. 1988):

    C_k = [[N_{k−1,k−1} − Z_{k−1}, N_{k−1,k}], [N_{k,k−1}, Z_k]] ⪰ 0,  k = 1 … L−1,

with free symmetric Z_1 … Z_{L−2}, Z_0 = 0 and Z_{L−1} = N_{L−1,L−1}; the C_k sum to N, and
every N ⪰ 0 splits so.  The cone sizes are n_{k−1} + n_k, so the cost grows linearly with the
depth.  Nothing returned here is trusted: the method recomputes ρ from the multipliers and
`certify.verify.checks.deep_lipsdp` proves the LMI.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..verify.deep_lmi import LayerSlopes, assemble, layer_cliques, sector_coefficients
from .deep_lmi import normalised

__all__ = ["solve_chordal"]


def solve_chordal(
    weights: tuple[np.ndarray, ...], slopes: LayerSlopes, layer: bool, seconds: float
) -> tuple[np.ndarray, ...] | None:
    """Multipliers minimising ρ over the chordal LMI (one per layer if ``layer``), or None; the
    net is scaled first (`normalised`)."""
    import cvxpy as cp

    scaled, factors = normalised(weights)
    widths = [W.shape[0] for W in scaled[:-1]]
    variables = [cp.Variable(() if layer else n, nonneg=True) for n in widths]

    def diagonal(t: object, coefficients: np.ndarray) -> object:
        return t * np.diag(coefficients) if layer else cp.diag(cp.multiply(coefficients, t))

    quadratic, cross = sector_coefficients(slopes)
    rho = cp.Variable()
    blocks = assemble(
        scaled,
        [diagonal(t, np.ones(n)) for t, n in zip(variables, widths, strict=True)],
        [diagonal(t, q) for t, q in zip(variables, quadratic, strict=True)],
        [diagonal(t, -c) for t, c in zip(variables, cross, strict=True)],
        rho * np.eye(scaled[0].shape[1]),
        -1.0,
    )
    splits = [cp.Variable((n, n), symmetric=True) for n in widths[:-1]]
    constraints = []
    for first, second in layer_cliques(len(weights)):
        top = blocks.diagonal[first] - (splits[first - 1] if first > 0 else 0)
        bottom = splits[second - 1] if second < len(widths) else blocks.diagonal[second]
        coupling = blocks.upper[first]
        clique = cp.bmat([[top, coupling], [coupling.T, bottom]])
        constraints.append(0.5 * (clique + clique.T) >> 0)
    problem = cp.Problem(cp.Minimize(rho), constraints)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "inaccurate" solutions are welcome: ρ is recomputed
            problem.solve(
                solver=cp.SCS, eps_abs=1e-8, eps_rel=1e-8, time_limit_secs=max(seconds, 1e-3)
            )
    except cp.SolverError:
        return None
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        return None
    return tuple(
        factor * np.broadcast_to(np.asarray(t.value, dtype=np.float64), (n,)).copy()
        for t, n, factor in zip(variables, widths, factors, strict=True)
    )
