"""Command line: ``certify MODEL [--json] [--method NAME ...]``.

Parsing and printing only.  Every expected error (bad flag, bad file, bad weights, unknown
activation or method) becomes one line on stderr and exit code 2, with no traceback and never a
bound; under ``--json`` it is also printed on stdout as ``{"error": "..."}``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
from collections.abc import Sequence

from .api import DEFAULT_TIME_LIMIT, certify, resolve_network
from .domains import parse_domain
from .methods import get_method, method_names
from .options import (
    EXIT_BAD_INPUT,
    CommandParser,
    add_loading_options,
    add_time_limit,
    domain_spec,
    first_line,
    report_bad_input,
    run_command,
)
from .problem import NORMS
from .progress import MethodStatus
from .report import format_report
from .version import __version__

__all__ = ["EXIT_BAD_INPUT", "SUBCOMMANDS", "add_loading_options", "format_report", "main"]

PROG = "certify"
#: ``certify NAME ...`` hands the rest of the arguments to ``main(argv)`` of these modules.
SUBCOMMANDS = {
    "audit": "certify.audit.cli",
    "compare": "certify.compare.cli",
    "law": "certify.law.cli",
}
#: Each subcommand's usage and what it does, for the epilog of ``certify --help``.
_SUBCOMMAND_HELP = {
    "audit": (
        "MODEL --claim-lipschitz L | --claim-radii FILE.csv | --recheck FILE",
        "check a published claim: verified, refuted with a witness, or undecided",
    ),
    "compare": ("MODEL [MODEL ...]", "every bound on every model side by side, with a plot"),
    "law": ("run | report | export", "sweep interpolating networks (the law of robustness)"),
}


def _epilog() -> str:
    lines = ["other commands (each has --help):"]
    for name in SUBCOMMANDS:
        usage, purpose = _SUBCOMMAND_HELP[name]
        lines += [f"  certify {name} {usage}", f"      {purpose}"]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog=PROG,
        description=(
            "Certified interval [lower, upper] for the Lipschitz constant of a network\n"
            "(l2 or l-infinity norm, over all of R^d or a domain).  Every bound is\n"
            "re-verified with proven floating-point error bounds."
        ),
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "model", help="weights: .pt/.pth state dict, .safetensors, .npz, LipSDP .mat, .onnx"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--method",
        action="append",
        metavar="NAME",
        help=f"run only this method (repeatable): {', '.join(method_names())}",
    )
    add_time_limit(parser, DEFAULT_TIME_LIMIT, "time allowance per method in seconds")
    parser.add_argument(
        "--norm",
        choices=NORMS,
        default="2",
        help="norm on inputs and outputs (default 2; inf: sup ||f(x)-f(y)||inf / ||x-y||inf)",
    )
    parser.add_argument(
        "--domain",
        metavar="SPEC",
        type=domain_spec,
        help="bound over a domain instead of all of R^d: unit-ball, ball:R, linf-ball:R, "
        "box:LO,HI (LO < HI)",
    )
    add_loading_options(parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    try:
        for name in args.method or ():
            get_method(name)
    except ValueError as error:
        return report_bad_input(PROG, f"--method: {first_line(error)}", args.json)
    status = MethodStatus(PROG, quiet=args.json)
    try:
        net = resolve_network(args.model, args.activation, args.trust_pickle, args.assume_chain)
        domain = None if args.domain is None else parse_domain(args.domain, net.d)
        report = certify(
            net,
            methods=args.method,
            time_limit=args.time_limit,
            seed=args.seed,
            progress=status,
            norm=args.norm,
            domain=domain,
            finished=status.finished,
            source=args.model,
        )
    except (ValueError, OSError) as error:
        status.close()
        message = first_line(error)
        if not message.startswith(args.model):
            message = f"{args.model}: {message}"
        return report_bad_input(PROG, message, args.json)
    status.close()
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``certify`` command; returns the exit code (128 + SIGPIPE, silently,
    when the reader of the output goes away first, as in ``certify model.npz | head -1``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            code = importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
        else:
            code = run_command(_parser(), argv, _run)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python's advice for SIGPIPE: send what is left to /dev/null, so that the final flush
        # at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    return code


if __name__ == "__main__":
    sys.exit(main())
