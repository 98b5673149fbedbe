"""The exact Lipschitz constant of LipSDP's MNIST net (issue #15):
``python -m benchmarks.mnist_exact``.

Runs the pattern branch and bound (`certify.upper.pattern_bnb`) on
``../shared/peers/lipsdp/mnist_weights.mat`` (784-50-10, ReLU, no biases) with one thread, logs the
anytime interval to ``--log``, verifies the certificate and the witness, and writes them with the
times, the node count and the pattern to ``--out`` (benchmarks/results/mnist_exact.json), which
tests/test_exact.py re-verifies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from scipy.io import loadmat

from certify import Budget, Problem, verify
from certify.threads import single_threaded
from certify.upper.pattern_bnb import pattern_search
from models import TwoLayerNetwork

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT.parent / "shared" / "peers" / "lipsdp" / "mnist_weights.mat"


def mnist_network(path: Path = MODEL) -> TwoLayerNetwork:
    """f(x) = W₂·relu(W₁x) from LipSDP's weight file (no biases)."""
    W, A = loadmat(path)["weights"].ravel()
    return TwoLayerNetwork.create(np.asarray(W, dtype=float), np.asarray(A, dtype=float))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/mnist_exact.json")
    parser.add_argument("--log", type=Path, default=ROOT / "benchmarks/results/mnist_exact.log")
    args = parser.parse_args()
    torch.set_num_threads(1)
    net = mnist_network(args.model)
    started = time.perf_counter()
    with args.log.open("w") as log, single_threaded():

        def progress(lower: float, upper: float, nodes: int) -> None:
            seconds = time.perf_counter() - started
            log.write(f"{seconds:9.2f} s  {nodes:7d} bounds  [{lower:.10g}, {upper:.10g}]\n")
            log.flush()

        certificate = pattern_search(net, Budget(args.seconds), progress=progress)
        searched = time.perf_counter()
        upper = verify(Problem(net), certificate)
        lower = verify(Problem(net), certificate.witness)
        verified = time.perf_counter()
        progress(lower.value, upper.value, len(certificate.nodes))
    pattern = "".join("1" if s > 0 else "0" for s in certificate.pattern)
    result = {
        "model": os.path.relpath(args.model, ROOT),
        "sha256": hashlib.sha256(args.model.read_bytes()).hexdigest(),
        "lower": repr(lower.value),
        "upper": repr(upper.value),
        "ratio": upper.value / lower.value,
        "verified": upper.verified and lower.verified,
        "seconds_search": searched - started,
        "seconds_verify": verified - searched,
        "nodes": len(certificate.nodes),
        "pattern": pattern,
        "command": "OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "
        "nice -n 10 .venv/bin/python -m benchmarks.mnist_exact",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "certificate": certificate.to_dict(),
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        json.dumps({key: value for key, value in result.items() if key != "certificate"}, indent=1)
    )


if __name__ == "__main__":
    main()
