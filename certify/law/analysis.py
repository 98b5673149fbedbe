"""Fits and verdicts over the rows of a sweep.

Power law: log Lip = log c + γ·log(n/k) by least squares, over the interpolating networks, for
the certified lower ends, the certified upper ends and the paper's proxy.  The exponent reported
is γ of n/k: the law of robustness predicts Lip ≳ c·(n/k)^{1/2}, i.e. γ = 1/2.  Confidence
intervals (95 %) come from the percentile bootstrap over networks (Efron and Tibshirani, *An
Introduction to the Bootstrap*, 1993, §13), seeded.

The law as a certified statement: every interpolating network has Lip_S ≥ c·√(n/k) for all
c ≤ c_lower = min Lip_lower/√(n/k) (proven), and some network violates it for every
c > c_ceiling = min Lip_upper/√(n/k) (proven); the intervals leave (c_lower, c_ceiling] open.
Theorem 5 (bias-free nets): holds on a net when the proven lower end of L·‖A‖₂·‖W‖₂ is ≥ √(n/k).

The paper's own fit (Bubeck, Li, Nagaraj, COLT 2021, Figure 2) is a straight line in √(n/k):
y = α·√(n/k) + β by least squares, with Pearson's correlation r; it is given for the lower ends,
the upper ends and the proxy, over all nets and for each d.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .envelope import Envelope

__all__ = [
    "NARROW",
    "Analysis",
    "Fit",
    "LineFit",
    "analyse",
    "fit_line",
    "fit_power_law",
    "is_trained",
    "paper_fits",
    "spread",
]

Row = dict[str, object]
#: Buckets of k/n, from the regime where the law is tight (k ≈ n) to few neurons.
BUCKETS = (
    (0.5, math.inf, "k ≥ n/2"),
    (0.1, 0.5, "n/10 ≤ k < n/2"),
    (0.02, 0.1, "n/50 ≤ k < n/10"),
    (0.0, 0.02, "k < n/50"),
)
ENDS = ("lower", "upper", "proxy")
#: The law counts as tight where the median upper end is within this factor of c_lower·√(n/k).
TIGHT = 3.0
#: The width asked of every certified interval (upper/lower); `certify law refine` works on the
#: wider ones, and the report says why each is still wider.
NARROW = 1.05
_COLUMNS = {"lower": "lip_lower", "upper": "lip_upper", "proxy": "proxy"}


@dataclass(frozen=True)
class Fit:
    """log y = log c + γ·log x by least squares, with bootstrap 95 % intervals (None when the
    data cannot determine the fit: fewer than 3 nets or a single value of x)."""

    nets: int
    exponent: float | None = None
    exponent_ci: tuple[float, float] | None = None
    constant: float | None = None
    constant_ci: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, object]:
        def interval(value: float | None, ci: tuple[float, float] | None) -> dict[str, object]:
            low, high = ci if ci is not None else (None, None)
            return {"value": value, "ci_low": low, "ci_high": high}

        return {
            "nets": self.nets,
            "exponent": interval(self.exponent, self.exponent_ci),
            "constant": interval(self.constant, self.constant_ci),
        }


def _least_squares(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slopes and intercepts of the rows of x, y (one regression per row)."""
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (xc * yc).sum(axis=-1) / (xc * xc).sum(axis=-1)
    return slope, y.mean(axis=-1) - slope * x.mean(axis=-1)


def fit_power_law(x: np.ndarray, y: np.ndarray, resamples: int, seed: int) -> Fit:
    """y ≈ c·x^γ over the positive pairs, with percentile-bootstrap intervals (nets resampled)."""
    usable = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    lx, ly = np.log(x[usable]), np.log(y[usable])
    if lx.size < 3 or np.ptp(lx) == 0:
        return Fit(int(lx.size))
    slope, intercept = _least_squares(lx, ly)
    picks = np.random.default_rng(seed).integers(0, lx.size, size=(resamples, lx.size))
    slopes, intercepts = _least_squares(lx[picks], ly[picks])
    keep = np.isfinite(slopes)

    def ci(values: np.ndarray) -> tuple[float, float]:
        low, high = np.percentile(values[keep], [2.5, 97.5])
        return float(low), float(high)

    return Fit(
        int(lx.size), float(slope), ci(slopes), float(np.exp(intercept)), ci(np.exp(intercepts))
    )


