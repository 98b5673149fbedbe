"""The scaling benchmark's outputs: a CSV of every measurement, a Markdown table, and a plot."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

__all__ = ["write_csv", "write_markdown", "write_plot"]

COLUMNS = (
    "seconds_solve",
    "seconds_verify",
    "seconds_total",
    "ratio_to_floor",
    "bound",
    "verified",
    "sdp_lower",
    "gap",
    "solver",
    "peak_mb",
    "added_mb",
    "load",
)


class _Row(Protocol):
    d: int
    k: int
    m: int
    label: str
    result: dict
    note: str


def write_csv(rows: Sequence[_Row], path: Path) -> None:
    """One line per measurement; empty cells where a value does not apply."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("d", "k", "m", "method", *COLUMNS, "note"))
        for r in rows:
            values = [r.result.get(c, "") for c in COLUMNS]
            writer.writerow((r.d, r.k, r.m, r.label, *values, r.note or r.result.get("note", "")))


def _number(value: object, digits: int = 3) -> str:
    if isinstance(value, bool) or value in ("", None):
        return {True: "yes", False: "no"}.get(value, "")
    if isinstance(value, str):
        return value
    value = float(value)
    if not math.isfinite(value):
        return ""
    return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.0f}"


def write_markdown(rows: Sequence[_Row], path: Path, machine: str) -> None:
    """A table per output count m; times in seconds, memory in MB (peak resident, and the part
    added by the method above what the process held before it)."""
    lines = [
        "# LipSDP-Neuron scaling",
        "",
        f"Machine: {machine}.",
        "",
        "gap = bound / (largest dual lower bound found at that size) − 1, an upper bound on "
        "the distance to the SDP optimum; ratio = total time / one eigh of size d + k; "
        "load = 1-minute load average when the measurement started.",
        "",
    ]
    for m in sorted({r.m for r in rows}):
        lines += [
            f"## m = {m}",
            "",
            "| d | k | method | solve s | verify s | total s | ratio | bound | verified "
            "| gap | peak MB | added MB | load | note |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
        ]
        for r in (r for r in rows if r.m == m):
            x = r.result
            cells = (
                x.get("seconds_solve"),
                x.get("seconds_verify"),
                x.get("seconds_total"),
                x.get("ratio_to_floor"),
                _number(x.get("bound"), 7),
                x.get("verified"),
                _number(x.get("gap"), 2),
                x.get("peak_mb"),
                x.get("added_mb"),
                x.get("load"),
            )
            note = r.note or (f"solver: {x['solver']}" if x.get("solver") else "")
            lines.append(
                f"| {r.d} | {r.k} | {r.label} | "
                + " | ".join(_number(c) for c in cells)
                + f" | {note} |"
            )
        lines.append("")
    path.write_text("\n".join(lines))


def write_plot(rows: Sequence[_Row], path: Path) -> None:
    """Total time against k, one line per method and m (log–log); skipped without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axis = plt.subplots(figsize=(8, 5))
    colours = plt.get_cmap("tab10").colors
    styles = dict(zip(sorted({r.m for r in rows}), ("-", "--", ":", "-."), strict=False))
    for colour, label in zip(colours, dict.fromkeys(r.label for r in rows), strict=False):
        for m, style in styles.items():
            points = sorted(
                (r.k, r.result["seconds_total"])
                for r in rows
                if r.label == label and r.m == m and "seconds_total" in r.result
            )
            if points:
                axis.plot(
                    *zip(*points, strict=True),
                    marker="o",
                    color=colour,
                    linestyle=style,
                    label=f"{label}, m={m}",
                )
    axis.set(
        xscale="log",
        yscale="log",
        xlabel="hidden neurons k",
        ylabel="seconds (solve + verify)",
        title="LipSDP-Neuron: time against width",
    )
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
