"""Scaling of the `exact` method (issue #15): ``python -m benchmarks.exact_scaling``.

For each case — random Gaussian nets (W ~ N(0, 1), A ~ N(0, 1), b ~ N(0, 1) or none) and trained
ones (interpolating random labels on the sphere, `models.train.train_two_layer`, and the bundled
digits net) — it runs `exact` (the engine it picks, `certify.upper.exact`) with one thread and a
time cap per net, verifies the certificate and the witness, and records the seconds, the tree
size and the proven interval.  A net counts as closed once upper/lower ≤ 1 + 1e-6.  Writes
benchmarks/results/exact_scaling.{csv,md}.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from certify import Budget, Problem, verify
from certify.threads import single_threaded
from certify.upper.exact import ExactRegions
from models import TwoLayerNetwork
from models.data import generic_data
from models.formats import load_model
from models.train import train_two_layer

ROOT = Path(__file__).resolve().parents[1]
CLOSED = 1e-6


@dataclass(frozen=True)
class Case:
    """A family of nets, one per seed."""

    label: str
    k: int
    m: int
    d: int
    make: Callable[[int], TwoLayerNetwork]
    #: Nets in the family at most (a bundled net is one).
    seeds: int = 1000


def random_net(k: int, m: int, d: int, biased: bool) -> Callable[[int], TwoLayerNetwork]:
    """Gaussian weights (and biases when ``biased``) from the seed."""

    def make(seed: int) -> TwoLayerNetwork:
        rng = np.random.default_rng(seed)
        W, A, b = rng.standard_normal((k, d)), rng.standard_normal((m, k)), rng.standard_normal(k)
        return TwoLayerNetwork.create(W, A, b=b if biased else None)

    return make


def trained_net(k: int, d: int, n: int) -> Callable[[int], TwoLayerNetwork]:
    """A ReLU net fitted to n random ±1 labels of points on the sphere S^(d−1)."""

    def make(seed: int) -> TwoLayerNetwork:
        X, y = generic_data(n, d, seed=seed)
        return train_two_layer(X, y, k, seed=seed, max_epochs=3000).network

    return make


def bundled(name: str) -> Callable[[int], TwoLayerNetwork]:
    """The bundled net ``name``, whatever the seed."""
    return lambda seed: load_model(ROOT / "models" / "bundled" / name)


CASES = (
    Case("random, biased", 64, 1, 10, random_net(64, 1, 10, True)),
    Case("random, biased", 64, 1, 100, random_net(64, 1, 100, True)),
    Case("random, no bias", 64, 1, 64, random_net(64, 1, 64, False)),
    Case("trained (sphere, n = 100)", 64, 1, 10, trained_net(64, 10, 100)),
    Case("random, biased", 32, 10, 10, random_net(32, 10, 10, True)),
    Case("random, no bias", 32, 10, 64, random_net(32, 10, 64, False)),
    Case("trained (bundled digits_relu.npz)", 32, 10, 64, bundled("digits_relu.npz"), 1),
)


def measure(net: TwoLayerNetwork, cap: float) -> dict[str, object]:
    """Run `exact` within ``cap`` seconds and verify what it returns."""
    problem = Problem(net)
    started = time.perf_counter()
    certificate = ExactRegions().run(problem, Budget(cap))
    solved = time.perf_counter()
    upper = verify(problem, certificate)
    lower = verify(problem, certificate.witness) if certificate.witness is not None else None
    lower_value = lower.value if lower is not None and lower.verified else 0.0
    tree = getattr(certificate, "nodes", None) or getattr(certificate, "leaves", ())
    return {
        "engine": type(certificate).__name__,
        "seconds": solved - started,
        "seconds_verify": time.perf_counter() - solved,
        "tree": len(tree),
        "lower": lower_value,
        "upper": upper.value if upper.verified else float("nan"),
        "ratio": upper.value / lower_value if lower_value > 0 else float("inf"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cap", type=float, default=120.0, help="seconds per net")
    parser.add_argument("--cases", default="", help="indices into CASES, e.g. 0,4 (default all)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    chosen = [CASES[int(i)] for i in args.cases.split(",")] if args.cases else list(CASES)
    rows = []
    with single_threaded():
        ExactRegions().run(Problem(random_net(4, 2, 2, True)(0)), Budget(5))  # warm the imports
        for case in chosen:
            for seed in range(min(args.seeds, case.seeds)):
                row = {
                    "case": case.label,
                    "k": case.k,
                    "m": case.m,
                    "d": case.d,
                    "seed": seed,
                    **measure(case.make(seed), args.cap),
                }
                rows.append(row)
                print(row, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    _write(rows, args)


def _write(rows: list[dict[str, object]], args: argparse.Namespace) -> None:
    columns = list(rows[0])
    lines = [",".join(columns)] + [",".join(str(row[c]) for c in columns) for row in rows]
    (args.out / "exact_scaling.csv").write_text("\n".join(lines) + "\n")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    table = [
        f"`python -m benchmarks.exact_scaling --seeds {args.seeds} --cap {args.cap:g}`"
        f" — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine}, one thread.",
        "",
        "| case | k | m | d | nets | closed (≤ 1 + 1e-6) | median s | max s "
        "| median tree | worst upper/lower |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    groups: dict[tuple, list[dict[str, object]]] = {}
    for row in rows:
        groups.setdefault((row["case"], row["k"], row["m"], row["d"]), []).append(row)
    for (case, k, m, d), group in groups.items():
        seconds = [float(r["seconds"]) for r in group]
        closed = sum(float(r["ratio"]) <= 1 + CLOSED for r in group)
        table.append(
            f"| {case} | {k} | {m} | {d} | {len(group)} | {closed} "
            f"| {statistics.median(seconds):.2f} | {max(seconds):.2f} "
            f"| {statistics.median(int(r['tree']) for r in group):g} "
            f"| {max(float(r['ratio']) for r in group):.7f} |"
        )
    (args.out / "exact_scaling.md").write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
