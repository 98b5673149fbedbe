"""Exact rational proofs about the open regions R = {x : s_i (w_i·x + b_i) > 0, i ∈ S} of a layer.

Every double is a dyadic rational, so one exponent E makes all of 2^E·(w_i, b_i) integers, and
every test below is exact integer arithmetic: no rounding, no tolerance.

Emptiness, by Motzkin's transposition theorem (Motzkin 1936; Schrijver, *Theory of Linear and
Integer Programming*, 1986, ch. 7, strict inequalities): R is empty iff some y ≥ 0, y ≠ 0 has

    Σ y_i s_i w_i = 0   and   Σ y_i s_i b_i ≤ 0.

Soundness needs only the easy direction: a point x of R would make Σ y_i s_i (w_i·x + b_i) both
> 0 (a positive combination of positive numbers) and equal to Σ y_i s_i b_i ≤ 0.  Both conditions
are homogeneous in y, so the multipliers are stored as positive integers.

Membership: the exact sign of w_i·x + b_i at a floating-point point x.  A float evaluation z_i
decides it when |z_i| exceeds its error bound γ_{d+1}·(|w_i|·|x| + |b_i|) (Higham, *Accuracy and
Stability of Numerical Algorithms*, §3.1); exact integers decide the rest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from flint import fmpq, fmpq_mat

from ..certificates import FarkasProof
from .floating import TINY, gamma

__all__ = ["ExactLayer", "FarkasProof"]

#: Float multipliers below this fraction of the largest are read as zero when guessing a support.
_SUPPORT_CUTOFF = 1e-9


def _dyadic(values: Iterable[float]) -> tuple[list[int], int]:
    """Integers n_j and an exponent E with values[j] = n_j / 2^E exactly."""
    ratios = [float(value).as_integer_ratio() for value in values]
    shift = max((q.bit_length() - 1 for _, q in ratios), default=0)
    return [p << (shift - q.bit_length() + 1) for p, q in ratios], shift


class ExactLayer:
    """The affine map x ↦ W x + b, its rows (w_i, b_i) held exactly as integers 2^E·(w_i, b_i)."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        k, d = W.shape
        entries, _ = _dyadic(np.hstack([W, b[:, None]]).ravel().tolist())
        self.d = d
        self.rows = [entries[i * (d + 1) : (i + 1) * (d + 1)] for i in range(k)]
        self.W, self.b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)

    def sign(self, i: int, x: np.ndarray) -> int:
        """The exact sign (−1, 0 or +1) of w_i·x + b_i at the float point x."""
        return int(self.signs(x, [i])[0])

    def signs(self, x: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """The exact signs of w_i·x + b_i at the float point x, for i in ``rows``."""
        W, b = self.W[list(rows)], self.b[list(rows)]
        values = W @ x + b
        error = gamma(self.d + 2) * (np.abs(W) @ np.abs(x) + np.abs(b)) + (self.d + 2) * TINY
        signs = np.where(np.abs(values) > error, np.sign(values), 0).astype(int)
        unsure = np.flatnonzero(signs == 0)
        if unsure.size:
            point, shift = _dyadic(x.tolist())
            signs[unsure] = [self._sign(rows[j], point, shift) for j in unsure]
        return signs

    def contains(self, rows: Sequence[int], signs: Sequence[int], x: np.ndarray) -> bool:
        """Whether x is proven to lie in the open region s_i (w_i·x + b_i) > 0, i ∈ rows."""
        return bool(np.array_equal(self.signs(x, rows), np.asarray(signs, dtype=int)))

    def _sign(self, i: int, point: list[int], shift: int) -> int:
        """The sign of w_i·x + b_i for x = point / 2^shift."""
        row = self.rows[i]
        value = sum(w * v for w, v in zip(row[:-1], point, strict=True)) + (row[-1] << shift)
        return (value > 0) - (value < 0)

    def proves_empty(self, signs: Mapping[int, int], proof: FarkasProof) -> bool:
        """Whether ``proof`` shows that R, with sign signs[i] on row i, is empty."""
        rows, multipliers = proof.rows, proof.multipliers
        if (
            not rows
            or len(rows) != len(multipliers)
            or len(set(rows)) != len(rows)
            or any(signs.get(i) not in (1, -1) for i in rows)
            or any(not isinstance(y, int) or y <= 0 for y in multipliers)
        ):
            return False
        total = [0] * (self.d + 1)
        for i, y in zip(rows, multipliers, strict=True):
            scale = y * int(signs[i])
            for column, entry in enumerate(self.rows[i]):
                total[column] += scale * entry
        return all(entry == 0 for entry in total[:-1]) and total[-1] <= 0

    def farkas_proof(
        self, rows: Sequence[int], signs: Sequence[int], guess: np.ndarray
    ) -> FarkasProof | None:
        """An exact proof that R is empty, solved on the support of approximate multipliers
        ``guess`` (e.g. LP duals), or None when none is found there.

        On the support S the linear system Σ_S y_i s_i w_i = 0, Σ_S y_i = 1 is solved exactly
        (free unknowns set to 0); the solution is a proof when y ≥ 0 and Σ_S y_i s_i b_i ≤ 0.
        """
        largest = float(np.max(guess, initial=0.0))
        if not largest > 0.0:
            return None
        rows, signs = [int(i) for i in rows], [int(s) for s in signs]
        support = [
            (i, s)
            for i, s, y in zip(rows, signs, guess, strict=True)
            if y > _SUPPORT_CUTOFF * largest
        ]
        solution = self._normalised_solution(support)
        if solution is None or any(y < 0 for y in solution):
            return None
        denominator = math.lcm(*(int(y.q) for y in solution))
        chosen = [(i, int(y * denominator)) for (i, _), y in zip(support, solution, strict=True)]
        chosen = [(i, y) for i, y in chosen if y > 0]
        proof = FarkasProof(tuple(i for i, _ in chosen), tuple(y for _, y in chosen))
        return proof if self.proves_empty(dict(zip(rows, signs, strict=True)), proof) else None

    def _normalised_solution(self, support: list[tuple[int, int]]) -> list[fmpq] | None:
        """One exact solution of Σ y_i s_i w_i = 0, Σ y_i = 1 over the support, if consistent."""
        n = len(support)
        entries: list[int] = []
        for column in range(self.d):
            entries += [s * self.rows[i][column] for i, s in support] + [0]
        entries += [1] * n + [1]
        reduced, rank = fmpq_mat(self.d + 1, n + 1, entries).rref()
        solution = [fmpq(0)] * n
        for r in range(rank):
            pivot = next(c for c in range(n + 1) if reduced[r, c] != 0)
            if pivot == n:
                return None
            solution[pivot] = reduced[r, n]
        return solution
