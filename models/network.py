"""The neutral description of a two-layer network, f(x) = A·σ(W x + b) + c.

Everything downstream (bounds, verification, reports) reads networks only through
`TwoLayerNetwork`: float64 arrays, validated once on construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .activations import Activation, UnknownActivationError, get_activation

__all__ = ["NetworkError", "TwoLayerNetwork", "as_matrix"]


class NetworkError(ValueError):
    """The arrays do not describe a valid network (shape, dtype or non-finite value)."""


def as_matrix(name: str, value: object, ndim: int) -> np.ndarray:
    """A read-only, C-ordered float64 copy of ``value`` with ``ndim`` dimensions, all finite.

    One memory order whatever the file (MATLAB's are column-major) keeps every computation on
    the network bit-for-bit the same, whichever format it came from."""
    raw = np.asarray(value)
    if raw.dtype.kind not in "biuf":
        raise NetworkError(f"{name} must hold real numbers, got dtype {raw.dtype}")
    array = np.array(raw, dtype=np.float64, order="C", copy=True)
    if array.ndim != ndim:
        raise NetworkError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise NetworkError(f"{name} contains NaN or Inf")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class TwoLayerNetwork:
    """f(x) = A·σ(W x + b) + c with W: k×d, b: k, A: m×k, c: m (float64, finite)."""

    W: np.ndarray
    b: np.ndarray
    A: np.ndarray
    c: np.ndarray
    activation: Activation = field(default_factory=lambda: get_activation("relu"))

    def __post_init__(self) -> None:
        W = as_matrix("W (first layer weight)", self.W, 2)
        b = as_matrix("b (first layer bias)", self.b, 1)
        A = as_matrix("A (second layer weight)", self.A, 2)
        c = as_matrix("c (second layer bias)", self.c, 1)
        k, d = W.shape
        if k == 0 or d == 0 or A.shape[0] == 0:
            raise NetworkError(f"empty layer: W has shape {W.shape}, A has shape {A.shape}")
        if b.shape != (k,):
            raise NetworkError(f"b has shape {b.shape}, expected ({k},) to match W {W.shape}")
        if A.shape[1] != k:
            raise NetworkError(f"A has shape {A.shape}, expected (m, {k}) to match W {W.shape}")
        if c.shape != (A.shape[0],):
            raise NetworkError(f"c has shape {c.shape}, expected ({A.shape[0]},) to match A")
        try:
            activation = get_activation(self.activation)
        except UnknownActivationError as error:
            raise NetworkError(str(error)) from None
        for name, value in (("W", W), ("b", b), ("A", A), ("c", c), ("activation", activation)):
            object.__setattr__(self, name, value)

    @classmethod
    def create(
        cls,
        W: object,
        A: object,
        b: object | None = None,
        c: object | None = None,
        activation: str | Activation = "relu",
    ) -> TwoLayerNetwork:
        """Build a network, with zero biases where none are given and a vector A read as 1×k."""
        W_arr, A_arr = np.asarray(W), np.asarray(A)
        if A_arr.ndim == 1:
            A_arr = A_arr[None, :]
        k = W_arr.shape[0] if W_arr.ndim == 2 else 0
        m = A_arr.shape[0] if A_arr.ndim == 2 else 0
        return cls(
            W=W_arr,
            b=np.zeros(k) if b is None else b,
            A=A_arr,
            c=np.zeros(m) if c is None else c,
            activation=activation,
        )

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.W.shape[1]

    @property
    def k(self) -> int:
        """Number of hidden neurons."""
        return self.W.shape[0]

    @property
    def m(self) -> int:
        """Output dimension."""
        return self.A.shape[0]

    def preactivation(self, x: np.ndarray) -> np.ndarray:
        """W x + b for one point (shape d) or a batch (shape n×d)."""
        return np.asarray(x, dtype=np.float64) @ self.W.T + self.b

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """f(x) for one point (shape d → m) or a batch (shape n×d → n×m), in float64."""
        return self.activation.value(self.preactivation(x)) @ self.A.T + self.c

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """J(x) = A·diag(σ'(W x + b))·W (m×d), where σ is differentiable."""
        slopes = self.activation.derivative(self.preactivation(x))
        return (self.A * slopes) @ self.W

    def describe(self) -> dict[str, object]:
        """The shape summary used in reports: d, k, m and the activation."""
        return {"d": self.d, "k": self.k, "m": self.m, "activation": self.activation.spec}
