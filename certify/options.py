"""What every command line of the toolkit shares: a parser whose errors are one line, checked
flag values, and the one way a bad input is reported (exit code 2, never a traceback).

Each flag type rejects a value before any work starts, with the flag named:
``certify: error: --time-limit: must be a positive finite number of seconds, got nan``.
Under ``--json`` the same message also goes to stdout as ``{"error": "..."}``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from .domains import parse_domain

__all__ = [
    "DEFAULT_SEED",
    "EXIT_BAD_INPUT",
    "MAX_SEED",
    "CommandParser",
    "add_loading_options",
    "add_time_limit",
    "at_least_one",
    "domain_spec",
    "first_line",
    "non_negative_integer",
    "non_negative_number",
    "positive_integer",
    "positive_number",
    "positive_seconds",
    "report_bad_input",
    "run_command",
    "seed",
]

EXIT_BAD_INPUT = 2
DEFAULT_SEED = 0
#: The largest seed every random generator the methods use accepts.
MAX_SEED = 2**32 - 1

T = TypeVar("T")


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def report_bad_input(prog: str, message: str, as_json: bool = False) -> int:
    """Print ``prog: error: message`` as one line on stderr (and ``{"error": message}`` on
    stdout under ``--json``); returns the exit code for bad input."""
    message = " ".join(message.split())
    if as_json:
        print(json.dumps({"error": message}))
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


class CommandParser(argparse.ArgumentParser):
    """An `argparse.ArgumentParser` whose usage errors are one line naming the flag (``--help``
    stays full); subcommand parsers made by `add_subparsers` inherit it."""

    _as_json = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        arguments = list(sys.argv[1:] if args is None else args)
        self._as_json = "--json" in arguments
        return super().parse_known_args(arguments, namespace)

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"^argument ([^:/ ]+)(/[^: ]+)?: ", r"\1: ", message)
        report_bad_input(self.prog, message, self._as_json)
        self.exit(EXIT_BAD_INPUT)


def run_command(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    command: Callable[[argparse.Namespace], int],
) -> int:
    """Parse ``argv`` (default: the process's arguments) and run ``command``; returns the exit
    code, also for ``--help``, ``--version`` and usage errors (which argparse ends by exiting)."""
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 0
    return command(args)


def _checked(text: str, convert: Callable[[str], T], accept: Callable[[T], bool], what: str) -> T:
    """``convert(text)`` when it succeeds and is accepted; else the flag's one-line problem."""
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not accept(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return value


def positive_seconds(text: str) -> float:
    """A time allowance: a positive finite number of seconds."""
    return _checked(
        text, float, lambda v: math.isfinite(v) and v > 0, "a positive finite number of seconds"
    )


def positive_number(text: str) -> float:
    """A positive finite number."""
    return _checked(text, float, lambda v: math.isfinite(v) and v > 0, "a positive finite number")


def non_negative_number(text: str) -> float:
    """A finite number ≥ 0."""
    return _checked(text, float, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")


def at_least_one(text: str) -> float:
    """A finite number ≥ 1 (a ratio upper/lower)."""
    return _checked(text, float, lambda v: math.isfinite(v) and v >= 1, "a finite number >= 1")


def positive_integer(text: str) -> int:
    """A whole number ≥ 1."""
    return _checked(text, int, lambda v: v >= 1, "a whole number >= 1")


def non_negative_integer(text: str) -> int:
    """A whole number ≥ 0."""
    return _checked(text, int, lambda v: v >= 0, "a whole number >= 0")


def seed(text: str) -> int:
    """A random seed: a whole number from 0 to `MAX_SEED`."""
    return _checked(text, int, lambda v: 0 <= v <= MAX_SEED, f"a whole number from 0 to {MAX_SEED}")


def domain_spec(text: str) -> str:
    """A ``--domain`` spec that `certify.domains.parse_domain` accepts (checked for one input;
    the command parses it again for the model's dimension)."""
    try:
        parse_domain(text, 1)
    except ValueError as error:
        raise argparse.ArgumentTypeError(first_line(error)) from None
    return text


def add_time_limit(parser: argparse.ArgumentParser, default: float, what: str) -> None:
    """``--time-limit SECONDS`` (a positive finite number), ``what`` saying what it bounds."""
    parser.add_argument(
        "--time-limit",
        type=positive_seconds,
        default=default,
        metavar="SECONDS",
        help=f"{what} (default {default:g})",
    )


def add_loading_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that reads model files shares: --seed, --activation,
    --trust-pickle and --assume-chain."""
    parser.add_argument(
        "--seed",
        type=seed,
        default=DEFAULT_SEED,
        help=f"seed of the randomised searches, 0 to {MAX_SEED} (default {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--activation",
        metavar="NAME",
        help="activation of files that do not record one (state dicts, safetensors without "
        "metadata, npz without 'activation'), e.g. relu, tanh, leaky_relu(0.1); required there",
    )
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow a whole pickled torch module (this executes code from the file)",
    )
    parser.add_argument(
        "--assume-chain",
        action="store_true",
        help="read a pickled module whose class defines its own forward() as the chain of its "
        "layers (checked against its forward at random points)",
    )