@dataclass(frozen=True)
class LineFit:
    """y = slope·x + intercept by least squares and Pearson's r (None where the data cannot
    determine them: fewer than 2 points or a single x; r also needs y to vary)."""

    nets: int
    slope: float | None = None
    intercept: float | None = None
    r: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {"nets": self.nets, "slope": self.slope, "intercept": self.intercept, "r": self.r}


def fit_line(x: np.ndarray, y: np.ndarray) -> LineFit:
    """The least-squares line through the finite pairs (x, y), with r = cov(x, y)/(σ_x σ_y)."""
    usable = np.isfinite(x) & np.isfinite(y)
    x, y = x[usable], y[usable]
    if x.size < 2 or np.ptp(x) == 0:
        return LineFit(int(x.size))
    slope, intercept = _least_squares(x, y)
    xc, yc = x - x.mean(), y - y.mean()
    spread_y = float(np.sum(yc * yc))
    r = float(np.sum(xc * yc) / np.sqrt(np.sum(xc * xc) * spread_y)) if spread_y > 0 else None
    return LineFit(int(x.size), float(slope), float(intercept), r)


def paper_fits(rows: Sequence[Row]) -> dict[str, LineFit]:
    """The paper's fit y = α·√(n/k) + β of each end (lower, upper, proxy) over ``rows``."""
    root = _column(rows, "sqrt_n_over_k")
    return {end: fit_line(root, _column(rows, _COLUMNS[end])) for end in ENDS}


def figure3_series(rows: Sequence[Row]) -> dict[str, list[Row]]:
    """The rows of Figure 3 at the largest n, k = n and k = ⌈10n/d⌉, ordered by d: the series
    with at least two values of d."""
    from .grid import K_RULES

    if not rows:
        return {}
    top = max(r["n"] for r in rows)
    series = {
        f"k = {rule}": sorted(
            (r for r in rows if r["n"] == top and r["k"] == K_RULES[rule](r["n"], r["d"])),
            key=lambda r: r["d"],
        )
        for rule in K_RULES
    }
    return {name: found for name, found in series.items() if len({r["d"] for r in found}) >= 2}


def figure3_fits(series: dict[str, list[Row]]) -> dict[str, dict[str, LineFit]]:
    """The fit y = α·√d + β of each end along each series of Figure 3 (the paper plots the
    proxy against √d)."""
    return {
        name: {
            end: fit_line(np.sqrt(_column(rows, "d")), _column(rows, _COLUMNS[end])) for end in ENDS
        }
        for name, rows in series.items()
    }


def is_trained(row: Row) -> bool:
    """A net trained by plain Adam (rows written before ``train`` existed count as Adam)."""
    return row.get("train") in (None, "adam")


def _column(rows: Sequence[Row], name: str) -> np.ndarray:
    return np.array([math.nan if r.get(name) is None else float(r[name]) for r in rows])


