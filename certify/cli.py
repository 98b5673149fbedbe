"""Command line: ``certify MODEL [--json] [--method NAME ...]``.

Parsing and printing only.  Every expected error (bad file, bad weights, unknown activation or
method) becomes one line on stderr and exit code 2, with no traceback and never a bound.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import textwrap
from collections.abc import Sequence

from tqdm import tqdm

from .api import certify, resolve_network
from .domains import parse_domain
from .methods import method_names
from .problem import NORMS
from .report import MethodResult, Report

__all__ = ["add_loading_options", "format_report", "main"]

EXIT_BAD_INPUT = 2
#: ``certify NAME ...`` hands the rest of the arguments to ``main(argv)`` of these modules.
SUBCOMMANDS = {
    "audit": "certify.audit.cli",
    "compare": "certify.compare.cli",
    "law": "certify.law.cli",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certify",
        description=(
            "Certified interval [lower, upper] for the Lipschitz constant of a network "
            "(l2 or l-infinity norm, over all of R^d or a domain).  Every bound is re-verified "
            "with proven floating-point error bounds."
        ),
        epilog=(
            "Other commands: 'certify audit MODEL --claim-lipschitz L | --claim-radii FILE' "
            "checks a published claim; 'certify compare MODEL ...' compares bound tightness. "
            "Run them with --help."
        ),
    )
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
    parser.add_argument(
        "--time-limit",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="time allowance per method (default 10)",
    )
    parser.add_argument(
        "--norm",
        choices=NORMS,
        default="2",
        help="norm on inputs and outputs (default 2; inf: sup ||f(x)-f(y)||inf / ||x-y||inf)",
    )
    parser.add_argument(
        "--domain",
        metavar="SPEC",
        help="bound over a domain instead of all of R^d: unit-ball, ball:R, linf-ball:R, box:LO,HI",
    )
    add_loading_options(parser)
    return parser


def add_loading_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that reads model files shares: --seed, --activation, and
    --trust-pickle."""
    parser.add_argument("--seed", type=int, default=0, help="seed of the randomised searches")
    parser.add_argument(
        "--activation",
        metavar="NAME",
        help="activation for files that do not store one (default relu), e.g. leaky_relu(0.1)",
    )
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow a whole pickled torch module (this executes code from the file)",
    )


_NAME_WIDTH = 18


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    return "inf" if math.isinf(value) else f"{value:.10g}"


def _row(result: MethodResult) -> str:
    verified = "yes" if result.verified else ("—" if result.value is None else "no")
    return (
        f"{result.name:<{_NAME_WIDTH}} {result.kind:<6} {_number(result.value):>17} {verified:>9} "
        f"{result.seconds:>9.3f}  {result.note}"
    ).rstrip()


def _skipped(results: Sequence[MethodResult]) -> list[str]:
    """One line per reason, naming the methods that do not apply for it."""
    reasons: dict[str, list[str]] = {}
    for result in results:
        if not result.applicable:
            reason = result.note.removeprefix("not applicable: ")
            reasons.setdefault(reason, []).append(result.name)
    return [
        line
        for reason, names in reasons.items()
        for line in textwrap.wrap(
            f"{', '.join(names)}: {reason}",
            width=100,
            initial_indent="  ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
    ]


def format_report(report: Report, source: str) -> str:
    """The human-readable table: every method that applies, then the certified interval.

    Methods that do not apply are grouped by reason under the table, unless none applies: then
    each row shows its reason."""
    model = report.model
    shape = f"widths={model['widths']}" if "widths" in model else f"k={model['k']}"
    lines = [
        f"model: {source}  (d={model['d']}, {shape}, m={model['m']}, "
        f"activation={model['activation']})",
        f"Lipschitz constant in the l{model['norm']} norm over {model['domain']}",
        "",
        f"{'method':<{_NAME_WIDTH}} {'kind':<6} {'value':>17} {'verified':>9} {'seconds':>9}  note",
    ]
    applicable = [result for result in report.methods if result.applicable]
    lines += [_row(result) for result in (applicable or report.methods)]
    if applicable and len(applicable) < len(report.methods):
        lines += ["", "not applicable here:", *_skipped(report.methods)]
    lines += [
        "",
        f"Lipschitz constant in [{_number(report.lower)}, {_number(report.upper)}]"
        f"   ratio upper/lower = {_number(report.ratio)}",
    ]
    if report.upper_method:
        witness = report.lower_witness
        kind = f" ({witness.to_dict()['type']} witness)" if witness else ""
        lower = f", lower end by {report.lower_method}{kind}" if report.lower_method else ""
        lines.append(f"upper end by {report.upper_method}{lower}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``certify`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    args = _parser().parse_args(argv)
    bar = tqdm(total=0, disable=None, file=sys.stderr, leave=False, bar_format="{desc}")

    def progress(name: str) -> None:
        bar.set_description_str(f"running {name} ...")

    try:
        net = resolve_network(args.model, args.activation, args.trust_pickle)
        domain = None if args.domain is None else parse_domain(args.domain, net.d)
        report = certify(
            net,
            methods=args.method,
            time_limit=args.time_limit,
            seed=args.seed,
            progress=progress,
            norm=args.norm,
            domain=domain,
        )
    except (ValueError, OSError) as error:
        bar.close()
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if not message.startswith(args.model):
            message = f"{args.model}: {message}"
        print(f"certify: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    bar.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report, args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
