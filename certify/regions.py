"""Activation regions of a piecewise-linear layer, and linear programs over them.

For signs s ∈ {−1, +1}^k the open region R(s) = {x : s_i (w_i·x + b_i) > 0 for all i} is a
polyhedron on which f is affine with Jacobian A·diag(σ'(s))·W.  The Chebyshev-centre LP

    maximise τ  subject to  s_i (w_i·x + b_i) ≥ τ‖w_i‖,  τ ≤ 1

finds the largest ball (radius capped at 1) inside R(s): R(s) is non-empty iff τ* > 0.  Only
the float LP is solved here; a point it returns is re-checked rigorously by `certify.verify`.

`PrefixLP` solves it for the nested regions of sign prefixes on one HiGHS model (Huangfu and
Hall, "Parallelizing the dual revised simplex method", Math. Program. Comput. 10, 2018), which
keeps its optimal basis when rows are added or deleted: a depth-first search that fixes one more
sign at a time re-solves from the last basis by a few dual simplex steps.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.optimize import linprog

from .verify.neurons import active_neurons

__all__ = ["PrefixLP", "RegionLP", "active_neurons", "chebyshev_center"]


@dataclass(frozen=True)
class RegionLP:
    """Solution of the Chebyshev-centre LP: the centre, the radius τ*, and the dual multipliers
    y ≥ 0 of the constraints (useful for Farkas proofs of emptiness when τ* ≤ 0)."""

    center: np.ndarray
    radius: float
    duals: np.ndarray

    @property
    def nonempty(self) -> bool:
        """Whether the float LP found a ball of positive radius (a claim, not a proof)."""
        return self.radius > 0.0


def chebyshev_center(
    W: np.ndarray, b: np.ndarray, signs: np.ndarray, time_limit: float | None = None
) -> RegionLP | None:
    """Solve the Chebyshev-centre LP of the region with the given ±1 signs (rows of W non-zero).

    Returns None when HiGHS reports a failure other than optimality (including running past
    ``time_limit`` seconds, when one is given).
    """
    d = W.shape[1]
    norms = np.linalg.norm(W, axis=1)
    # Variables (x, τ); constraints −s_i (w_i·x + b_i)/‖w_i‖ + τ ≤ 0, rows normalised so that
    # HiGHS's feasibility tolerance means the same for every row (rows of norm 1e-9 otherwise
    # read as infeasible).
    G = np.hstack([-(signs / norms)[:, None] * W, np.ones((len(W), 1))])
    h = signs * b / norms
    cost = np.zeros(d + 1)
    cost[-1] = -1.0
    bounds = [(None, None)] * d + [(None, 1.0)]
    options = {} if time_limit is None else {"time_limit": float(time_limit)}
    result = linprog(cost, A_ub=G, b_ub=h, bounds=bounds, method="highs", options=options)
    if result.status != 0:
        return None
    duals = -np.asarray(result.ineqlin.marginals, dtype=np.float64) / norms
    return RegionLP(center=result.x[:d], radius=float(result.x[-1]), duals=duals)


_QUIET = threading.Lock()


def _quiet_highs() -> highspy.Highs:
    """A HiGHS instance that writes nothing.  The first instance of a process prints a banner to
    file descriptor 1, past ``sys.stdout``, so it is built with that descriptor on the null device
    (under a lock, so that concurrent constructions cannot leave it redirected)."""
    with _QUIET:
        saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        try:
            highs = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)
    for option, value in (("output_flag", False), ("presolve", "off"), ("threads", 1)):
        highs.setOptionValue(option, value)
    return highs


class PrefixLP:
    """Chebyshev-centre LPs of the regions of sign prefixes over the rows of (W, b) in order: the
    prefix (s_1, …, s_p) constrains rows 1…p (each w_i ≠ 0).

    The model keeps the rows of the last prefix solved; `solve` deletes those past the longest
    common prefix with the new one and adds the rest.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        norms = np.linalg.norm(W, axis=1)
        self.rows, self.offsets = W / norms[:, None], b / norms
        self.d = W.shape[1]
        self.highs = _quiet_highs()
        infinity = highspy.kHighsInf
        cost = np.zeros(self.d + 1)
        cost[-1] = -1.0
        upper = np.full(self.d + 1, infinity)
        upper[-1] = 1.0
        self.highs.addVars(self.d + 1, np.full(self.d + 1, -infinity), upper)
        self.highs.changeColsCost(self.d + 1, np.arange(self.d + 1, dtype=np.int32), cost)
        self.signs: tuple[int, ...] = ()

    def solve(self, signs: Sequence[int]) -> RegionLP | None:
        """The Chebyshev-centre LP of the prefix region; None when HiGHS does not report an
        optimum."""
        signs = tuple(int(s) for s in signs)
        common = 0
        while common < min(len(self.signs), len(signs)) and self.signs[common] == signs[common]:
            common += 1
        if len(self.signs) > common:
            stale = np.arange(common, len(self.signs), dtype=np.int32)
            self.highs.deleteRows(len(stale), stale)
        self._add(signs[common:], common)
        self.signs = signs
        self.highs.run()
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        solution = self.highs.getSolution()
        x = np.asarray(solution.col_value, dtype=np.float64)
        duals = -np.asarray(solution.row_dual, dtype=np.float64)
        return RegionLP(center=x[: self.d], radius=float(x[-1]), duals=duals)

    def _add(self, signs: Sequence[int], first: int) -> None:
        """Rows −s_i w_i·x + ‖w_i‖τ ≤ s_i b_i (unit w_i) for i = first, first + 1, …"""
        count = len(signs)
        if count == 0:
            return
        s = np.asarray(signs, dtype=np.float64)
        rows = slice(first, first + count)
        coefficients = np.hstack([-s[:, None] * self.rows[rows], np.ones((count, 1))])
        starts = np.arange(count, dtype=np.int32) * (self.d + 1)
        columns = np.tile(np.arange(self.d + 1, dtype=np.int32), count)
        self.highs.addRows(
            count,
            np.full(count, -highspy.kHighsInf),
            s * self.offsets[rows],
            coefficients.size,
            starts,
            columns,
            coefficients.ravel(),
        )
