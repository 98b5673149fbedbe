"""The envelope of the search for smooth interpolators, and both conjectures' verdicts.

Per cell (n, d, k), the envelope is the smallest verified upper end of Lip_S(f) (each row's
``lip_upper``: a global bound, or a bound on the closed unit ball ⊇ S^{d−1} for data on the
sphere) among all the interpolating nets found there (Adam, smooth training, constructions).
Conjecture 1 of Bubeck, Li, Nagaraj (COLT 2021) says every interpolator has Lip_S ≥ c·√(n/k);
it is contradicted, with a re-checkable certificate, wherever the envelope lies below the curve
c·√(n/k) traced by the trained nets' lower ends (c fitted at exponent ½).  Conjecture 2 says
some interpolator has Lip ≤ C·√(n/k) for n/d ≤ k ≤ n (up to constants); the envelope meets it
with C = the largest ratio envelope/√(n/k) over those cells.  The envelope's exponent of n/k
comes from the least-squares fit over cells with a percentile bootstrap (`fit_power_law`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .analysis import Fit, Row, fit_power_law, is_trained

__all__ = ["Envelope", "envelope"]

#: A constant of Conjecture 2 counts as modest up to the height of the paper's construction.
MODEST = 10.0


@dataclass(frozen=True)
class Envelope:
    """The envelope per cell, its fit, and the conjectures' numbers."""

    cells: list[dict[str, object]]
    fit: Fit
    c_trained: float | None
    below: int
    tight_constant: float | None
    tight_cells: int
    adam_over_smooth: float | None

    def summary(self) -> dict[str, object]:
        return {"exponent": self.fit.to_dict()["exponent"], "cells": self.cells}

    def verdicts(self) -> list[str]:
        if not self.cells:
            return ["- Envelope: no interpolating nets."]
        fit = self.fit
        lines = []
        if fit.exponent is not None:
            lines.append(
                f"- The envelope (smallest verified upper end per cell, over "
                f"{len(self.cells)} cells) grows as (n/k)^{fit.exponent:.3f} [95 % CI "
                f"{fit.exponent_ci[0]:.3f}, {fit.exponent_ci[1]:.3f}]."
            )
        if self.c_trained is not None:
            verdict = (
                "the law survived this attempt"
                if self.below == 0
                else "there the trained nets' curve is not a lower bound for all interpolators "
                "(a verified upper end lies below it; the conjecture's unspecified c "
                "may still be smaller)"
            )
            lines.append(
                f"- Conjecture 1: the envelope lies below the trained nets' lower-end "
                f"curve {self.c_trained:.3g}·√(n/k) in {self.below} of "
                f"{len(self.cells)} cells: {verdict}."
            )
        if self.tight_constant is not None:
            modest = "modest" if self.tight_constant <= MODEST else "not modest"
            lines.append(
                f"- Conjecture 2: over the {self.tight_cells} cells with n/d ≤ k ≤ n, "
                f"some interpolator has a verified Lip ≤ C·√(n/k) with C = "
                f"{self.tight_constant:.3g} ({modest}, threshold {MODEST:g})."
            )
        if self.adam_over_smooth is not None:
            lines.append(
                f"- Median over cells of (smallest Adam upper end)/(smallest smooth "
                f"upper end): {self.adam_over_smooth:.3g}."
            )
        return lines


def _smallest_upper(rows: Sequence[Row]) -> dict[tuple[int, int, int], float]:
    best: dict[tuple[int, int, int], float] = defaultdict(lambda: math.inf)
    for r in rows:
        if r.get("lip_upper") is not None:
            cell = (r["n"], r["d"], r["k"])
            best[cell] = min(best[cell], float(r["lip_upper"]))
    return dict(best)


def _ratio_median(top: dict, bottom: dict) -> float | None:
    ratios = [top[c] / bottom[c] for c in top.keys() & bottom.keys() if bottom[c] > 0]
    return float(np.median(ratios)) if ratios else None


def _trained_constant(rows: Sequence[Row]) -> float | None:
    """c of the trained nets' lower ends at exponent ½ (geometric mean of lower/√(n/k))."""
    values = np.array(
        [
            float(r["lip_lower"]) / math.sqrt(r["n"] / r["k"])
            for r in rows
            if is_trained(r) and r.get("lip_lower")
        ]
    )
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.exp(np.mean(np.log(values)))) if values.size else None


def envelope(rows: Sequence[Row], resamples: int, seed: int) -> Envelope:
    """The envelope of the interpolating, non-crashed ``rows``."""
    smallest = _smallest_upper(rows)
    cells = [
        {"n": n, "d": d, "k": k, "upper_min": upper, "ratio": upper / math.sqrt(n / k)}
        for (n, d, k), upper in sorted(smallest.items())
    ]
    ratio = np.array([c["n"] / c["k"] for c in cells], dtype=float)
    fit = fit_power_law(ratio, np.array([c["upper_min"] for c in cells]), resamples, seed)
    c_trained = _trained_constant(rows)
    below = sum(c["ratio"] < c_trained for c in cells) if c_trained is not None else 0
    tight = [c["ratio"] for c in cells if c["n"] / c["d"] <= c["k"] <= c["n"]]
    adam = _smallest_upper([r for r in rows if is_trained(r)])
    smooth = _smallest_upper([r for r in rows if str(r.get("train")).startswith("smooth")])
    return Envelope(
        cells,
        fit,
        c_trained,
        below,
        max(tight, default=None),
        len(tight),
        _ratio_median(adam, smooth),
    )
