"""A second pass over a sweep: more time, and the exact method, for the nets whose interval is wide.

For every interpolating net with lip_upper/lip_lower above ``gap``:

- the upper end: `exact` (branch and bound over activation regions, for piecewise-linear σ with at
  most 128 active neurons) proves an upper bound on the global Lip(f), and Lip(f) ≥ Lip_S(f); it
  replaces ``lip_upper`` when smaller.  Where exact does not apply, `lipsdp-neuron` runs again
  with the refinement's allowance.  Its proven lower bound on Lip(f), the exact rational
  ‖J_s‖₂ at its witness point (`certify.verify.checks.exact.gradient_norm_lower`), is kept as
  ``lip_global_lower``: when it is within ``gap`` of ``lip_upper``, the global constant is known
  and the width left is the distance between Lip_S(f) and Lip(f), which no global method closes;
- the lower end: the sphere search again (`certify.law.sphere`), also started from exact's
  witness pushed onto the sphere; it replaces ``lip_lower`` when larger.

A refined row keeps its ends from before in ``lip_lower_before`` and ``lip_upper_before``;
``refined_by`` says what ran (``exact+sphere`` or ``lipsdp-neuron+sphere``, the reason exact did
not apply in ``refine_note``).  A row once refined is not refined again, so a killed pass loses
only the net in flight; ``again`` takes the refined rows that exact did not settle once more
(after a better upper method has landed), keeping their ends from before the first refinement.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from models import TwoLayerNetwork

from ..api import run_method
from ..methods import Budget
from ..problem import Problem
from ..verify.checks.exact import gradient_norm_lower
from .analysis import NARROW, spread
from .netblob import from_bytes
from .run import SPHERE_METHOD
from .sphere import sphere_lower_bound
from .store import Row, Store

__all__ = ["DEFAULT_GAP", "refine", "refine_row", "wide_rows"]

#: Intervals wider than this ratio are refined.
DEFAULT_GAP = NARROW
#: The ends of a row and where they come from, which a refinement may replace.
_ENDS = ("lip_lower", "lower_method", "lip_upper", "upper_method", "upper_domain")


def wide_rows(rows: list[Row], gap: float, again: bool = False) -> list[Row]:
    """The interpolating rows with a stored net, not yet refined (``again``: or refined without
    an exact upper end), with upper/lower > ``gap``."""
    return [
        row
        for row in rows
        if row.get("interpolated") == 1
        and row.get("network") is not None
        and (row.get("refined_by") is None or (again and row["refined_by"] != "exact+sphere"))
        and spread(row) > gap
    ]


@dataclass(frozen=True)
class _Exact:
    lower: float | None
    upper: float | None
    point: np.ndarray | None
    note: str


#: The upper method of nets that exact does not apply to.
_FALLBACK = "lipsdp-neuron"


def _exact(net: TwoLayerNetwork, seconds: float, seed: int) -> _Exact:
    """The verified upper end of `exact`, the proven lower bound at its witness, and the
    witness point (None where exact does not apply or is not verified; ``note`` says why)."""
    result = run_method("exact", Problem(net), seconds, seed)
    if not (result.applicable and result.verified):
        return _Exact(None, None, None, f"exact: {result.note}")
    witness = getattr(result.evidence, "witness", None)
    if witness is None:
        return _Exact(None, result.value, None, "")
    point = np.asarray(witness.point, dtype=np.float64)
    return _Exact(gradient_norm_lower(net, point), result.value, point, "")


def _fallback_upper(net: TwoLayerNetwork, seconds: float, seed: int) -> float | None:
    """The verified global bound of `_FALLBACK` (None when it is not verified)."""
    result = run_method(_FALLBACK, Problem(net), seconds, seed)
    return result.value if result.applicable and result.verified else None


def refine_row(row: Row, seconds: float, seed: int) -> Row:
    """The refined ends of one row, and what the refinement records beside them."""
    start = time.perf_counter()
    net = from_bytes(row["network"])
    exact = _exact(net, seconds, seed)
    values = {name: row.get(name) for name in _ENDS}
    method, upper = "exact", exact.upper
    if upper is None:
        method, upper = _FALLBACK, _fallback_upper(net, seconds, seed)
    if upper is not None and upper < (row.get("lip_upper") or float("inf")):
        values |= {"lip_upper": upper, "upper_method": method, "upper_domain": "global"}
    if upper is not None and upper < (row.get("lip_upper_global") or float("inf")):
        values["lip_upper_global"] = upper
    starts = None if exact.point is None or not np.any(exact.point) else exact.point[None, :]
    lower, witness = sphere_lower_bound(net, Budget(seconds, seed), starts=starts)
    if witness is not None and lower > (row.get("lip_lower") or 0.0):
        values |= {"lip_lower": lower, "lower_method": SPHERE_METHOD}
    first = row.get("refined_by") is None
    return values | {
        "lip_lower_before": row.get("lip_lower") if first else row.get("lip_lower_before"),
        "lip_upper_before": row.get("lip_upper") if first else row.get("lip_upper_before"),
        "lip_global_lower": exact.lower,
        "refined_by": "sphere" if upper is None else f"{method}+sphere",
        "refine_note": exact.note,
        "refine_seconds": time.perf_counter() - start,
    }


def refine(store: Store, rows: Iterable[Row], seconds: float, seed: int = 0) -> Iterator[Row]:
    """Refine ``rows`` of ``store`` in turn (``seconds`` for exact and as much for the sphere
    search), committing each; yields the values written."""
    for row in rows:
        values = refine_row(row, seconds, seed)
        store.update(row, values)
        yield values
