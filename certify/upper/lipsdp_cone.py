"""LipSDP as a generic cone program: the centred LMI M(ρ, t) ⪰ 0 of `certify.upper.lipsdp_solvers`
written out for cvxpy and solved by SCS (O'Donoghue, Chu, Parikh, Boyd, "Conic optimization via
operator splitting and homogeneous self-dual embedding", JOTA 169, 2016).

It builds the (d + k)-square LMI, so it serves as the reference the structured solvers are
compared with; `certify.verify` still proves whatever it returns.
"""

from __future__ import annotations

import numpy as np

from .lipsdp_solvers import Centred

__all__ = ["solve_cone"]


def solve_cone(data: Centred, layer: bool, seconds: float) -> np.ndarray | None:
    """The LMI as written, minimising ρ over (ρ, t ≥ 0) with cvxpy + SCS; None on failure.

    V, A, B are first scaled as in `certify.upper.lipsdp_barrier.minimise_barrier` (the LMI is
    congruent to the original one with (s²ρ', s_A²t')).
    """
    import cvxpy as cp

    scale_A = float(np.linalg.norm(data.A))
    scale = float(np.linalg.norm(np.vstack([scale_A * data.V, data.B])))
    V, A, B = scale_A * data.V / scale, data.A / scale_A, data.B / scale
    k, d = V.shape
    t = cp.Variable(() if layer else k, nonneg=True)
    rho = cp.Variable()
    T = t * np.eye(k) if layer else cp.diag(t)
    M = cp.bmat(
        [
            [rho * np.eye(d) - V.T @ T @ V - B.T @ B, -B.T @ A],
            [-A.T @ B, 2.0 * T - A.T @ A],
        ]
    )
    problem = cp.Problem(cp.Minimize(rho), [0.5 * (M + M.T) >> 0])
    try:
        problem.solve(solver=cp.SCS, eps_abs=1e-8, eps_rel=1e-8, time_limit_secs=max(seconds, 1e-3))
    except cp.SolverError:
        return None
    if t.value is None or problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        return None
    return scale_A**2 * np.broadcast_to(np.asarray(t.value, dtype=np.float64), (k,)).copy()
