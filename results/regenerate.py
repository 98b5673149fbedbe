"""Regenerate the law-of-robustness results from scratch, or resume them.

    python results/regenerate.py              # every experiment, in the order below
    python results/regenerate.py fig2-adam    # some of them
    python results/regenerate.py --list       # what each one is

Each experiment is one `certify law run` into ``results/<name>/law.sqlite`` (not committed:
it holds the networks; a run killed at any moment resumes where it stopped), then
`certify law refine` (the exact method and more search on the intervals wider than ×1.05), then
`certify law report --out results/<name>`, which writes ``report.md``, the figures (PNG, SVG),
``rows.csv`` and ``summary.json``.  ``run.json`` records the commands, the machine and the wall
time of every session that worked on the database (sweep and refinement apart; a session that
found every task done spends its time on the refinement only).  The combined experiments
(`COMBINED`) join the rows of others, for the envelope over every interpolator found per cell.
``ablation.md`` tabulates the paper-form fits y = α·√(n/k) + β of all experiments side by side.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIG2 = ["--preset", "bln-fig2"]
ONE_SEED = ["--seeds", "0"]

#: name → (what it varies, arguments of `certify law run`).  The first is the reference: the
#: paper's Figure 2 grid with both seeds; the ablation varies one unstated setting at a time
#: on seed 0 (130 nets each), then the paper's stated protocol, then the other conjectures.
EXPERIMENTS: dict[str, tuple[str, list[str]]] = {
    "fig2-adam": ("reference: Adam lr 1e-2, no batch norm, stop at the first fit", FIG2),
    "fig2-paper": (
        "the paper's protocol: batch norm, Adam lr 1e-3",
        ["--preset", "bln-fig2-paper", *ONE_SEED],
    ),
    "fig2-batch-norm": ("batch norm on, lr 1e-2", [*FIG2, *ONE_SEED, "--batch-norm"]),
    "fig2-lr-1e-3": (
        "Adam lr 1e-3 (up to 20,000 epochs), no batch norm",
        [*FIG2, *ONE_SEED, "--learning-rate", "1e-3", "--max-epochs", "20000"],
    ),
    "fig2-extra-epochs": (
        "500 epochs past the first fit",
        [*FIG2, *ONE_SEED, "--extra-epochs", "500"],
    ),
    "fig2-init-0.1": ("initial weights × 0.1", [*FIG2, *ONE_SEED, "--init-scale", "0.1"]),
    "fig2-smooth": (
        "smooth training (LipSDP penalty): Conjecture 1's smoothest interpolator",
        [*FIG2, *ONE_SEED, "--train", "smooth"],
    ),
    "fig2-smooth-float32": (
        "smooth training as fig2-smooth, torch in float32 (about twice as fast)",
        [*FIG2, *ONE_SEED, "--train", "smooth", "--precision", "float32"],
    ),
    "fig2-construct": (
        "a construction instead of training",
        [*FIG2, *ONE_SEED, "--train", "construct"],
    ),
    "fig2-bias-free": (
        "b = 0, c = 0: Theorem 5 checked on every net",
        [*FIG2, *ONE_SEED, "--bias-free"],
    ),
    "fig3-0.4": (
        "Figure 3 (k = n and k = 10n/d) at 0.4 of the paper's size, seed 0",
        ["--preset", "bln-fig3", "--scale", "0.4", *ONE_SEED],
    ),
    "fig3": (
        "Figure 3 at the paper's size (n = 10,000, d = 10 to 5,000), seed 0, torch in float32",
        ["--preset", "bln-fig3", *ONE_SEED, "--precision", "float32"],
    ),
    "fig3-0.4-construct": (
        "Figure 3 at 0.4 of the paper's size, a construction instead of training",
        ["--preset", "bln-fig3", "--scale", "0.4", *ONE_SEED, "--train", "construct"],
    ),
}


#: name → the experiments whose rows it joins: the envelope over every interpolator found per
#: cell (Adam, smooth training, constructions), for Conjectures 1 and 2.
COMBINED: dict[str, tuple[str, ...]] = {
    "fig2-conjectures": ("fig2-adam", "fig2-smooth", "fig2-smooth-float32", "fig2-construct"),
    "fig3-0.4-conjectures": ("fig3-0.4", "fig3-0.4-construct"),
}


def _certify(*arguments: str, capture: bool = False) -> str:
    """Run ``certify law …`` and return its output; if this script is stopped meanwhile (Ctrl-C,
    SIGTERM), the sweep is stopped too (it keeps every finished row) before this one exits."""
    command = [sys.executable, "-m", "certify", "law", *arguments]
    process = subprocess.Popen(command, text=True, stdout=subprocess.PIPE if capture else None)
    try:
        output, _ = process.communicate()
    except BaseException:
        process.terminate()
        process.wait()
        raise
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return output or ""


def _exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that `_certify` stops the running sweep first."""
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))