@dataclass(frozen=True)
class Analysis:
    """Everything the report shows, computed once from the rows."""

    runs: int
    errors: int
    interpolating: list[Row] = field(repr=False)
    fits: dict[str, Fit]
    c_lower: float | None
    c_ceiling: float | None
    c_half: float | None
    line_counts: dict[str, int]
    theorem5: dict[str, object]
    buckets: list[dict[str, object]]
    wide: list[Row] = field(repr=False)
    gap: float
    envelope: Envelope = field(repr=False)
    paper_fit: dict[str, LineFit] = field(default_factory=dict)
    paper_fit_by_d: dict[int, dict[str, LineFit]] = field(default_factory=dict)
    #: How many upper ends hold on all of R^d ("global") and how many on the unit ball.
    upper_domains: dict[str, int] = field(default_factory=dict)
    #: Figure 3's series (k = n and k = ⌈10n/d⌉ at the largest n), and their fits against √d.
    figure3: dict[str, list[Row]] = field(default_factory=dict, repr=False)
    figure3_fit: dict[str, dict[str, LineFit]] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """The JSON object of ``certify law report --json``."""
        out: dict[str, object] = {
            "runs": self.runs,
            "interpolated": len(self.interpolating),
            "errors": self.errors,
            "exponent_of": "n/k (the law predicts 0.5)",
        }
        for end in ENDS:
            fit = self.fits[end].to_dict()
            out[f"exponent_{end}"] = fit["exponent"]
            out[f"constant_{end}"] = fit["constant"]
        out["paper_fit"] = {end: fit.to_dict() for end, fit in self.paper_fit.items()}
        out["paper_fit_by_d"] = {
            str(d): {end: fit.to_dict() for end, fit in fits.items()}
            for d, fits in self.paper_fit_by_d.items()
        }
        out["figure3_fit"] = {
            name: {end: fit.to_dict() for end, fit in fits.items()}
            for name, fits in self.figure3_fit.items()
        }
        out["upper_domains"] = self.upper_domains
        out |= {
            "c_lower": self.c_lower,
            "c_ceiling": self.c_ceiling,
            "c_half": self.c_half,
            "line_check": self.line_counts,
            "theorem5_nets": self.theorem5["nets"],
            "theorem5_holds": self.theorem5["holds"],
            "theorem5_min_ratio": self.theorem5["min_ratio"],
            "theorem5_refuted": self.theorem5["refuted"],
            "gap_threshold": self.gap,
            "wide_gaps": len(self.wide),
            "buckets": self.buckets,
            "envelope": self.envelope.summary(),
            "median_adam_over_smooth": self.envelope.adam_over_smooth,
        }
        return out

    def verdict_text(self) -> str:
        """The verdicts in a few Markdown bullet points."""
        from .report import verdicts

        return "\n".join(verdicts(self))


def _theorem5(rows: Sequence[Row]) -> dict[str, object]:
    """Theorem 5 on the bias-free interpolating nets: proven to hold, refuted, min ratio."""
    free = [r for r in rows if r["bias_free"]]
    if not free:
        return {"nets": 0, "holds": None, "refuted": 0, "min_ratio": None}
    low, high = _root_bounds(free)
    holds = _column(free, "theorem5_lower") >= high
    refuted = _column(free, "theorem5_upper") < low
    root = _column(free, "sqrt_n_over_k")
    return {
        "nets": len(free),
        "holds": float(np.mean(holds)),
        "refuted": int(np.sum(refuted)),
        "min_ratio": float(np.min(_column(free, "theorem5") / root)),
    }


def _buckets(rows: Sequence[Row], c_lower: float | None) -> list[dict[str, object]]:
    """Per range of k/n: medians of lower, upper and proxy over √(n/k), and whether the median
    upper end is within ``TIGHT`` of the certified law line c_lower·√(n/k) (the law is tight:
    trained nets there are provably about as robust as the law allows)."""
    out = []
    ratio = _column(rows, "k") / _column(rows, "n")
    for low, high, label in BUCKETS:
        inside = [r for r, q in zip(rows, ratio, strict=True) if low <= q < high]
        if not inside:
            continue
        root = _column(inside, "sqrt_n_over_k")
        medians = {end: _median(_column(inside, _COLUMNS[end]) / root) for end in ENDS}
        tight = None
        if c_lower and medians["upper"] is not None:
            tight = bool(medians["upper"] <= TIGHT * c_lower)
        out.append(
            {
                "range": label,
                "nets": len(inside),
                **{f"median_{end}_over_root": value for end, value in medians.items()},
                "tight": tight,
            }
        )
    return out


