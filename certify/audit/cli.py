"""``certify audit MODEL``: check a published Lipschitz constant or robustness radii.

    certify audit MODEL --claim-lipschitz L [--time-limit S] [--witness-out FILE] [--json]
    certify audit MODEL --claim-radii FILE.csv [--per-point-out FILE.csv] [--json]
    certify audit MODEL --recheck WITNESS_FILE

Exit codes: 0 verified, 1 refuted, 3 undecided, 2 bad input (one line on stderr), 4 an
internal error (with its traceback: never mistaken for a refutation).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from models import Network

from ..api import resolve_network
from ..options import (
    CommandParser,
    add_loading_options,
    add_time_limit,
    first_line,
    non_negative_number,
    report_bad_input,
    run_command,
)
from ..problem import NORMS
from ..progress import MethodStatus
from ..report import format_number, format_report
from .lipschitz import ClaimAudit, Outcome, audit_lipschitz
from .radii import RadiiAudit, audit_radii, write_per_point
from .radius_claims import read_radius_claims
from .witness_file import Refutation, fingerprint, load_refutation, recheck, save_refutation

__all__ = ["DEFAULT_TIME_LIMIT", "EXIT_CODES", "EXIT_INTERNAL_ERROR", "main", "witness_path"]

PROG = "certify audit"
EXIT_CODES: dict[Outcome, int] = {"VERIFIED": 0, "REFUTED": 1, "UNDECIDED": 3}
EXIT_INTERNAL_ERROR = 4
#: Seconds for the whole audit (every method together).
DEFAULT_TIME_LIMIT = 60.0
WITNESS_SUFFIX = ".refutation.json"


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog=PROG,
        description=(
            "Check a claim about a network against verified bounds.  Exit code 0: verified, "
            "1: refuted (with a re-checkable witness), 3: undecided, 2: bad input."
        ),
    )
    parser.add_argument("model", help="weights file (as for `certify MODEL`)")
    claim = parser.add_mutually_exclusive_group(required=True)
    claim.add_argument(
        "--claim-lipschitz",
        type=non_negative_number,
        metavar="L",
        help="the claim Lip(f) <= L (see --norm)",
    )
    claim.add_argument(
        "--claim-radii",
        metavar="FILE.csv",
        help="claimed l2 robustness radii: columns x0..x{d-1}, label, radius",
    )
    claim.add_argument(
        "--recheck", metavar="WITNESS_FILE", help="re-verify a saved refutation witness"
    )
    add_time_limit(parser, DEFAULT_TIME_LIMIT, "overall time allowance in seconds")
    parser.add_argument(
        "--witness-out",
        "--out",
        metavar="PATH",
        help=f"where a refutation witness goes: a file, or a folder for MODEL_STEM{WITNESS_SUFFIX}"
        f" (default: MODEL_STEM{WITNESS_SUFFIX} next to the model)",
    )
    parser.add_argument(
        "--per-point-out", metavar="FILE.csv", help="per-point verdicts of --claim-radii"
    )
    parser.add_argument(
        "--norm",
        choices=NORMS,
        default="2",
        help="norm of a --claim-lipschitz claim (default 2; inf: ||f(x)-f(y)||inf / ||x-y||inf)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_loading_options(parser)
    return parser


def witness_path(model: str, out: str | None) -> Path:
    """Where the refutation of ``model`` goes: ``out`` (a file, or a folder to put
    MODEL_STEM.refutation.json in), by default next to the model."""
    name = Path(model).stem + WITNESS_SUFFIX
    if out is None:
        return Path(model).with_name(name)
    return Path(out) / name if Path(out).is_dir() else Path(out)


def _claim_lines(audit: ClaimAudit, witness_file: Path | None, model: str) -> list[str]:
    report = audit.report
    if audit.outcome == "VERIFIED":
        return [
            f"VERIFIED: Lip(f) <= {format_number(report.upper)} <= {format_number(audit.claim)} "
            f"(verified upper bound by {report.upper_method})"
        ]
    if audit.outcome == "REFUTED":
        return [
            f"REFUTED: Lip(f) >= {format_number(report.lower)} > {format_number(audit.claim)} "
            f"(verified {report.lower_witness.to_dict()['type']} witness by "
            f"{report.lower_method})",
            f"witness saved to {witness_file}; re-check it with: "
            f"certify audit {model} --recheck {witness_file}",
        ]
    return [
        f"UNDECIDED: Lip(f) in [{format_number(report.lower)}, {format_number(report.upper)}], "
        f"which contains the claim {format_number(audit.claim)}",
        f"to settle it: {audit.suggestion}",
    ]


def _claim_lipschitz(args: argparse.Namespace, net: Network, status: MethodStatus) -> int:
    audit = audit_lipschitz(
        net,
        args.claim_lipschitz,
        args.time_limit,
        args.seed,
        status,
        norm=args.norm,
        finished=status.finished,
    )
    status.close()
    witness_file = None
    if audit.outcome == "REFUTED":
        witness_file = witness_path(args.model, args.witness_out)
        refutation = Refutation(
            model=args.model,
            model_fingerprint=fingerprint(net),
            claim=audit.claim,
            verified=audit.report.lower,
            method=audit.report.lower_method,
            witness=audit.report.lower_witness,
            norm=args.norm,
        )
        save_refutation(witness_file, refutation)
    if args.json:
        record = {
            "audit": "lipschitz",
            "model": args.model,
            "claim": audit.claim,
            "norm": args.norm,
            "verdict": audit.outcome,
            "witness_file": None if witness_file is None else str(witness_file),
            "suggestion": audit.suggestion or None,
            "report": audit.report.to_dict(),
        }
        print(json.dumps(record, indent=2))
    else:
        norm = f"l{args.norm}"
        print(f"claim: Lip(f) <= {format_number(audit.claim)} ({norm} -> {norm}, all of R^d)")
        print("\n".join(_claim_lines(audit, witness_file, args.model)))
        print()
        print(format_report(audit.report, args.model))
    return EXIT_CODES[audit.outcome]


def _radii_exit_code(audit: RadiiAudit) -> int:
    counts = audit.counts
    if counts["REFUTED"]:
        return EXIT_CODES["REFUTED"]
    return EXIT_CODES["UNDECIDED"] if counts["UNDECIDED"] else EXIT_CODES["VERIFIED"]


def _claim_radii(args: argparse.Namespace, net: Network, status: MethodStatus) -> int:
    if args.norm != "2":
        raise ValueError(f"{args.claim_radii}: radius claims are l2 radii (--norm 2 only)")
    claims = read_radius_claims(args.claim_radii, net)
    audit = audit_radii(net, claims, args.time_limit, args.seed, status, status.finished)
    status.close()
    if args.per_point_out:
        write_per_point(args.per_point_out, audit)
    report = audit.report
    if args.json:
        points = [
            {
                "index": index,
                "label": int(claims.labels[index]),
                "radius": float(claims.radii[index]),
                "verdict": point.verdict,
                "certified_radius": point.certified_radius,
                "counterexample": None
                if point.counterexample is None
                else [float(v).hex() for v in point.counterexample],
            }
            for index, point in enumerate(audit.points)
        ]
        record = {
            "audit": "radii",
            "model": args.model,
            "claims": args.claim_radii,
            "lipschitz_upper": report.to_dict()["upper"],
            "upper_method": report.upper_method,
            "counts": audit.counts,
            "points": points,
        }
        print(json.dumps(record, indent=2))
    else:
        summary = ", ".join(f"{count} {verdict}" for verdict, count in audit.counts.items())
        print(f"{len(audit.points)} radius claims: {summary}")
        print(
            f"verified Lipschitz upper bound used: {format_number(report.upper)} "
            f"(by {report.upper_method or 'no method'})"
        )
        if args.per_point_out:
            print(f"per-point verdicts written to {args.per_point_out}")
    return _radii_exit_code(audit)


def _recheck(args: argparse.Namespace, net: Network, status: MethodStatus) -> int:
    status.close()
    refutation = load_refutation(args.recheck)
    try:
        verdict = recheck(net, refutation)
    except ValueError as error:
        raise ValueError(f"{args.recheck}: {error}") from None
    confirmed = verdict.verified and verdict.value > refutation.claim
    if args.json:
        record = {
            "audit": "recheck",
            "model": args.model,
            "claim": refutation.claim,
            "verified_lower_bound": verdict.value if verdict.verified else None,
            "verdict": "REFUTED" if confirmed else "UNDECIDED",
            "same_weights": refutation.model_fingerprint == fingerprint(net),
            "note": verdict.note,
        }
        print(json.dumps(record, indent=2))
        return EXIT_CODES[record["verdict"]]
    if refutation.model_fingerprint != fingerprint(net):
        print("note: these weights differ from the ones the witness was found for")
    if confirmed:
        print(
            f"REFUTED (re-checked): Lip(f) >= {format_number(verdict.value)} > "
            f"{format_number(refutation.claim)}"
        )
        return EXIT_CODES["REFUTED"]
    if verdict.verified:
        print(
            f"NOT CONFIRMED: the witness proves only Lip(f) >= {format_number(verdict.value)}, "
            f"which does not exceed the claim {format_number(refutation.claim)}"
        )
    else:
        print(f"NOT CONFIRMED: the witness does not verify ({verdict.note})")
    return EXIT_CODES["UNDECIDED"]


_ACTIONS: dict[str, Callable[[argparse.Namespace, Network, MethodStatus], int]] = {
    "claim_lipschitz": _claim_lipschitz,
    "claim_radii": _claim_radii,
    "recheck": _recheck,
}


def _audit(args: argparse.Namespace) -> int:
    action = next(name for name in _ACTIONS if getattr(args, name) is not None)
    status = MethodStatus(PROG, quiet=args.json)
    try:
        net = resolve_network(args.model, args.activation, args.trust_pickle)
        return _ACTIONS[action](args, net, status)
    except (ValueError, OSError) as error:
        status.close()
        return report_bad_input(PROG, first_line(error), args.json)
    except Exception:
        status.close()
        traceback.print_exc()
        print(f"{PROG}: internal error (exit code {EXIT_INTERNAL_ERROR})", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``certify audit``; returns the exit code."""
    return run_command(_parser(), argv, _audit)
