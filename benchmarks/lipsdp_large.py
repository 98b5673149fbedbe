"""LipSDP-Neuron on large two-layer nets in a short budget: ``python -m benchmarks.lipsdp_large``.

The law lab certifies every net with a few seconds per method.  For nets of d = 500 to 2,000
inputs and k = 1,000 to 2,000 neurons, this runs LipSDP-Neuron with each two-layer solver —
``auto`` (from |F|·d ≥ 10⁶ the first-order descent of `certify.upper.lipsdp_subspace`, then the
interior-point or L-BFGS solver), ``barrier`` and ``smoothed`` alone — one after the other on one
thread with the same budget, verifies each certificate, and records the verified bound and the
seconds (solve and check).  Weights: W ~ N(0, 1/d), A ~ N(0, 1/k), b ~ N(0, 1); with ``--db``,
also the nets of a law-lab database at the cells ``--cell n,d,k`` (e.g. the smooth-trained
nets of results/fig2-smooth-float32).  Writes benchmarks/results/lipsdp_large.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path

import numpy as np

from certify import Budget, Problem, verify
from certify.law.netblob import from_bytes
from certify.threads import single_threaded
from certify.upper.lipsdp import LipSDPNeuron
from models import TwoLayerNetwork

ROOT = Path(__file__).resolve().parents[1]
#: (d, k, m) of the random nets.
SHAPES = ((1000, 2000, 1), (500, 2000, 1), (2000, 1000, 1), (1000, 1000, 10))
SOLVERS = ("auto", "barrier", "smoothed")


def random_net(d: int, k: int, m: int, seed: int = 0) -> TwoLayerNetwork:
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((k, d)) / np.sqrt(d)
    A = rng.standard_normal((m, k)) / np.sqrt(k)
    return TwoLayerNetwork.create(W, A, b=rng.standard_normal(k))


def law_nets(db: str, cells: list[str]) -> list[tuple[str, TwoLayerNetwork]]:
    """The nets of the database ``db`` at the cells "n,d,k" (seed 0)."""
    found = []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        for cell in cells:
            n, d, k = (int(v) for v in cell.split(","))
            query = "SELECT network FROM runs WHERE n=? AND d=? AND k=? AND seed=0"
            for (blob,) in connection.execute(query, (n, d, k)):
                found.append((f"{Path(db).parent.name} n={n} d={d} k={k}", from_bytes(blob)))
    return found


def measure(net: TwoLayerNetwork, solver: str, seconds: float) -> dict[str, object]:
    problem = Problem(net)
    started = time.perf_counter()
    with single_threaded():
        certificate = LipSDPNeuron(solver).run(problem, Budget(seconds))
    solved = time.perf_counter()
    verdict = verify(problem, certificate)
    return {
        "solver": solver,
        "ran": certificate.solver,
        "verified": verdict.verified,
        "bound": verdict.value if verdict.verified else None,
        "solve_seconds": round(solved - started, 2),
        "check_seconds": round(time.perf_counter() - solved, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[3.0, 10.0])
    parser.add_argument("--db", help="a law-lab database whose nets join the random ones")
    parser.add_argument("--cell", nargs="+", default=[], metavar="N,D,K")
    args = parser.parse_args()
    nets = [(f"random d={d} k={k} m={m}", random_net(d, k, m)) for d, k, m in SHAPES]
    if args.db:
        nets += law_nets(args.db, args.cell)
    out = ROOT / "benchmarks" / "results" / "lipsdp_large.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as file:
        for label, net in nets:
            for seconds in args.seconds:
                for solver in SOLVERS:
                    row = {"net": label, "budget": seconds, **measure(net, solver, seconds)}
                    print(json.dumps(row), flush=True)
                    file.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
