"""How far smooth training has converged by an epoch: ``python -m benchmarks.smooth_convergence``.

For a few cells (n, d, k) of the Figure 2 grid, `models.smooth.train_smooth` runs as the law lab
runs it (`--train smooth`: LipSDP penalty, 5,000 epochs at most, seed 0, data on the sphere),
and its smoothing callback records the best bound of a fitting net at every check.  The ratio of
that bound after 1,500, 2,000 and 3,000 epochs to the final one says what a shorter schedule
would give up.  One torch thread; writes benchmarks/results/smooth_convergence.jsonl.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from models.data import generic_data
from models.smooth import train_smooth

ROOT = Path(__file__).resolve().parents[1]
CELLS = ((1000, 100, 100), (500, 200, 500), (2000, 50, 200), (200, 50, 50), (2000, 200, 100))
CELLS += ((1000, 500, 1000),)
EPOCHS = (500, 1000, 1500, 2000, 3000)


def measure(n: int, d: int, k: int) -> dict[str, object]:
    """The best bound at each check of one cell's smoothing, summarised."""
    X, y = generic_data(n, d, "sphere", 0)
    checks: list[tuple[int, float]] = []
    started = time.perf_counter()
    result = train_smooth(
        X, y, k, seed=0, max_epochs=5000, on_smoothing=lambda e, b: checks.append((e, b))
    )
    seconds = time.perf_counter() - started
    if not result.interpolated:
        return {"cell": [n, d, k], "interpolated": False}
    at = {E: min(b for e, b in checks if e <= E) for E in EPOCHS}
    return {
        "cell": [n, d, k],
        "interpolated": True,
        "start": checks[0][1],
        "final": result.bound,
        "epochs": result.epochs,
        "seconds": round(seconds, 1),
        "bound_at": at,
        "over_final": {E: at[E] / result.bound for E in EPOCHS},
    }


def main() -> None:
    torch.set_num_threads(1)
    out = ROOT / "benchmarks" / "results" / "smooth_convergence.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as file:
        for cell in CELLS:
            row = measure(*cell)
            print(json.dumps(row), flush=True)
            file.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
