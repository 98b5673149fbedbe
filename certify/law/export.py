"""Re-checkable evidence: every interpolating net of a results database as one ``.npz``.

Each file holds W, b, A, c, the data X, y it was found on (float64, regenerated from the task's
seed), its verified ``upper`` and ``lower`` ends, ``train`` (how it was found), ``activation``,
and the proven ``margin`` (≤ min y_i·f(x_i)) and ``loss`` (≥ the mean square loss).  A net is
written only when `check_fit` proves that it fits every point within the task's ε; the others
are counted, never written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.data import generic_data

from .fitcheck import check_fit
from .netblob import from_bytes
from .store import read_rows

__all__ = ["ExportSummary", "export_networks"]


@dataclass(frozen=True)
class ExportSummary:
    """Files written, and the nets whose fit could not be proven (not written)."""

    written: list[Path]
    unproven: int


def _name(row: dict[str, object]) -> str:
    return (
        f"{row['train']}_n{row['n']}_d{row['d']}_k{row['k']}_seed{row['seed']}"
        f"_{row['distribution']}_{row['activation']}_eps{row['epsilon']:g}"
        f"{'_bn' if row['batch_norm'] else ''}{'_nobias' if row['bias_free'] else ''}"
        f"_lr{row['learning_rate']:g}_ep{row['max_epochs']}.npz"
    )


def _float(value: object) -> float:
    return np.nan if value is None else float(value)


def export_networks(db: str | Path, out: str | Path) -> ExportSummary:
    """Write every interpolating net with a stored network from ``db`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [
        r
        for r in read_rows(db, networks=True)
        if r["interpolated"] == 1 and r["error"] is None and r["network"] is not None
    ]
    written, unproven = [], 0
    for row in rows:
        net = from_bytes(row["network"])
        X, y = generic_data(row["n"], row["d"], row["distribution"], row["seed"])
        proof = check_fit(net, X, y)
        if not proof.fits(row["epsilon"]):
            unproven += 1
            continue
        path = out / _name(row)
        np.savez(
            path,
            W=net.W,
            b=net.b,
            A=net.A,
            c=net.c,
            X=X,
            y=y,
            upper=_float(row["lip_upper"]),
            lower=_float(row["lip_lower"]),
            train=np.array(row["train"]),
            activation=np.array(net.activation.spec),
            margin=proof.margin,
            loss=proof.loss,
            epsilon=row["epsilon"],
        )
        written.append(path)
    return ExportSummary(written, unproven)
