"""A network as bytes for the results database: an ``.npz`` archive of W, b, A, c (float64) and
the activation's spec, so that a stored net is exactly the float64 net that was certified."""

from __future__ import annotations

import io

import numpy as np

from models import TwoLayerNetwork

__all__ = ["from_bytes", "to_bytes"]


def to_bytes(net: TwoLayerNetwork) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, W=net.W, b=net.b, A=net.A, c=net.c, activation=np.array(net.activation.spec)
    )
    return buffer.getvalue()


def from_bytes(blob: bytes) -> TwoLayerNetwork:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return TwoLayerNetwork.create(
            data["W"], data["A"], b=data["b"], c=data["c"], activation=str(data["activation"])
        )
