"""The comparison as rows, and its CSV, Markdown and HTML renderings.

One row per (model, method): kind, value (verified when ``verified`` is true, else the bare
claim), its ratio to the best verified lower end of that model, seconds and the method's note.
The CSV keeps every method; the Markdown and HTML tables list the methods that apply, with the
others grouped by reason under each table (as ``certify`` prints them).
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Sequence

from ..report import MethodResult, not_applicable_reasons, shown_results
from .run import Comparison, ratio

__all__ = ["COLUMNS", "html_page", "markdown", "rows", "to_csv"]

COLUMNS = ("model", "method", "kind", "value", "ratio", "seconds", "verified", "note")
#: Columns shown right-aligned in Markdown and HTML.
_NUMERIC = frozenset({"value", "ratio", "seconds"})


def _number(value: float | None, digits: int) -> str:
    if value is None or math.isnan(value):
        return ""
    return "inf" if math.isinf(value) else f"{value:.{digits}g}"


def _verified(result: MethodResult) -> str:
    if result.value is None:
        return "n/a"
    return "yes" if result.verified else "no"


def _cells(comparison: Comparison, result: MethodResult) -> list[str]:
    return [
        comparison.source,
        result.name,
        result.kind,
        _number(result.value, 10),
        _number(ratio(result, comparison.report), 6),
        f"{result.seconds:.3f}",
        _verified(result),
        result.note,
    ]


def rows(comparisons: Sequence[Comparison]) -> list[list[str]]:
    """Every (model, method) row as strings, in the order of ``COLUMNS``."""
    return [_cells(c, result) for c in comparisons for result in c.report.methods]


def _shown_rows(comparison: Comparison) -> list[list[str]]:
    """The table rows of one model (model column left out): the methods that apply."""
    return [_cells(comparison, result)[1:] for result in shown_results(comparison.report)]


def _not_applicable(comparison: Comparison) -> list[str]:
    """``names: reason`` for each reason some methods do not apply (none when none applies)."""
    if len(shown_results(comparison.report)) == len(comparison.report.methods):
        return []
    reasons = not_applicable_reasons(comparison.report.methods)
    return [f"{', '.join(names)}: {reason}" for reason, names in reasons.items()]


def to_csv(comparisons: Sequence[Comparison]) -> str:
    """The rows as CSV text with a header (values at full printed precision)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows(comparisons))
    return buffer.getvalue()


def _heading(comparison: Comparison) -> str:
    model = comparison.report.model
    shape = f"widths={model['widths']}" if "widths" in model else f"k={model['k']}"
    return (
        f"{comparison.source} (d={model['d']}, {shape}, m={model['m']}, "
        f"{model['activation']}, l{model['norm']} norm)"
    )


def _interval(comparison: Comparison) -> str:
    report = comparison.report
    return (
        f"Lipschitz constant in [{_number(report.lower, 10)}, {_number(report.upper, 10)}], "
        f"upper/lower = {_number(report.ratio, 6)}"
    )


def markdown(comparisons: Sequence[Comparison]) -> str:
    """A Markdown section per model: its table, then its certified interval."""
    sections = []
    for comparison in comparisons:
        lines = [
            f"## {_heading(comparison)}",
            "",
            "| " + " | ".join(COLUMNS[1:]) + " |",
            "|" + "|".join("--:" if name in _NUMERIC else "---" for name in COLUMNS[1:]) + "|",
        ]
        lines += [
            "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
            for cells in _shown_rows(comparison)
        ]
        skipped = _not_applicable(comparison)
        if skipped:
            lines += ["", "Not applicable here:", "", *(f"- {line}" for line in skipped)]
        lines += ["", _interval(comparison)]
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def _td(column: str, cell: str) -> str:
    style = ' class="num"' if column in _NUMERIC else ""
    return f"<td{style}>{html.escape(cell)}</td>"


def html_page(comparisons: Sequence[Comparison], image: str | None = None) -> str:
    """A standalone HTML page: a table per model, and the plot ``image`` when there is one."""
    body = []
    for comparison in comparisons:
        header = "".join(f"<th>{name}</th>" for name in COLUMNS[1:])
        table_rows = "\n".join(
            "<tr>"
            + "".join(_td(name, cell) for name, cell in zip(COLUMNS[1:], cells, strict=True))
            + "</tr>"
            for cells in _shown_rows(comparison)
        )
        skipped = "".join(f"<li>{html.escape(line)}</li>" for line in _not_applicable(comparison))
        body.append(
            f"<h2>{html.escape(_heading(comparison))}</h2>\n"
            f"<table>\n<tr>{header}</tr>\n{table_rows}\n</table>\n"
            + (f"<p>Not applicable here:</p><ul>{skipped}</ul>\n" if skipped else "")
            + f"<p>{html.escape(_interval(comparison))}</p>"
        )
    if image is not None:
        body.append(f'<img src="{html.escape(image)}" alt="bound ratios and times">')
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Lipschitz bounds</title>\n'
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px}.num{text-align:right}</style></head>\n"
        "<body>\n<h1>Lipschitz bounds</h1>\n" + "\n".join(body) + "\n</body></html>\n"
    )