def _median(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else None


def _line_counts(rows: Sequence[Row], c: float | None) -> dict[str, int]:
    """How many intervals lie above, across or below the line c·√(n/k)."""
    if c is None:
        return {"above": 0, "straddles": 0, "below": 0}
    line = c * _column(rows, "sqrt_n_over_k")
    lower, upper = _column(rows, "lip_lower"), _column(rows, "lip_upper")
    above = int(np.sum(lower >= line))
    below = int(np.sum(upper < line))
    return {"above": above, "straddles": len(rows) - above - below, "below": below}


def _geometric_mean(values: np.ndarray) -> float | None:
    """exp(mean log v) over the positive finite values: the least-squares constant of
    log v = log c, i.e. the fit with the exponent fixed."""
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.exp(np.mean(np.log(values)))) if values.size else None


def spread(row: Row) -> float:
    """upper / lower of a row's certified interval (inf without a positive lower end)."""
    lower, upper = row.get("lip_lower"), row.get("lip_upper")
    if upper is None:
        return math.inf
    return float(upper) / float(lower) if lower else math.inf


def _down(x: np.ndarray) -> np.ndarray:
    return np.nextafter(x, -np.inf)


def _up(x: np.ndarray) -> np.ndarray:
    return np.nextafter(x, np.inf)


def _root_bounds(rows: Sequence[Row]) -> tuple[np.ndarray, np.ndarray]:
    """Floats below and above the exact √(n/k) of each row (each rounded step moved outward)."""
    ratio = _column(rows, "n") / _column(rows, "k")
    return _down(np.sqrt(_down(ratio))), _up(np.sqrt(_up(ratio)))


def _smallest(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(values.min()) if values.size else None


def analyse(
    rows: Sequence[Row], resamples: int = 2000, gap: float = 2.0, seed: int = 0
) -> Analysis:
    """Fit the scaling over the interpolating, non-crashed rows and derive the verdicts; the
    fits and lines describe the Adam-trained nets (all nets when there are none), the envelope
    every interpolator."""
    from .envelope import envelope

    found = [r for r in rows if r.get("error") is None and r.get("interpolated") == 1]
    good = [r for r in found if is_trained(r)] or found
    ratio = _column(good, "n") / _column(good, "k")
    fits = {
        end: fit_power_law(ratio, _column(good, _COLUMNS[end]), resamples, seed) for end in ENDS
    }
    root = _column(good, "sqrt_n_over_k")
    lower, upper = _column(good, "lip_lower"), _column(good, "lip_upper")
    low, high = _root_bounds(good)
    c_lower = _smallest(_down(lower / high))
    c_half = _geometric_mean(lower / root)
    wide = sorted((r for r in good if not spread(r) <= gap), key=spread, reverse=True)
    by_d = {d: [r for r in good if r["d"] == d] for d in sorted({r["d"] for r in good})}
    series = figure3_series(good)
    return Analysis(
        runs=len(rows),
        errors=sum(r.get("error") is not None for r in rows),
        interpolating=good,
        fits=fits,
        c_lower=c_lower,
        c_ceiling=_smallest(_up(upper / low)),
        c_half=c_half,
        line_counts=_line_counts(good, c_half),
        theorem5=_theorem5(good),
        buckets=_buckets(good, c_lower),
        wide=wide,
        gap=gap,
        envelope=envelope(found, resamples, seed),
        paper_fit=paper_fits(good),
        paper_fit_by_d={d: paper_fits(inside) for d, inside in by_d.items()},
        upper_domains=_upper_domains(good),
        figure3=series,
        figure3_fit=figure3_fits(series),
    )


def _upper_domains(rows: Sequence[Row]) -> dict[str, int]:
    """Counts of ``upper_domain`` among rows with an upper end (rows from before that column
    hold global bounds)."""
    from .sphere import GLOBAL

    domains = [r.get("upper_domain") or GLOBAL for r in rows if r.get("lip_upper") is not None]
    return dict(sorted(Counter(domains).items()))
