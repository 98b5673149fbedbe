"""Figures 2 and 3 of Bubeck, Li, Nagaraj (COLT 2021), redrawn with certified intervals.

Each interpolating network is a vertical bar from its verified lower bound on Lip_S(f) to its
verified upper bound, and a dot at the paper's proxy (max gradient norm at 1,000 random points).
Figure 2 plots against √(n/k) with the fitted power laws (log axes), and again the paper's way
(``figure2-paper``: linear axes, coloured by d, with the lines α·√(n/k) + β); Figure 3 against
√d for the series k = n and k = ⌈10n/d⌉ at the largest n.  Matplotlib is imported only here,
and lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .analysis import ENDS, Analysis, Row

__all__ = ["draw_figures"]

_COLOURS = {"lower": "tab:blue", "upper": "tab:red", "proxy": "tab:green"}
_FORMATS = ("png", "svg")
_YLABEL = "Lipschitz constant on the sphere"


def _ends(rows: Sequence[Row]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower ends, upper ends and proxies of ``rows`` (NaN where missing)."""
    return tuple(
        np.array([r[name] or np.nan for r in rows], dtype=float)
        for name in ("lip_lower", "lip_upper", "proxy")
    )


def _intervals(
    axes: object, x: np.ndarray, rows: Sequence[Row], colour: str, label: str, first: bool
) -> None:
    """Bars from lower to upper with caps, and the proxies as open dots (labelled once)."""
    lower, upper, proxy = _ends(rows)
    axes.vlines(x, lower, upper, colors=colour, alpha=0.7, linewidth=1.5)
    axes.scatter(
        np.concatenate([x, x]),
        np.concatenate([lower, upper]),
        marker="_",
        s=60,
        color=colour,
        label=f"certified [lower, upper]{label}",
    )
    axes.scatter(
        x,
        proxy,
        s=12,
        facecolors="none",
        edgecolors="black",
        zorder=3,
        label="proxy" if first else None,
    )


def _save(figure: object, out: Path, stem: str) -> list[Path]:
    paths = []
    for suffix in _FORMATS:
        path = out / f"{stem}.{suffix}"
        figure.savefig(path, dpi=150, bbox_inches="tight")
        paths.append(path)
    return paths


def _figure2(plt: object, analysis: Analysis, out: Path) -> list[Path]:
    rows = analysis.interpolating
    x = np.array([r["sqrt_n_over_k"] for r in rows], dtype=float)
    figure, axes = plt.subplots(figsize=(7, 5))
    _intervals(axes, x, rows, "tab:gray", "", first=True)
    grid = np.geomspace(x.min(), x.max(), 50)
    for end in ENDS:
        fit = analysis.fits[end]
        if fit.exponent is not None:
            axes.plot(
                grid,
                fit.constant * grid ** (2 * fit.exponent),
                color=_COLOURS[end],
                label=f"fit to {end}: {fit.constant:.3g}·(n/k)^{fit.exponent:.2f}",
            )
    cells = analysis.envelope.cells
    if cells:
        axes.scatter(
            [(c["n"] / c["k"]) ** 0.5 for c in cells],
            [c["upper_min"] for c in cells],
            marker="v",
            s=25,
            color="tab:purple",
            zorder=4,
            label="envelope: smallest verified upper end per cell",
        )
    if analysis.c_lower:
        axes.plot(
            grid,
            analysis.c_lower * grid,
            "k--",
            label=f"certified law line {analysis.c_lower:.3g}·√(n/k)",
        )
    axes.set(
        xscale="log",
        yscale="log",
        xlabel="√(n/k)",
        ylabel=_YLABEL,
        title="Figure 2: interpolating nets, certified intervals",
    )
    axes.legend(fontsize=7)
    paths = _save(figure, out, "figure2")
    plt.close(figure)
    return paths


#: Line styles of the paper's fits in ``figure2-paper``.
_STYLES = {"proxy": "-", "lower": "--", "upper": ":"}


def _figure2_paper(plt: object, analysis: Analysis, out: Path) -> list[Path]:
    """Figure 2 as the paper draws it: linear axes in √(n/k), one colour per d (proxies as dots,
    certified intervals as bars), and the least-squares lines α·√(n/k) + β."""
    rows = analysis.interpolating
    dims = sorted({r["d"] for r in rows})
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.8, len(dims)))
    figure, axes = plt.subplots(figsize=(7, 5))
    for d, colour in zip(dims, colours, strict=True):
        inside = [r for r in rows if r["d"] == d]
        x = np.array([r["sqrt_n_over_k"] for r in inside], dtype=float)
        lower, upper, proxy = _ends(inside)
        axes.vlines(x, lower, upper, colors=[colour], alpha=0.6, linewidth=1.5)
        axes.scatter(x, proxy, s=14, color=[colour], zorder=3, label=f"d = {d}")
    grid = np.linspace(0.0, max(r["sqrt_n_over_k"] for r in rows), 50)
    for end, style in _STYLES.items():
        fit = analysis.paper_fit.get(end)
        if fit is not None and fit.slope is not None:
            r = "—" if fit.r is None else f"{fit.r:.3f}"
            axes.plot(
                grid,
                fit.slope * grid + fit.intercept,
                color="black",
                linestyle=style,
                label=f"{end}: {fit.slope:.3g}·√(n/k) + {fit.intercept:.3g}, r = {r}",
            )
    axes.set(
        xlabel="√(n/k)",
        ylabel=_YLABEL,
        title="Figure 2, the paper's axes: proxies (dots), certified intervals (bars)",
    )
    axes.legend(fontsize=7)
    paths = _save(figure, out, "figure2-paper")
    plt.close(figure)
    return paths


def _figure3(plt: object, analysis: Analysis, out: Path) -> list[Path]:
    series = analysis.figure3
    if not series:
        return []
    figure, axes = plt.subplots(figsize=(7, 5))
    colours = ("tab:blue", "tab:orange")
    for index, (name, rows) in enumerate(series.items()):
        x = np.sqrt([r["d"] for r in rows])
        _intervals(axes, x, rows, colours[index], f", {name}", first=index == 0)
    axes.set(
        xscale="log",
        yscale="log",
        xlabel="√d",
        ylabel=_YLABEL,
        title=f"Figure 3: n = {max(r['n'] for r in analysis.interpolating)}",
    )
    axes.legend(fontsize=7)
    paths = _save(figure, out, "figure3")
    plt.close(figure)
    return paths


def draw_figures(analysis: Analysis, out: Path) -> list[Path]:
    """Write figure2, figure2-paper (and figure3 when the data has its series) as PNG and SVG
    into ``out``."""
    if not analysis.interpolating:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    return (
        _figure2(plt, analysis, out)
        + _figure2_paper(plt, analysis, out)
        + _figure3(plt, analysis, out)
    )
