"""Training in float32 against float64, side by side: ``python -m benchmarks.precision``.

For a few cells (n, d, k) of the Figure 2 grid, `models.smooth.train_smooth` runs as the law lab
runs it (`--train smooth`: LipSDP penalty, seed 0, data on the sphere), with ``max_epochs``
capped so that the pair takes minutes, once with torch in float64 and once in float32, one after
the other on one torch thread.  Each net found is float64 and tested there; the bound recorded
is the training's own LipSDP value, by SVD in float64.  Writes
benchmarks/results/precision.jsonl.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from models.data import generic_data
from models.smooth import train_smooth

ROOT = Path(__file__).resolve().parents[1]
CELLS = ((500, 200, 500), (1000, 500, 500), (2000, 500, 1000))


def measure(n: int, d: int, k: int, epochs: int) -> dict[str, object]:
    """Seconds and final bound of one cell's smooth training in each precision."""
    X, y = generic_data(n, d, "sphere", 0)
    row: dict[str, object] = {"cell": [n, d, k], "max_epochs": epochs}
    for precision in ("float64", "float32"):
        started = time.perf_counter()
        result = train_smooth(X, y, k, seed=0, max_epochs=epochs, precision=precision)
        row[precision] = {
            "seconds": round(time.perf_counter() - started, 2),
            "epochs": result.epochs,
            "interpolated": result.interpolated,
            "bound": result.bound,
        }
    double, single = row["float64"], row["float32"]
    row["speed_up"] = round(double["seconds"] / single["seconds"], 2)
    if double["bound"] and single["bound"]:
        row["bound_ratio"] = round(single["bound"] / double["bound"], 4)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000, help="max_epochs (default 1000)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = ROOT / "benchmarks" / "results" / "precision.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as file:
        for cell in CELLS:
            row = measure(*cell, args.epochs)
            print(json.dumps(row), flush=True)
            file.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
