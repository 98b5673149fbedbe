"""`certify(model)`: resolve the input, run the bound methods, verify each claim, report."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence

import numpy as np

from models import Network, TwoLayerNetwork

from .domains import Domain
from .evidence import Evidence
from .methods import Budget, get_method, not_globally_lipschitz, resolve_names
from .options import DEFAULT_SEED, MAX_SEED
from .problem import Norm, Problem
from .report import MethodResult, Report
from .verify import Verdict, verify
from .verify.checks.exact import gradient_norm_lower

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "NotLipschitzError",
    "SettingsError",
    "certify",
    "check_settings",
    "exact_lipschitz",
    "resolve_network",
    "run_method",
]

ModelLike = Network | str | os.PathLike
Progress = Callable[[str], None]
Finished = Callable[[MethodResult], None]

#: Seconds each method is allowed unless told otherwise (``certify`` and ``certify compare``).
DEFAULT_TIME_LIMIT = 10.0


class NotLipschitzError(ValueError):
    """The network has no finite global Lipschitz constant, so no bound is given."""


class SettingsError(ValueError):
    """A time limit or seed that no method can work with."""


def check_settings(time_limit: float, seed: int) -> None:
    """Raise `SettingsError` unless ``time_limit`` is a positive finite number of seconds and
    ``seed`` a whole number from 0 to `certify.options.MAX_SEED`."""
    finite = isinstance(time_limit, (int, float)) and math.isfinite(time_limit)
    if not (finite and time_limit > 0):
        raise SettingsError(
            f"time limit must be a positive finite number of seconds, got {time_limit}"
        )
    whole = isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
    if not (whole and 0 <= seed <= MAX_SEED):
        raise SettingsError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed}")


def resolve_network(
    model: object,
    activation: str | None = None,
    trust_pickle: bool = False,
    assume_chain: bool = False,
) -> Network:
    """The neutral description of ``model``: a network, a torch module or a file path (see
    `models.formats.load_model` for the options)."""
    if isinstance(model, Network):
        return model
    if isinstance(model, (str, os.PathLike)):
        from models.formats import load_model

        return load_model(model, activation, trust_pickle, assume_chain)
    from models.torch_io import from_module

    return from_module(model, assume_chain)


def run_method(name: str, problem: Problem, seconds: float, seed: int) -> MethodResult:
    """Run one method within its time allowance and verify what it claims.

    Floating-point overflow is not reported as a warning: a claim whose check overflows is
    simply not verified, so it never enters the interval."""
    method = get_method(name)
    name = method.name
    reason = method.why_not(problem)
    if reason is not None:
        note = f"not applicable: {reason}"
        return MethodResult(name, method.kind, None, False, 0.0, note=note, applicable=False)
    start = time.perf_counter()
    try:
        with np.errstate(all="ignore"):
            evidence = method.run(problem, Budget(seconds=seconds, seed=seed))
    except (ArithmeticError, ValueError, RuntimeError, MemoryError) as error:
        elapsed = time.perf_counter() - start
        note = f"failed: {type(error).__name__}: {error}"
        return MethodResult(name, method.kind, None, False, elapsed, note=note)
    verdict = _checked(problem, evidence)
    elapsed = time.perf_counter() - start
    claimed = float(evidence.value)
    value = verdict.value if verdict.verified else claimed
    return MethodResult(
        name, method.kind, value, verdict.verified, elapsed, claimed, evidence, verdict.note
    )


def exact_lipschitz(net: TwoLayerNetwork, seconds: float = math.inf) -> tuple[float, float]:
    """Proven (lower, upper) around Lip(f) from the method ``exact``: the checker's value, and
    the exact rational ‖J_s‖₂ lower bound at the witness of the best realised region.

    Out of time, the upper end stays proven and the lower end may fall short of Lip(f).
    Raises ValueError where the method does not apply.
    """
    method = get_method("exact")
    problem = Problem(net)
    reason = method.why_not(problem)
    if reason is not None:
        raise ValueError(reason)
    certificate = method.run(problem, Budget(seconds=seconds))
    verdict = verify(problem, certificate)
    if not verdict.verified:
        raise RuntimeError(f"exact certificate rejected: {verdict.note}")
    witness = certificate.witness
    lower = 0.0 if witness is None else gradient_norm_lower(net, witness.point)
    return lower, verdict.value


def _checked(problem: Problem, evidence: Evidence) -> Verdict:
    """`verify`, with an overflow in the check (weights near the largest double) counted as a
    failed check rather than an error."""
    try:
        with np.errstate(all="ignore"):
            return verify(problem, evidence)
    except ArithmeticError as error:
        return Verdict.failed(f"the check overflows double precision ({type(error).__name__})")


def certify(
    model: ModelLike | object,
    methods: Sequence[str] | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
    seed: int = DEFAULT_SEED,
    activation: str | None = None,
    trust_pickle: bool = False,
    assume_chain: bool = False,
    progress: Progress | None = None,
    norm: Norm = "2",
    domain: Domain | None = None,
    finished: Finished | None = None,
    source: str | None = None,
) -> Report:
    """Certified interval [lower, upper] ∋ Lip(f) in ``norm`` ("2" or "inf") over ``domain``
    (default: all of R^d); see `certify.problem`.

    ``methods`` picks bound methods by name (default: every default method); ``time_limit`` is
    the allowance per method in seconds.  ``progress`` is called with each method's name as it
    starts, ``finished`` with its result as it ends.  ``source`` names the model in the report
    (default: the path, when ``model`` is one).  Bad settings, names or models raise ValueError
    before any method runs.
    """
    start = time.perf_counter()
    check_settings(time_limit, seed)
    names = resolve_names(methods)
    if source is None and isinstance(model, (str, os.PathLike)):
        source = os.fspath(model)
    net = resolve_network(model, activation, trust_pickle, assume_chain)
    problem = Problem(net, norm, domain)
    reason = not_globally_lipschitz(problem)
    if reason is not None:
        prefix = f"{os.fspath(model)}: " if isinstance(model, (str, os.PathLike)) else ""
        raise NotLipschitzError(prefix + reason)
    results = []
    for name in names:
        if progress is not None:
            progress(name)
        results.append(run_method(name, problem, time_limit, seed))
        if finished is not None:
            finished(results[-1])
    settings = {
        "methods": names,
        "time_limit": time_limit,
        "seed": int(seed),
        "norm": norm,
        "domain": problem.describe()["domain"],
    }
    return Report(
        model=problem.describe(),
        methods=tuple(results),
        source=source,
        settings=settings,
        seconds=time.perf_counter() - start,
    )
