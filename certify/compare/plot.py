"""The comparison as a figure (needs the optional matplotlib; imported only when plotting).

Left: each method's ratio to the best verified lower end, grouped by method, one bar per
model, drawn up from a baseline below every ratio (log scale, with a line at 1), so a ratio of
exactly 1 shows as a bar.  Right: seconds against that ratio, so the cost of tightness shows.
Both ratio axes carry plain-number tick labels.  Only verified values are drawn.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .run import Comparison, ratio

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot", "ratio_ticks"]

#: Tick values per decade on the ratio axes (times a power of ten).
_NICE_TICKS = (1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 8.0)
#: Most labelled ticks on a ratio axis.
_MAX_TICKS = 9


def ratio_ticks(low: float, high: float) -> list[float]:
    """Round tick values in [low, high] (0 < low < high) for a log axis, 1 always among them
    when it lies inside, at most about `_MAX_TICKS` of them."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    ticks = [m * 10.0**e for e in decades for m in _NICE_TICKS if low <= m * 10.0**e <= high]
    ticks = ticks[:: max(1, math.ceil(len(ticks) / _MAX_TICKS))]
    return sorted(set(ticks) | ({1.0} if low <= 1.0 <= high else set()))


def _label_ratio_axis(axes: Axes, low: float, high: float) -> None:
    from matplotlib.ticker import NullFormatter

    axes.set_ylim(low, high)
    ticks = ratio_ticks(low, high)
    axes.set_yticks(ticks, [f"{tick:g}" for tick in ticks])
    axes.yaxis.set_minor_formatter(NullFormatter())


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
    ratios = [value for _, _, _, value, _ in points] or [1.0]
    baseline = min(min(ratios), 1.0) / 1.15
    top = max(max(ratios), 1.0) * 1.15
    for index, comparison in enumerate(comparisons):
        mine = [(methods.index(name), value) for i, name, _, value, _ in points if i == index]
        if mine:
            where, heights = zip(*mine, strict=True)
            offset = (index - (len(comparisons) - 1) / 2) * width
            bars.bar(
                np.array(where) + offset,
                np.array(heights) - baseline,
                width,
                bottom=baseline,
                label=comparison.source,
                color=colours[index],
            )
    bars.axhline(1.0, color="black", linewidth=0.8)
    bars.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
    bars.set_yscale("log")
    _label_ratio_axis(bars, baseline, top)
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
    _label_ratio_axis(times, baseline, top)
    times.set_xlabel("seconds")
    times.set_ylabel("value / best verified lower bound")
    times.set_title("time against tightness (▲ upper, ▼ lower)")
    if points:
        bars.legend(fontsize=7)
    figure.savefig(path, dpi=120)
    return True
