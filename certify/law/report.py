"""The Markdown report of a sweep: verdicts first, then the fits, tables and figures behind them."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from .analysis import ENDS, NARROW, TIGHT, Analysis, Fit, LineFit, Row, spread
from .figures import draw_figures

__all__ = ["verdicts", "write_report", "write_rows"]

#: Rows listed at most in each table of networks.
_LISTED = 25


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _exponent_verdict(end: str, fit: Fit) -> str:
    if fit.exponent is None:
        return f"- {end} ends: too few nets or a single n/k, no fit."
    low, high = fit.exponent_ci
    if low <= 0.5 <= high:
        meaning = "consistent with the law's √(n/k)"
    elif high < 0:
        meaning = "decreasing as n/k grows, against the law"
    elif high < 0.5:
        meaning = "growing more slowly than √(n/k)"
    else:
        meaning = "growing faster than √(n/k)"
    return (
        f"- {end} ends grow as (n/k)^γ with γ = {fit.exponent:.3f} "
        f"[95 % CI {low:.3f}, {high:.3f}] over {fit.nets} nets: {meaning}."
    )


def _paper_fit_verdict(analysis: Analysis) -> str:
    """The paper's form y = α·√(n/k) + β of each end, with r."""
    fits = [
        f"{end} {_number(fit.slope)}·√(n/k) + {_number(fit.intercept)} (r = {_number(fit.r)})"
        for end, fit in analysis.paper_fit.items()
    ]
    return "- The paper's linear fit: " + "; ".join(fits) + "."


def verdicts(analysis: Analysis) -> list[str]:
    """Short, actionable statements, each backed by a section of the report."""
    if not analysis.interpolating:
        return ["- No interpolating network yet: nothing to fit (raise --max-epochs or k)."]
    nets = len(analysis.interpolating)
    lines = [
        f"- Certified law: every one of the {nets} interpolating nets has "
        f"Lip_S ≥ c·√(n/k) with c = c_lower = {_number(analysis.c_lower)} (proven); no "
        f"c > c_ceiling = {_number(analysis.c_ceiling)} holds for all of them (proven upper ends).",
    ]
    counts = analysis.line_counts
    lines.append(
        f"- Against the line c·√(n/k) with c = {_number(analysis.c_half)} fitted to the lower "
        f"ends at exponent ½: {counts['above']} intervals lie wholly above, "
        f"{counts['straddles']} straddle it, {counts['below']} lie wholly below "
        "(certifiably more robust than the fitted law)."
    )
    lines += [_exponent_verdict(end, analysis.fits[end]) for end in ENDS]
    lines.append(_paper_fit_verdict(analysis))
    tight = [b["range"] for b in analysis.buckets if b["tight"]]
    loose = [b["range"] for b in analysis.buckets if b["tight"] is False]
    lines.append(
        f"- Tight (median upper end within ×{TIGHT:g} of c_lower·√(n/k)): "
        f"{', '.join(tight) or 'nowhere'}; not tight: {', '.join(loose) or 'nowhere'}."
    )
    theorem = analysis.theorem5
    if theorem["nets"]:
        lines.append(
            f"- Theorem 5 (L·‖a‖·‖W‖ ≥ √(n/k)) is proven on {theorem['holds']:.1%} of the "
            f"{theorem['nets']} bias-free interpolating nets, refuted on {theorem['refuted']}; "
            f"smallest ratio L·‖a‖·‖W‖/√(n/k) = {theorem['min_ratio']:.4g}."
        )
    else:
        lines.append("- Theorem 5: no bias-free interpolating nets (sweep with --bias-free).")
    lines += analysis.envelope.verdicts()
    lines.append(
        f"- {len(analysis.wide)} nets have upper/lower > {analysis.gap:g}: there the certified "
        "interval is too wide to place the net on either side of the law (listed below; a "
        "longer --time-limit or another --upper-method may narrow them)."
    )
    return lines


def _fit_table(analysis: Analysis) -> list[str]:
    lines = [
        "| ends | nets | exponent γ of n/k | 95 % CI | constant c | 95 % CI |",
        "|---|---|---|---|---|---|",
    ]
    for end in ENDS:
        fit = analysis.fits[end]
        eci = fit.exponent_ci or (None, None)
        cci = fit.constant_ci or (None, None)
        lines.append(
            f"| {end} | {fit.nets} | {_number(fit.exponent)} | [{_number(eci[0])}, "
            f"{_number(eci[1])}] | {_number(fit.constant)} | [{_number(cci[0])}, "
            f"{_number(cci[1])}] |"
        )
    return lines


