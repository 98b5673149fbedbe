"""LipSDP-Neuron scaling benchmark (issue #3): ``python -m benchmarks.lipsdp_scaling``.

For every size d×k and output count m it measures, each in its own process with a time cap
(`benchmarks.measure`): our LipSDP-Neuron (``auto`` solver, at ``--tolerance``), the reference run
(interior-point solver at tolerance 1e-7 with a long budget, whose dual bound locates the SDP
optimum), cvxpy + SCS on the same LMI (only where d + k ≤ ``--scs-size``: larger ones exceed the
10-minute cap or memory), ECLipsE and ECLipsE-Fast from the optional ``eclipse-nn`` package (the
``bench`` extra), the spectral product, and one numpy ``eigh`` of size d + k, the floor every time
is divided by.  Writes benchmarks/results/lipsdp_scaling.{csv,md,png}.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .tables import write_csv, write_markdown, write_plot

ROOT = Path(__file__).resolve().parents[1]
QUICK = {"sizes": "20x40,50x100", "outputs": "1", "cap": 120.0, "reference_tolerance": 1e-6}
#: Seconds a measurement's process may run beyond its cap (imports, setup, verification).
_GRACE = 120.0


@dataclass
class Row:
    """One measurement: what ran, on which size, and what came back (or why nothing did)."""

    d: int
    k: int
    m: int
    label: str
    result: dict = field(default_factory=dict)
    note: str = ""


def _plan(d: int, k: int, m: int, args: argparse.Namespace) -> list[tuple[str, dict | None, str]]:
    """(label, spec or None when skipped, note) for one size."""
    base = {"d": d, "k": k, "m": m, "seed": args.seed, "threads": args.threads}
    small = d + k <= args.scs_size
    too_big = f"skipped: d + k > {args.scs_size} (beyond the {args.cap:g} s cap or memory)"
    eclipse = importlib.util.find_spec("eclipse_nn") is not None
    missing = "skipped: eclipse-nn is not installed (pip install -e '.[bench]')"
    return [
        ("floor: numpy eigh(d + k)", {**base, "method": "floor"}, ""),
        ("spectral product", {**base, "method": "spectral"}, ""),
        (
            f"ours (auto, tol {args.tolerance:g})",
            {**base, "method": "lipsdp", "tolerance": args.tolerance, "budget": args.budget},
            "",
        ),
        (
            f"ours (barrier, tol {args.reference_tolerance:g}) = reference",
            {
                **base,
                "method": "lipsdp",
                "solver": "barrier",
                "tolerance": args.reference_tolerance,
                "budget": args.cap,
            },
            "",
        ),
        (
            "cvxpy + SCS",
            {**base, "method": "lipsdp", "solver": "scs", "budget": args.cap} if small else None,
            "" if small else too_big,
        ),
        (
            "ECLipsE (eclipse-nn)",
            {**base, "method": "eclipse", "variant": "ECLipsE"} if small and eclipse else None,
            too_big if not small else "" if eclipse else missing,
        ),
        (
            "ECLipsE-Fast (eclipse-nn)",
            {**base, "method": "eclipse", "variant": "ECLipsE_Fast"} if eclipse else None,
            "" if eclipse else missing,
        ),
    ]


def _run(spec: dict, cap: float) -> tuple[dict, str]:
    """The measurement's JSON, or an empty dict and the reason there is none.  The process gets
    ``_GRACE`` seconds beyond the cap for imports, model building and verification."""
    command = [sys.executable, "-m", "benchmarks.measure", json.dumps(spec)]
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=cap + _GRACE
        )
    except subprocess.TimeoutExpired:
        return {}, f"timed out after {cap + _GRACE:g} s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {}, f"failed: {last[:200]}"
    return json.loads(done.stdout.strip().splitlines()[-1]), ""


def _derive(rows: list[Row]) -> None:
    """Total time, its ratio to the floor, and the gap to the best dual bound at each size."""
    for size in {(r.d, r.k, r.m) for r in rows}:
        group = [r for r in rows if (r.d, r.k, r.m) == size]
        floor = next(
            (r.result.get("seconds_solve") for r in group if r.label.startswith("floor")), None
        )
        lowers = [r.result.get("sdp_lower", math.nan) for r in group]
        lower = max((x for x in lowers if math.isfinite(x)), default=math.nan)
        for r in group:
            if not r.result:
                continue
            total = r.result.get("seconds_solve", 0.0) + r.result.get("seconds_verify", 0.0)
            r.result["seconds_total"] = total
            if floor:
                r.result["ratio_to_floor"] = total / floor
            if "bound" in r.result and math.isfinite(lower):
                r.result["gap"] = r.result["bound"] / lower - 1.0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.lipsdp_scaling", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--sizes",
        default="100x300,784x1024,1000x4096",
        help="comma-separated d x k (default: %(default)s)",
    )
    parser.add_argument(
        "--outputs", default="1,10", help="comma-separated m (default: %(default)s)"
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-3,
        help="relative tolerance of our run (default: %(default)s)",
    )
    parser.add_argument("--reference-tolerance", type=float, default=1e-7)
    parser.add_argument(
        "--budget",
        type=float,
        default=50.0,
        help="our time budget, seconds; 50 keeps solve + verify within 60 s (default: %(default)s)",
    )
    parser.add_argument(
        "--cap",
        type=float,
        default=600.0,
        help="time cap per measurement, seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--scs-size",
        type=int,
        default=400,
        help="largest d + k given to SCS and ECLipsE (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and BLAS threads of every measurement; our interior-point "
        "solver and checker use one on the CPU regardless (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes only, to check the pipeline in a minute"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    return args


def _machine(args: argparse.Namespace, loads: list[tuple[float, ...]]) -> str:
    """The machine, the threads, and the load averages (1, 5, 15 min) before and after."""
    import torch

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    before, after = (", ".join(f"{x:.2f}" for x in load) for load in (loads[0], loads[-1]))
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{args.threads} torch/BLAS threads, {device}; seed {args.seed}; load average "
        f"{before} at the start, {after} at the end"
    )


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    loads = [os.getloadavg()]
    rows = []
    for m in (int(x) for x in args.outputs.split(",")):
        for size in args.sizes.split(","):
            d, k = (int(x) for x in size.lower().split("x"))
            for label, spec, note in _plan(d, k, m, args):
                print(f"d={d} k={k} m={m}: {label}", file=sys.stderr, flush=True)
                load = os.getloadavg()[0]
                result, reason = _run(spec, args.cap) if spec else ({}, note)
                if result:
                    result["load"] = load
                rows.append(Row(d, k, m, label, result, reason))
    loads.append(os.getloadavg())
    _derive(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / "lipsdp_scaling"
    write_csv(rows, stem.with_suffix(".csv"))
    write_markdown(rows, stem.with_suffix(".md"), _machine(args, loads))
    write_plot(rows, stem.with_suffix(".png"))
    print(f"wrote {stem}.csv, .md, .png", file=sys.stderr)


if __name__ == "__main__":
    main()
