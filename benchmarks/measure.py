"""One benchmark measurement in a fresh process: ``python -m benchmarks.measure '<json spec>'``
prints one JSON object (seconds, bound, peak memory) on its last line.

The spec names the network — W ~ N(0, 1/d) (k×d), A ~ N(0, 1/k) (m×k), no bias, from a seed —
the method, and the number of torch and BLAS threads (default 1).  A fresh process per measurement
gives each its own peak resident memory (the high-water mark of ``getrusage``, reported above the
level reached before the method starts) and lets the caller kill a solver that outlives its time
cap.  The checkers are imported (by one small verification) before any clock starts.
"""

from __future__ import annotations

import json
import math
import resource
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from certify import Budget, Problem, verify
from certify.upper.lipsdp import LipSDPNeuron
from certify.upper.spectral import SpectralProduct
from models import TwoLayerNetwork

__all__ = ["METHODS", "measure", "network"]

Result = dict[str, object]


def network(d: int, k: int, m: int, seed: int) -> TwoLayerNetwork:
    """The benchmark net: Gaussian weights with variance 1/(fan-in), ReLU, no bias."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((k, d)) / math.sqrt(d)
    A = rng.standard_normal((m, k)) / math.sqrt(k)
    return TwoLayerNetwork.create(W, A)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _certified(method: object, net: TwoLayerNetwork, seconds: float) -> Result:
    """Run a bound method, then its checker, timing each."""
    problem = Problem(net)
    start = time.perf_counter()
    evidence = method.run(problem, Budget(seconds))
    solved = time.perf_counter()
    verdict = verify(problem, evidence)
    verified = time.perf_counter()
    return {
        "seconds_solve": solved - start,
        "seconds_verify": verified - solved,
        "bound": verdict.value if verdict.verified else float(evidence.value),
        "verified": verdict.verified,
        "sdp_lower": float(getattr(evidence, "sdp_lower", math.nan)),
        "solver": getattr(evidence, "solver", ""),
        "note": verdict.note,
    }


def _lipsdp(spec: dict, net: TwoLayerNetwork) -> Result:
    solver = spec.get("solver", "auto")
    result = _certified(
        LipSDPNeuron(solver, spec.get("tolerance", 1e-6)), net, spec.get("budget", 60.0)
    )
    if solver == "scs" and result["solver"] != "scs":
        result["note"] = f"SCS failed; the bound is from the fallback ({result['solver']})"
    return result


def _spectral(spec: dict, net: TwoLayerNetwork) -> Result:
    return _certified(SpectralProduct(), net, 60.0)


def _eclipse(spec: dict, net: TwoLayerNetwork) -> Result:
    """ECLipsE or ECLipsE-Fast (Xu & Sivaranjani, NeurIPS 2024) from the ``eclipse-nn`` package;
    its bound comes without a certificate, so it is reported unverified."""
    from eclipse_nn import LipConstEstimator

    weights = [torch.from_numpy(np.array(net.W)), torch.from_numpy(np.array(net.A))]
    estimator = LipConstEstimator(weights=weights)
    start = time.perf_counter()
    bound = float(estimator.estimate(spec["variant"]))
    return {"seconds_solve": time.perf_counter() - start, "bound": bound, "verified": False}


def _floor(spec: dict, net: TwoLayerNetwork) -> Result:
    """One dense symmetric eigendecomposition of size d + k (numpy ``eigh``)."""
    n = net.d + net.k
    X = np.random.default_rng(0).standard_normal((n, n))
    X = X + X.T
    start = time.perf_counter()
    np.linalg.eigh(X)
    return {"seconds_solve": time.perf_counter() - start}


METHODS: dict[str, Callable[[dict, TwoLayerNetwork], Result]] = {
    "lipsdp": _lipsdp,
    "spectral": _spectral,
    "eclipse": _eclipse,
    "floor": _floor,
}


def _warm_up() -> None:
    """Import every checker (the first verification does) outside the timed part."""
    net = network(2, 2, 1, 0)
    verify(Problem(net), SpectralProduct().run(Problem(net), Budget(1.0)))


def measure(spec: dict) -> Result:
    """Build the spec's net and run its method; adds the peak memory above the starting level."""
    threads = int(spec.get("threads") or 1)
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)
    _warm_up()
    net = network(spec["d"], spec["k"], spec["m"], spec.get("seed", 0))
    before = _peak_mb()
    result = METHODS[spec["method"]](spec, net)
    after = _peak_mb()
    return {**result, "peak_mb": after, "added_mb": after - before}


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