def _line_cells(fits: dict[str, LineFit]) -> str:
    return " | ".join(
        f"{_number(fits[end].slope)} | {_number(fits[end].intercept)} | {_number(fits[end].r)}"
        for end in ENDS
    )


def _paper_fit_table(analysis: Analysis) -> list[str]:
    """α, β and r of y = α·√(n/k) + β for each end, over all nets and for each d."""
    header = " | ".join(f"{end} α | {end} β | {end} r" for end in ENDS)
    lines = [f"| d | nets | {header} |", "|---|---|" + "---|" * (3 * len(ENDS))]
    if analysis.paper_fit:
        nets = analysis.paper_fit["lower"].nets
        lines.append(f"| all | {nets} | {_line_cells(analysis.paper_fit)} |")
    for d, fits in analysis.paper_fit_by_d.items():
        lines.append(f"| {d} | {fits['lower'].nets} | {_line_cells(fits)} |")
    return lines


def _figure3_lines(analysis: Analysis) -> list[str]:
    """The section on Figure 3: α, β and r of y = α·√d + β for each end along each series."""
    if not analysis.figure3_fit:
        return []
    header = " | ".join(f"{end} α | {end} β | {end} r" for end in ENDS)
    n = max(r["n"] for rows in analysis.figure3.values() for r in rows)
    lines = [
        f"## Figure 3: Lip ≈ α·√d + β along k = n and k = ⌈10n/d⌉ (n = {n})",
        "",
        f"| series | d | {header} |",
        "|---|---|" + "---|" * (3 * len(ENDS)),
    ]
    for name, fits in analysis.figure3_fit.items():
        values = sorted({r["d"] for r in analysis.figure3[name]})
        lines.append(f"| {name} | {values[0]}–{values[-1]} | {_line_cells(fits)} |")
    return [*lines, ""]


def _upper_domain_line(analysis: Analysis) -> str:
    counts = analysis.upper_domains
    listed = ", ".join(f"{domain}: {count}" for domain, count in counts.items()) or "none"
    return (
        "Where the upper ends hold (the smaller verified bound of all of R^d and, for data "
        f"on the sphere, the closed unit ball ⊇ S^(d−1)): {listed}."
    )


def _bucket_table(analysis: Analysis) -> list[str]:
    lines = [
        "| k/n | nets | median lower/√(n/k) | median upper/√(n/k) | median proxy/√(n/k) | tight |",
        "|---|---|---|---|---|---|",
    ]
    for b in analysis.buckets:
        lines.append(
            f"| {b['range']} | {b['nets']} | {_number(b['median_lower_over_root'])} | "
            f"{_number(b['median_upper_over_root'])} | {_number(b['median_proxy_over_root'])} "
            f"| {b['tight']} |"
        )
    return lines


