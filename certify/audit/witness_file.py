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
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import Network
from models.deep import linear_layers

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


def fingerprint(net: Network) -> str:
    """SHA-256 of the weights' float64 bytes and the activation: which network a file is about.

    Layer by layer (W_1, b_1, W_2, b_2, …), so a two-layer net hashes W, b, A, c as before."""
    digest = hashlib.sha256(net.activation.spec.encode())
    for weights, bias in zip(*linear_layers(net), strict=True):
        for array in (weights, bias):
            digest.update(repr(array.shape).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _encode(values: list[float]) -> dict[str, list[str]]:
    return {"hex": [float(v).hex() for v in values], "decimal": [repr(float(v)) for v in values]}


def _decode(entry: object, name: str) -> np.ndarray:
    if not isinstance(entry, dict) or not isinstance(entry.get("hex"), list) or not entry["hex"]:
        raise ValueError(f'witness field "{name}" must be an object with a non-empty "hex" list')
    try:
        values = [float.fromhex(text) for text in entry["hex"]]
    except (TypeError, ValueError):
        raise ValueError(f'witness field "{name}" holds a value that is not a float.hex') from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f'witness field "{name}" holds a value that is not finite')
    if "decimal" in entry and entry["decimal"] != [repr(v) for v in values]:
        raise ValueError(f'witness field "{name}": its hex and decimal values disagree')
    return np.array(values, dtype=np.float64)


def _number(record: dict[str, object], name: str) -> float:
    """The field ``name``: a finite number ≥ 0."""
    value = record.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f'"{name}" must be a number, got {json.dumps(value)}')
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f'"{name}" must be a finite number >= 0, got {value}')
    return float(value)


#: What each text field holds, for the messages.
_TEXT_FIELDS = {
    "model": "the model's path",
    "model_sha256": "64 hexadecimal digits",
    "method": "a method name or null",
}


def _text(record: dict[str, object], name: str, pattern: str = ".+") -> str:
    """The field ``name``: a string matching ``pattern``."""
    value = record.get(name)
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise ValueError(f'"{name}" must be {_TEXT_FIELDS[name]}, got {json.dumps(value)}')
    return value


def _witness(record: dict[str, object], verified: float) -> Witness:
    described = record.get("witness")
    kinds = " or ".join(f'"{kind}"' for kind in _FIELDS)
    if not isinstance(described, dict) or described.get("type") not in _FIELDS:
        raise ValueError(f'"witness" must be an object whose "type" is {kinds}')
    kind = described["type"]
    points = [_decode(described.get(name), name) for name in _FIELDS[kind]]
    if len({len(point) for point in points}) > 1:
        raise ValueError('the witness points "x" and "y" differ in length')
    return _BUILD[kind](verified, *points)


def _refutation(record: object) -> Refutation:
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f'not a refutation file (no "format": "{FORMAT}")')
    claim = _number(record, "claim")
    verified = _number(record, "verified_lower_bound")
    if not verified > claim:
        raise ValueError(
            f'"verified_lower_bound" {verified} does not exceed the "claim" {claim}, so it '
            "refutes nothing"
        )
    norm = record.get("norm", "2")
    if norm not in NORMS:
        raise ValueError(f'"norm" must be one of {", ".join(NORMS)}, got {json.dumps(norm)}')
    return Refutation(
        model=_text(record, "model"),
        model_fingerprint=_text(record, "model_sha256", "[0-9a-f]{64}"),
        claim=claim,
        verified=verified,
        method=None if record.get("method") is None else _text(record, "method"),
        witness=_witness(record, verified),
        norm=norm,
    )


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
    """Read and check a refutation file field by field; raises `RefutationFileError` with a
    one-line message ``path: problem``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise RefutationFileError(f"{os.fspath(path)}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise RefutationFileError(f"{os.fspath(path)}: not a text (JSON) file") from None
    try:
        return _refutation(json.loads(text))
    except json.JSONDecodeError as error:
        message = f"not valid JSON ({error.msg} at line {error.lineno})"
        raise RefutationFileError(f"{os.fspath(path)}: {message}") from None
    except ValueError as error:
        raise RefutationFileError(f"{os.fspath(path)}: {error}") from None


def recheck(net: Network, refutation: Refutation) -> Verdict:
    """Re-verify the saved witness on ``net``: a proven lower bound on Lip(f) in the file's
    norm, or a failure.  Raises ValueError when the witness does not fit the network's input."""
    dimension = len(refutation.witness.to_dict()["x"])
    if dimension != net.d:
        raise ValueError(
            f"the witness has {dimension} coordinates, but the model has d = {net.d} inputs"
        )
    return verify(Problem(net, refutation.norm), refutation.witness)