def _machine() -> dict[str, object]:
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
    }


def run(name: str, workers: int | None) -> None:
    """Run (or resume) one experiment, then write its report and append to its log."""
    folder = HERE / name
    folder.mkdir(exist_ok=True)
    database = folder / "law.sqlite"
    arguments = ["run", "--db", str(database.relative_to(HERE.parent)), *EXPERIMENTS[name][1]]
    if workers:
        arguments += ["--workers", str(workers)]
    refining = ["refine", "--db", arguments[2]]
    started = time.monotonic()
    _certify(*arguments)
    swept = time.monotonic()
    _certify(*refining)
    refined = time.monotonic()
    log_path = folder / "run.json"
    log = json.loads(log_path.read_text()) if log_path.exists() else {"sessions": []}
    log["command"] = "certify law " + " ".join(arguments)
    log["refine_command"] = "certify law " + " ".join(refining)
    log["sessions"].append(
        {
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_seconds": round(refined - started, 1),
            "run_seconds": round(swept - started, 1),
            "refine_seconds": round(refined - swept, 1),
            "machine": _machine(),
        }
    )
    log["wall_seconds"] = round(sum(s["wall_seconds"] for s in log["sessions"]), 1)
    log_path.write_text(json.dumps(log, indent=2) + "\n")
    _certify("report", "--db", str(database), "--out", str(folder))


ENDS = ("proxy", "lower", "upper")


def _triple(fit: dict[str, float | None]) -> str:
    values = [fit.get(key) for key in ("slope", "intercept", "r")]
    return ", ".join("—" if v is None else f"{v:.3g}" for v in values)


def _median_r(summary: dict, end: str) -> str:
    found = sorted(
        fits[end]["r"]
        for fits in summary["paper_fit_by_d"].values()
        if (fits.get(end) or {}).get("r") is not None
    )
    return f"{found[len(found) // 2]:.2f}" if found else "—"


def _narrow(folder: Path) -> str:
    """How many interpolating nets have upper/lower ≤ `NARROW` (from the report's rows.csv)."""
    from certify.law.analysis import NARROW

    with (folder / "rows.csv").open(newline="") as file:
        rows = [r for r in csv.DictReader(file) if r["interpolated"] == "1" and r["lip_lower"]]
    narrow = sum(float(r["lip_upper"] or "inf") <= NARROW * float(r["lip_lower"]) for r in rows)
    return f"{narrow}/{len(rows)}"


def combine(name: str) -> None:
    """Join the rows (networks included) of the experiments of ``COMBINED[name]`` into a fresh
    ``results/<name>/law.sqlite``, and report it."""
    from certify.law.store import Store, read_rows

    parts = COMBINED[name]
    folder = HERE / name
    folder.mkdir(exist_ok=True)
    database = folder / "law.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    with Store(database) as store:
        for part in parts:
            for row in read_rows(HERE / part / "law.sqlite", networks=True):
                store.add(row)
    log = {"combined_from": list(parts), "command": f"python results/regenerate.py {name}"}
    (folder / "run.json").write_text(json.dumps(log, indent=2) + "\n")
    _certify("report", "--db", str(database), "--out", str(folder))