def _net_table(rows: Sequence[Row]) -> list[str]:
    lines = [
        "| n | d | k | seed | lower | upper | upper/lower | proxy | upper method (domain) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows[:_LISTED]:
        lines.append(
            f"| {r['n']} | {r['d']} | {r['k']} | {r['seed']} | {_number(r['lip_lower'])} | "
            f"{_number(r['lip_upper'])} | {_number(spread(r))} | {_number(r['proxy'])} | "
            f"{r['upper_method']} ({r.get('upper_domain') or 'global'}) |"
        )
    if len(rows) > _LISTED:
        lines.append(f"\n({len(rows) - _LISTED} more not listed.)")
    return lines


def _envelope_table(analysis: Analysis) -> list[str]:
    lines = ["| n | d | k | smallest upper | / √(n/k) |", "|---|---|---|---|---|"]
    lines += [
        f"| {c['n']} | {c['d']} | {c['k']} | {_number(c['upper_min'])} | {_number(c['ratio'])} |"
        for c in analysis.envelope.cells
    ]
    return lines


def _failures(rows: Sequence[Row]) -> list[str]:
    """Cells (n, d, k) that did not interpolate or crashed, with their counts."""
    missed = Counter(
        (r["n"], r["d"], r["k"])
        for r in rows
        if r.get("error") is None and r.get("interpolated") != 1
    )
    crashed = [r for r in rows if r.get("error") is not None]
    lines = [
        f"{sum(missed.values())} runs did not interpolate (kept in the database, left out "
        f"of every fit); cells (n, d, k) × runs: "
        + (", ".join(f"{cell} × {count}" for cell, count in sorted(missed.items())) or "none")
        + "."
    ]
    if crashed:
        lines.append(f"\n{len(crashed)} runs crashed; the first error: `{crashed[0]['error']}`.")
    return lines


def _why_wide(row: Row) -> str:
    """Why a row's interval is still wider than `NARROW`."""
    if row.get("refined_by") is None:
        return "not refined (certify law refine)"
    if row.get("refine_note"):
        return "exact does not apply or was not verified"
    known, upper = row.get("lip_global_lower"), row.get("lip_upper")
    if known and upper is not None and upper <= NARROW * known:
        return "Lip(f) known to ×1.05: the width left is Lip_S(f) against Lip(f)"
    return "exact did not close Lip(f) within its allowance"


def _before(row: Row) -> Row:
    """The ends a refined row had before `certify law refine`."""
    return {"lip_lower": row["lip_lower_before"], "lip_upper": row["lip_upper_before"]}


def _lt(a: float | None, b: float | None) -> bool:
    """a < b, False when either is missing."""
    return a is not None and b is not None and a < b


def _refinement_lines(rows: Sequence[Row]) -> list[str]:
    """What `certify law refine` changed, and why the intervals still wider than ×1.05 are."""
    good = [r for r in rows if r.get("interpolated") == 1 and r.get("error") is None]
    refined = [r for r in good if r.get("refined_by") is not None]
    lines = []
    if refined:
        before = sorted(spread(_before(r)) for r in refined)
        after = sorted(spread(r) for r in refined)
        narrowed = sum(_lt(r["lip_upper"], r["lip_upper_before"]) for r in refined)
        raised = sum(_lt(r["lip_lower_before"], r["lip_lower"]) for r in refined)
        lines.append(
            f"{len(refined)} nets refined: upper end lowered on {narrowed}, lower end raised on "
            f"{raised}; median upper/lower {_number(before[len(before) // 2])} before, "
            f"{_number(after[len(after) // 2])} after."
        )
    wide = [r for r in good if not spread(r) <= NARROW]
    reasons = Counter(_why_wide(r) for r in wide)
    lines.append(
        f"{len(good) - len(wide)} of {len(good)} interpolating nets have upper/lower ≤ {NARROW}"
        + ("." if not wide else "; the others, by reason:")
    )
    lines += [f"- {reason}: {count}" for reason, count in reasons.most_common()]
    return lines


def write_rows(rows: Sequence[Row], path: Path) -> None:
    """Every row as CSV (one column per field, networks left out, empty for None)."""
    names = list(dict.fromkeys(name for row in rows for name in row if name != "network"))
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_report(analysis: Analysis, rows: Sequence[Row], out: Path) -> Path:
    """Write ``report.md``, the figures, ``rows.csv`` and ``summary.json`` (what ``--json``
    prints) into ``out``; returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out / "rows.csv")
    (out / "summary.json").write_text(json.dumps(analysis.summary(), indent=2) + "\n")
    figures = draw_figures(analysis, out)
    sections = [
        "# Law of robustness: certified report",
        "",
        f"{analysis.runs} runs, {len(analysis.interpolating)} interpolating, "
        f"{analysis.errors} crashed.  For each interpolating net, `lower` is a verified lower "
        "bound on Lip_S(f), the Lipschitz constant of f on the sphere S^{d−1} (a tangential "
        "derivative at a point exactly on the sphere, checked in ball arithmetic); `upper` a "
        "verified upper bound on Lip_S(f): the smaller of the bounds on the global Lip(f) and, "
        "for data on the sphere, on the closed unit ball, which contains the sphere; `proxy` "
        "the paper's unverified estimate (max gradient norm at 1,000 random points N(0, I/d)).",
        "",
        _upper_domain_line(analysis),
        "",
        "## Verdicts",
        "",
        *verdicts(analysis),
        "",
        "## Power-law fits: Lip ≈ c·(n/k)^γ (the law predicts γ = 1/2)",
        "",
        *_fit_table(analysis),
        "",
        "## The paper's fit: Lip ≈ α·√(n/k) + β, with Pearson's r",
        "",
        *_paper_fit_table(analysis),
        "",
        *_figure3_lines(analysis),
        "## Where the law is tight",
        "",
        *_bucket_table(analysis),
        "",
        f"## Intervals too wide to decide (upper/lower > {analysis.gap:g})",
        "",
        *(_net_table(analysis.wide) if analysis.wide else ["None."]),
        "",
        f"## Intervals wider than ×{NARROW}, and why",
        "",
        *_refinement_lines(rows),
        "",
        "## The envelope: smallest verified upper end per cell",
        "",
        *_envelope_table(analysis),
        "",
        "## Runs left out",
        "",
        *_failures(rows),
    ]
    if figures:
        sections += ["", "## Figures", ""]
        sections += [f"![{p.stem}]({p.name})" for p in figures if p.suffix == ".png"]
    path = out / "report.md"
    path.write_text("\n".join(sections) + "\n", encoding="utf-8")
    return path
