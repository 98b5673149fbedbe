"""`certify(model)`: resolve the input, run the bound methods, verify each claim, report."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence

from models import Network

from .domains import Domain
from .methods import Budget, get_method, method_names, not_globally_lipschitz
from .problem import Norm, Problem
from .report import MethodResult, Report
from .verify import verify

__all__ = ["NotLipschitzError", "certify", "resolve_network"]

ModelLike = Network | str | os.PathLike
Progress = Callable[[str], None]


class NotLipschitzError(ValueError):
    """The network has no finite global Lipschitz constant, so no bound is given."""


def resolve_network(
    model: object, activation: str | None = None, trust_pickle: bool = False
) -> Network:
    """The neutral description of ``model``: a network, a torch module or a file path."""
    if isinstance(model, Network):
        return model
    if isinstance(model, (str, os.PathLike)):
        from models.formats import load_model

        return load_model(model, activation=activation, trust_pickle=trust_pickle)
    from models.torch_io import from_module

    return from_module(model)


def run_method(name: str, problem: Problem, seconds: float, seed: int) -> MethodResult:
    """Run one method within its time allowance and verify what it claims."""
    method = get_method(name)
    reason = method.why_not(problem)
    if reason is not None:
        note = f"not applicable: {reason}"
        return MethodResult(name, method.kind, None, False, 0.0, note=note, applicable=False)
    start = time.perf_counter()
    try:
        evidence = method.run(problem, Budget(seconds=seconds, seed=seed))
    except (ArithmeticError, ValueError, RuntimeError, MemoryError) as error:
        elapsed = time.perf_counter() - start
        note = f"failed: {type(error).__name__}: {error}"
        return MethodResult(name, method.kind, None, False, elapsed, note=note)
    verdict = verify(problem, evidence)
    elapsed = time.perf_counter() - start
    claimed = float(evidence.value)
    value = verdict.value if verdict.verified else claimed
    return MethodResult(
        name, method.kind, value, verdict.verified, elapsed, claimed, evidence, verdict.note
    )


def certify(
    model: ModelLike | object,
    methods: Sequence[str] | None = None,
    time_limit: float = 10.0,
    seed: int = 0,
    activation: str | None = None,
    trust_pickle: bool = False,
    progress: Progress | None = None,
    norm: Norm = "2",
    domain: Domain | None = None,
) -> Report:
    """Certified interval [lower, upper] ∋ Lip(f) in ``norm`` ("2" or "inf") over ``domain``
    (default: all of R^d); see `certify.problem`.

    ``methods`` picks bound methods by name (default: every default method); ``time_limit`` is
    the allowance per method in seconds.  ``progress`` is called with each method's name as it
    starts.
    """
    net = resolve_network(model, activation=activation, trust_pickle=trust_pickle)
    problem = Problem(net, norm, domain)
    reason = not_globally_lipschitz(problem)
    if reason is not None:
        source = f"{os.fspath(model)}: " if isinstance(model, (str, os.PathLike)) else ""
        raise NotLipschitzError(source + reason)
    names: Iterable[str] = method_names(default_only=True) if methods is None else methods
    results = []
    for name in dict.fromkeys(names):
        if progress is not None:
            progress(name)
        results.append(run_method(name, problem, time_limit, seed))
    return Report(model=problem.describe(), methods=tuple(results))


