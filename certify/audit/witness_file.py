"""Refutation files: a lower-bound witness saved so that anyone can re-check it.

The file is JSON.  Each point is stored twice, as exact ``float.hex`` strings (what is read
back) and as shortest round-trip decimals (for people); the two must agree.  With the file
go the model path, a fingerprint of its weights, the claim and the verified value.
`recheck` rebuilds the witness and hands it to `certify.verify.verify`, exactly as the audit did:

    from certify.audit import load_refutation, recheck
    from certify import resolve_network
    refutation = load_refutation("witness.json")
    verdict = recheck(resolve_network("model.npz"), refutation)   # verdict.value > claim
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import TwoLayerNetwork

from ..evidence import PairWitness, PointWitness, Witness
from ..problem import NORMS, Norm, Problem
from ..verify import Verdict, verify

__all__ = [
    "FORMAT",
    "Refutation",
    "RefutationFileError",
    "fingerprint",
    "load_refutation",
    "recheck",
    "save_refutation",
]

FORMAT = "lipcert-refutation/1"

#: Witness type (as in ``Witness.to_dict``) → its point fields, and how to rebuild it.
_FIELDS: dict[str, tuple[str, ...]] = {"point": ("x",), "pair": ("x", "y")}
_BUILD: dict[str, Callable[..., Witness]] = {
    "point": lambda value, x: PointWitness(value, point=x),
    "pair": lambda value, x, y: PairWitness(value, x=x, y=y),
}


class RefutationFileError(ValueError):
    """The refutation file cannot be read (message: ``path: problem``)."""


@dataclass(frozen=True)
class Refutation:
    """A witness that Lip(f) ≥ ``verified`` > ``claim`` for the model at ``model``."""

    model: str
    model_fingerprint: str
    claim: float
    verified: float
    method: str | None
    witness: Witness
    #: The norm of the claim ("2" or "inf"); files without one are ℓ2.
    norm: Norm = "2"


def fingerprint(net: TwoLayerNetwork) -> str:
    """SHA-256 of the weights' float64 bytes and the activation: which network a file is about."""
    digest = hashlib.sha256(net.activation.spec.encode())
    for array in (net.W, net.b, net.A, net.c):
        digest.update(repr(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _encode(values: list[float]) -> dict[str, list[str]]:
    return {"hex": [float(v).hex() for v in values], "decimal": [repr(float(v)) for v in values]}


def _decode(entry: object, name: str) -> np.ndarray:
    if not isinstance(entry, dict) or not isinstance(entry.get("hex"), list):
        raise ValueError(f"witness field {name!r} has no 'hex' list")
    try:
        values = [float.fromhex(text) for text in entry["hex"]]
    except (TypeError, ValueError):
        raise ValueError(f"witness field {name!r} holds a value that is not a float.hex") from None
    if "decimal" in entry and entry["decimal"] != [repr(v) for v in values]:
        raise ValueError(f"witness field {name!r}: its hex and decimal values disagree")
    return np.array(values, dtype=np.float64)


def save_refutation(path: str | os.PathLike, refutation: Refutation) -> None:
    """Write ``refutation`` as JSON to ``path``."""
    described = refutation.witness.to_dict()
    kind = str(described["type"])
    witness = {"type": kind} | {name: _encode(described[name]) for name in _FIELDS[kind]}
    record = {
        "format": FORMAT,
        "model": refutation.model,
        "model_sha256": refutation.model_fingerprint,
        "claim": refutation.claim,
        "verified_lower_bound": refutation.verified,
        "method": refutation.method,
        "norm": refutation.norm,
        "witness": witness,
        "recheck": f"certify audit {refutation.model} --recheck {os.fspath(path)}",
    }
    Path(path).write_text(json.dumps(record, indent=1) + "\n")


def load_refutation(path: str | os.PathLike) -> Refutation:
    """Read a refutation file; raises `RefutationFileError` with a one-line message."""
    try:
        record = json.loads(Path(path).read_text())
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise ValueError(f'not a refutation file (no "format": "{FORMAT}")')
        described = record["witness"]
        kind = described.get("type")
        if kind not in _FIELDS:
            raise ValueError(f"unknown witness type {kind!r}")
        points = [_decode(described.get(name), name) for name in _FIELDS[kind]]
        verified = float(record["verified_lower_bound"])
        norm = record.get("norm", "2")
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}")
        return Refutation(
            model=str(record["model"]),
            model_fingerprint=str(record["model_sha256"]),
            claim=float(record["claim"]),
            verified=verified,
            method=record.get("method"),
            witness=_BUILD[kind](verified, *points),
            norm=norm,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if isinstance(error, KeyError):
            message = f"missing field {error}"
        raise RefutationFileError(f"{os.fspath(path)}: {message}") from None


def recheck(net: TwoLayerNetwork, refutation: Refutation) -> Verdict:
    """Re-verify the saved witness on ``net``: a proven lower bound on Lip(f) in the file's
    norm, or a failure."""
    return verify(Problem(net, refutation.norm), refutation.witness)
