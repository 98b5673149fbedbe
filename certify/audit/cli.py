"""``certify audit MODEL``: check a published Lipschitz constant or robustness radii.

    certify audit MODEL --claim-lipschitz L [--time-limit S] [--witness-out FILE] [--json]
    certify audit MODEL --claim-radii FILE.csv [--per-point-out FILE.csv] [--json]
    certify audit MODEL --recheck WITNESS_FILE

Exit codes: 0 verified, 1 refuted, 3 undecided, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm

from models import TwoLayerNetwork

from ..api import resolve_network
from ..cli import EXIT_BAD_INPUT, add_loading_options, format_report
from ..problem import NORMS
from .lipschitz import ClaimAudit, Outcome, audit_lipschitz
from .radii import RadiiAudit, audit_radii, write_per_point
from .radius_claims import read_radius_claims
from .witness_file import Refutation, fingerprint, load_refutation, recheck, save_refutation

__all__ = ["EXIT_CODES", "main"]

EXIT_CODES: dict[Outcome, int] = {"VERIFIED": 0, "REFUTED": 1, "UNDECIDED": 3}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certify audit",
        description=(
            "Check a claim about a network against verified bounds.  Exit code 0: verified, "
            "1: refuted (with a re-checkable witness), 3: undecided, 2: bad input."
        ),
    )
    parser.add_argument("model", help="weights file (as for `certify MODEL`)")
    claim = parser.add_mutually_exclusive_group(required=True)
    claim.add_argument(
        "--claim-lipschitz", type=float, metavar="L", help="the claim Lip(f) <= L (see --norm)"
    )
    claim.add_argument(
        "--claim-radii",
        metavar="FILE.csv",
        help="claimed l2 robustness radii: columns x0..x{d-1}, label, radius",
    )
    claim.add_argument(
        "--recheck", metavar="WITNESS_FILE", help="re-verify a saved refutation witness"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="overall time allowance (default 60)",
    )
    parser.add_argument(
        "--witness-out",
        metavar="FILE",
        help="where a refutation witness goes (default MODEL_STEM.refutation.json)",
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


class _Status:
    """A one-line status on stderr naming the method that runs (hidden when not a terminal)."""

    def __init__(self) -> None:
        self.bar = tqdm(total=0, disable=None, file=sys.stderr, leave=False, bar_format="{desc}")

    def __call__(self, name: str) -> None:
        self.bar.set_description_str(f"running {name} ...")

    def close(self) -> None:
        self.bar.close()


def _number(value: float) -> str:
    return f"{value:.10g}"


def _claim_lines(audit: ClaimAudit, witness_file: Path | None, model: str) -> list[str]:
    report = audit.report
    if audit.outcome == "VERIFIED":
        return [
            f"VERIFIED: Lip(f) <= {_number(report.upper)} <= {_number(audit.claim)} "
            f"(verified upper bound by {report.upper_method})"
        ]
    if audit.outcome == "REFUTED":
        return [
            f"REFUTED: Lip(f) >= {_number(report.lower)} > {_number(audit.claim)} "
            f"(verified {report.lower_witness.to_dict()['type']} witness by "
            f"{report.lower_method})",
            f"witness saved to {witness_file}; re-check it with: "
            f"certify audit {model} --recheck {witness_file}",
        ]
    return [
        f"UNDECIDED: Lip(f) in [{_number(report.lower)}, {_number(report.upper)}], "
        f"which contains the claim {_number(audit.claim)}",
        f"to settle it: {audit.suggestion}",
    ]


def _claim_lipschitz(args: argparse.Namespace, net: TwoLayerNetwork, status: _Status) -> int:
    audit = audit_lipschitz(
        net, args.claim_lipschitz, args.time_limit, args.seed, status, norm=args.norm
    )
    status.close()
    witness_file = None
    if audit.outcome == "REFUTED":
        witness_file = Path(args.witness_out or f"{Path(args.model).stem}.refutation.json")
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
        print(f"claim: Lip(f) <= {_number(audit.claim)} ({norm} -> {norm}, all of R^d)")
        print("\n".join(_claim_lines(audit, witness_file, args.model)))
        print()
        print(format_report(audit.report, args.model))
    return EXIT_CODES[audit.outcome]


def _radii_exit_code(audit: RadiiAudit) -> int:
    counts = audit.counts
    if counts["REFUTED"]:
        return EXIT_CODES["REFUTED"]
    return EXIT_CODES["UNDECIDED"] if counts["UNDECIDED"] else EXIT_CODES["VERIFIED"]


def _claim_radii(args: argparse.Namespace, net: TwoLayerNetwork, status: _Status) -> int:
    if args.norm != "2":
        raise ValueError(f"{args.claim_radii}: radius claims are l2 radii (--norm 2 only)")
    claims = read_radius_claims(args.claim_radii, net)
    audit = audit_radii(net, claims, args.time_limit, args.seed, status)
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
            f"verified Lipschitz upper bound used: {_number(report.upper)} "
            f"(by {report.upper_method or 'no method'})"
        )
        if args.per_point_out:
            print(f"per-point verdicts written to {args.per_point_out}")
    return _radii_exit_code(audit)


def _recheck(args: argparse.Namespace, net: TwoLayerNetwork, status: _Status) -> int:
    status.close()
    refutation = load_refutation(args.recheck)
    verdict = recheck(net, refutation)
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
            f"REFUTED (re-checked): Lip(f) >= {_number(verdict.value)} > "
            f"{_number(refutation.claim)}"
        )
        return EXIT_CODES["REFUTED"]
    if verdict.verified:
        print(
            f"NOT CONFIRMED: the witness proves only Lip(f) >= {_number(verdict.value)}, "
            f"which does not exceed the claim {_number(refutation.claim)}"
        )
    else:
        print(f"NOT CONFIRMED: the witness does not verify ({verdict.note})")
    return EXIT_CODES["UNDECIDED"]


_ACTIONS: dict[str, Callable[[argparse.Namespace, TwoLayerNetwork, _Status], int]] = {
    "claim_lipschitz": _claim_lipschitz,
    "claim_radii": _claim_radii,
    "recheck": _recheck,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``certify audit``; returns the exit code."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    action = next(name for name in _ACTIONS if getattr(args, name) is not None)
    status = _Status()
    try:
        net = resolve_network(args.model, args.activation, args.trust_pickle)
        return _ACTIONS[action](args, net, status)
    except (ValueError, OSError) as error:
        status.close()
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"certify audit: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