def ablation_table() -> str:
    """The paper-form fit y = α·√(n/k) + β of each finished experiment, over all nets and the
    median of its r over the values of d, the power-law exponent of the lower ends, and how many
    intervals are within ×1.05."""
    lines = [
        "| experiment | setting | nets | interpolating | wall (s) | "
        + " | ".join(f"{end}: α, β, r" for end in ENDS)
        + " | median r per d: proxy, lower | γ of lower ends [95 % CI] | upper/lower ≤ 1.05 |",
        "|" + "---|" * 11,
    ]
    for name, (setting, _) in EXPERIMENTS.items():
        folder = HERE / name
        database, log = folder / "law.sqlite", folder / "run.json"
        if not (database.is_file() and log.is_file()):
            continue
        if not (folder / "summary.json").is_file():  # reported before summaries were written
            _certify("report", "--db", str(database), "--out", str(folder))
        summary = json.loads((folder / "summary.json").read_text())
        wall = json.loads(log.read_text())["wall_seconds"]
        fits = " | ".join(_triple(summary["paper_fit"].get(end) or {}) for end in ENDS)
        gamma = summary["exponent_lower"]
        exponent = (
            "—"
            if gamma["value"] is None
            else f"{gamma['value']:.3f} [{gamma['ci_low']:.3f}, {gamma['ci_high']:.3f}]"
        )
        lines.append(
            f"| [{name}]({name}/report.md) | {setting} | {summary['runs']} | "
            f"{summary['interpolated']} | {wall:.0f} | {fits} | "
            f"{_median_r(summary, 'proxy')}, {_median_r(summary, 'lower')} | {exponent} | "
            f"{_narrow(folder)} |"
        )
    return "\n".join(lines) + "\n"


#: (float64 experiment, float32 experiment): the same runs in two training precisions.
PRECISION_PAIR = ("fig2-smooth", "fig2-smooth-float32")


def _cells(name: str) -> dict[tuple[str, ...], dict[str, str]]:
    """The interpolating rows of an experiment's rows.csv, by cell (n, d, k, seed)."""
    path = HERE / name / "rows.csv"
    if not path.is_file():
        return {}
    with path.open(newline="") as file:
        rows = [r for r in csv.DictReader(file) if r["interpolated"] == "1" and r["lip_upper"]]
    return {(r["n"], r["d"], r["k"], r["seed"]): r for r in rows}


def precision_table() -> str | None:
    """The cells both experiments of `PRECISION_PAIR` fitted, compared: the ratio float32 /
    float64 of the certified upper end and of the training's own bound (quantiles over the
    cells), or None while either has no rows."""
    double, single = (_cells(name) for name in PRECISION_PAIR)
    common = sorted(set(double) & set(single), key=lambda cell: tuple(map(int, cell)))
    if not common:
        return None
    lines = [
        f"# {PRECISION_PAIR[1]} against {PRECISION_PAIR[0]}: the same cells, torch in float32",
        "",
        f"{len(common)} cells fitted by both ({len(double)} by float64, {len(single)} by "
        "float32). Ratios float32 / float64 over those cells:",
        "",
        "| quantity | min | 10 % | median | 90 % | max |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for label, column in (
        ("certified upper end (lip_upper)", "lip_upper"),
        ("training's bound (train_bound)", "train_bound"),
    ):
        ratios = sorted(float(single[c][column]) / float(double[c][column]) for c in common)
        picks = [ratios[round(q * (len(ratios) - 1))] for q in (0, 0.1, 0.5, 0.9, 1)]
        lines.append(f"| {label} | " + " | ".join(f"{v:.3f}" for v in picks) + " |")
    lines += ["", "The speed of each precision, side by side: `python -m benchmarks.precision`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="experiments to run (default: all)"
    )
    parser.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    parser.add_argument("--list", action="store_true", help="list the experiments and stop")
    args = parser.parse_args()
    _exit_on_sigterm()
    if args.list:
        for name, (setting, arguments) in EXPERIMENTS.items():
            print(f"{name:20} {setting}\n{'':20} certify law run {' '.join(arguments)}")
        for name, parts in COMBINED.items():
            print(f"{name:20} the rows of {', '.join(parts)} together")
        return
    unknown = sorted(set(args.names) - set(EXPERIMENTS) - set(COMBINED))
    if unknown:
        parser.error(f"unknown experiments {', '.join(unknown)} (see --list)")
    for name in args.names or [*EXPERIMENTS, *COMBINED]:
        if name in COMBINED:
            combine(name)
        else:
            run(name, args.workers)
        (HERE / "ablation.md").write_text(ablation_table())
        if name in PRECISION_PAIR and (table := precision_table()):
            (HERE / PRECISION_PAIR[1] / "precision.md").write_text(table)


if __name__ == "__main__":
    main()
