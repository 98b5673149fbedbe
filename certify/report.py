"""The `Report`: every method's outcome and the certified interval [lower, upper]."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from .evidence import Evidence, Witness
from .methods import Kind
from .version import __version__

__all__ = [
    "MethodResult",
    "Report",
    "format_number",
    "format_report",
    "not_applicable_lines",
    "not_applicable_reasons",
    "shown_results",
]


@dataclass(frozen=True)
class MethodResult:
    """One method's outcome: its proven value when ``verified``, else its bare claim (or None)."""

    name: str
    kind: Kind
    value: float | None
    verified: bool
    seconds: float
    claimed: float | None = None
    evidence: Evidence | None = field(default=None, repr=False)
    note: str = ""
    #: False when the method does not apply to the problem (``note`` says why).
    applicable: bool = True

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (evidence omitted)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "value": _finite_or_none(self.value),
            "verified": self.verified,
            "seconds": round(self.seconds, 6),
            "claimed": _finite_or_none(self.claimed),
            "note": self.note,
            "applicable": self.applicable,
        }


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class Report:
    """Certified interval for Lip(f) (ℓ2 → ℓ2 over all of R^d) and how it was obtained.

    ``lower`` is the largest verified lower bound (0 when none is verified), ``upper`` the
    smallest verified upper bound (inf when none is verified).  Unverified claims stay visible
    in ``methods`` but never enter the interval.
    """

    model: dict[str, object]
    methods: tuple[MethodResult, ...]
    #: The file the network came from (None for a network given as an object).
    source: str | None = None
    #: How the methods were run: names asked for, time limit, seed, norm and domain.
    settings: dict[str, object] = field(default_factory=dict)
    #: Wall-clock seconds of the whole run.
    seconds: float = 0.0

    def _best(self, kind: Kind) -> MethodResult | None:
        verified = [r for r in self.methods if r.kind == kind and r.verified]
        if not verified:
            return None
        pick = max if kind == "lower" else min
        return pick(verified, key=lambda r: r.value)

    @property
    def lower(self) -> float:
        best = self._best("lower")
        return max(best.value, 0.0) if best else 0.0

    @property
    def upper(self) -> float:
        best = self._best("upper")
        return best.value if best else math.inf

    @property
    def ratio(self) -> float:
        """upper / lower (inf when the lower end is 0; 1 when both are 0)."""
        if self.lower > 0:
            return self.upper / self.lower
        return 1.0 if self.upper == 0 else math.inf

    @property
    def upper_method(self) -> str | None:
        best = self._best("upper")
        return best.name if best else None

    @property
    def lower_method(self) -> str | None:
        best = self._best("lower")
        return best.name if best else None

    @property
    def lower_witness(self) -> Witness | None:
        best = self._best("lower")
        return best.evidence if best and isinstance(best.evidence, Witness) else None

    def to_dict(self) -> dict[str, object]:
        """The JSON object printed by ``certify --json``."""
        witness = self.lower_witness
        return {
            "version": __version__,
            "model_path": self.source,
            "lower": self.lower,
            "upper": _finite_or_none(self.upper),
            "ratio": _finite_or_none(self.ratio),
            "lower_method": self.lower_method,
            "upper_method": self.upper_method,
            "lower_witness": witness.to_dict() if witness else None,
            "methods": [r.to_dict() for r in self.methods],
            "model": dict(self.model),
            "settings": dict(self.settings),
            "seconds": round(self.seconds, 6),
        }

    def __str__(self) -> str:
        return format_report(self)


_NAME_WIDTH = 18


def format_number(value: float | None) -> str:
    """A bound as printed: ten significant digits, "inf", or "—" for none."""
    if value is None or math.isnan(value):
        return "—"
    return "inf" if math.isinf(value) else f"{value:.10g}"


def _row(result: MethodResult) -> str:
    verified = "yes" if result.verified else ("—" if result.value is None else "no")
    return (
        f"{result.name:<{_NAME_WIDTH}} {result.kind:<6} {format_number(result.value):>17} "
        f"{verified:>9} {result.seconds:>9.3f}  {result.note}"
    ).rstrip()


def not_applicable_reasons(results: Sequence[MethodResult]) -> dict[str, list[str]]:
    """Each reason some methods do not apply, with the names of those methods."""
    reasons: dict[str, list[str]] = {}
    for result in results:
        if not result.applicable:
            reason = result.note.removeprefix("not applicable: ")
            reasons.setdefault(reason, []).append(result.name)
    return reasons


def not_applicable_lines(results: Sequence[MethodResult]) -> list[str]:
    """One indented line per reason, naming the methods that do not apply for it."""
    return [
        line
        for reason, names in not_applicable_reasons(results).items()
        for line in textwrap.wrap(
            f"{', '.join(names)}: {reason}",
            width=100,
            initial_indent="  ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
    ]


def shown_results(report: Report) -> list[MethodResult]:
    """The rows of a table: the methods that apply, or every method when none does."""
    applicable = [result for result in report.methods if result.applicable]
    return applicable or list(report.methods)


def format_report(report: Report, source: str | None = None) -> str:
    """The table ``certify`` prints: every method that applies, then the certified interval.

    Methods that do not apply are grouped by reason under the table, unless none applies: then
    each row shows its reason.  ``source`` names the model (default: the report's source)."""
    model = report.model
    shape = f"widths={model['widths']}" if "widths" in model else f"k={model['k']}"
    name = source or report.source or "network"
    lines = [
        f"model: {name}  (d={model['d']}, {shape}, m={model['m']}, "
        f"activation={model['activation']})",
        f"Lipschitz constant in the l{model['norm']} norm over {model['domain']}",
        "",
        f"{'method':<{_NAME_WIDTH}} {'kind':<6} {'value':>17} {'verified':>9} {'seconds':>9}  note",
    ]
    shown = shown_results(report)
    lines += [_row(result) for result in shown]
    if len(shown) < len(report.methods):
        lines += ["", "not applicable here:", *not_applicable_lines(report.methods)]
    lines += [
        "",
        f"Lipschitz constant in [{format_number(report.lower)}, {format_number(report.upper)}]"
        f"   ratio upper/lower = {format_number(report.ratio)}",
    ]
    if report.upper_method:
        witness = report.lower_witness
        kind = f" ({witness.to_dict()['type']} witness)" if witness else ""
        lower = f", lower end by {report.lower_method}{kind}" if report.lower_method else ""
        lines.append(f"upper end by {report.upper_method}{lower}")
    return "\n".join(lines)
