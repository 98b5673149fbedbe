"""The comparison as a figure (needs the optional matplotlib; imported only when plotting).

Left: each method's ratio to the best verified lower end, grouped by method, one bar per
model, drawn from 1 (up for upper bounds, down for lower bounds; log scale).  Right: seconds
against that ratio, so the cost of tightness shows.  Only verified values are drawn.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .run import Comparison, ratio

__all__ = ["plot"]


def _points(comparisons: Sequence[Comparison]) -> list[tuple[int, str, str, float, float]]:
    """(model index, method, kind, ratio, seconds) of every verified result with a ratio."""
    points = []
    for index, comparison in enumerate(comparisons):
        for result in comparison.report.methods:
            value = ratio(result, comparison.report)
            if result.verified and value is not None and value > 0:
                points.append((index, result.name, result.kind, value, result.seconds))
    return points


def plot(comparisons: Sequence[Comparison], path: str | os.PathLike) -> bool:
    """Save the two-panel figure to ``path``; False (nothing written) without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    points = _points(comparisons)
    methods = list(dict.fromkeys(name for _, name, _, _, _ in points))
    figure = Figure(figsize=(12, 4.8), layout="constrained")
    bars, times = figure.subplots(1, 2)
    width = 0.8 / max(len(comparisons), 1)
    colours = [f"C{i % 10}" for i in range(len(comparisons))]
    for index, comparison in enumerate(comparisons):
        mine = [(methods.index(name), value) for i, name, _, value, _ in points if i == index]
        if mine:
            where, heights = zip(*mine, strict=True)
            offset = (index - (len(comparisons) - 1) / 2) * width
            bars.bar(
                np.array(where) + offset,
                np.array(heights) - 1.0,
                width,
                bottom=1.0,
                label=comparison.source,
                color=colours[index],
            )
    bars.axhline(1.0, color="black", linewidth=0.8)
    bars.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
    bars.set_yscale("log")
    bars.set_ylabel("value / best verified lower bound")
    bars.set_title("tightness per method")
    for index, name, kind, value, seconds in points:
        times.scatter(
            max(seconds, 1e-4), value, color=colours[index], marker="^" if kind == "upper" else "v"
        )
        times.annotate(
            name, (max(seconds, 1e-4), value), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    times.axhline(1.0, color="black", linewidth=0.8)
    times.set_xscale("log")
    times.set_yscale("log")
    times.set_xlabel("seconds")
    times.set_ylabel("value / best verified lower bound")
    times.set_title("time against tightness (▲ upper, ▼ lower)")
    if comparisons:
        bars.legend(fontsize=7)
    figure.savefig(path, dpi=120)
    return True
