"""The neutral description of a network: one type, `Network`, for every depth.

f(x) = W_L σ(⋯ σ(W_1 x + b_1) ⋯) + b_L with L ≥ 2 linear layers (W_l: n_l × n_{l−1}, float64,
finite, validated once on construction) and one activation σ between consecutive layers.  The
two-layer case L = 2 keeps the names of the paper's formulas, f(x) = A·σ(W x + b) + c, as the
view ``net.W, net.b, net.A, net.c``.

`TwoLayerNetwork` and `DeepNetwork` are not types of their own but views of `Network` by depth:
``isinstance(net, TwoLayerNetwork)`` holds exactly when L = 2, ``isinstance(net, DeepNetwork)``
when L ≥ 3, and calling them builds a `Network`.  Everything downstream (bounds, verification,
reports) reads networks only through `Network`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .activations import Activation, UnknownActivationError, get_activation

__all__ = [
    "DeepNetwork",
    "Network",
    "NetworkError",
    "TwoLayerNetwork",
    "as_matrix",
    "linear_layers",
    "network_from_layers",
]


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


def _names(depth: int) -> tuple[list[str], list[str]]:
    """What the layers are called in messages: W, A and b, c for two layers, else W1 … WL."""
    if depth == 2:
        return ["W", "A"], ["b", "c"]
    return [f"W{i}" for i in range(1, depth + 1)], [f"b{i}" for i in range(1, depth + 1)]


def _check_shapes(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> None:
    W_names, b_names = _names(len(weights))
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        if 0 in W.shape:
            shapes = ", ".join(
                f"{n} has shape {w.shape}" for n, w in zip(W_names, weights, strict=True)
            )
            raise NetworkError(f"empty layer: {shapes}")
        if b.shape != (W.shape[0],):
            raise NetworkError(
                f"{b_names[i]} has shape {b.shape}, expected ({W.shape[0]},) to match "
                f"{W_names[i]} {W.shape}"
            )
        if i and W.shape[1] != weights[i - 1].shape[0]:
            raise NetworkError(
                f"{W_names[i]} has shape {W.shape}, expected (·, {weights[i - 1].shape[0]}) "
                f"to follow {W_names[i - 1]} {weights[i - 1].shape}"
            )


@dataclass(frozen=True, eq=False)
class Network:
    """Linear layers (W_l, b_l), l = 1 … L with L ≥ 2, and the activation σ between them."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activation: Activation = field(default_factory=lambda: get_activation("relu"))

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.biases):
            raise NetworkError(
                f"{len(self.weights)} weight matrices but {len(self.biases)} bias vectors"
            )
        if len(self.weights) < 2:
            raise NetworkError(f"{len(self.weights)} linear layer(s): a network needs at least two")
        W_names, b_names = _names(len(self.weights))
        weights = tuple(as_matrix(n, W, 2) for n, W in zip(W_names, self.weights, strict=True))
        biases = tuple(as_matrix(n, b, 1) for n, b in zip(b_names, self.biases, strict=True))
        _check_shapes(weights, biases)
        try:
            activation = get_activation(self.activation)
        except UnknownActivationError as error:
            raise NetworkError(str(error)) from None
        for name, value in (("weights", weights), ("biases", biases), ("activation", activation)):
            object.__setattr__(self, name, value)

    @property
    def depth(self) -> int:
        """Number of linear layers L."""
        return len(self.weights)

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.weights[0].shape[1]

    @property
    def m(self) -> int:
        """Output dimension."""
        return self.weights[-1].shape[0]

    @property
    def widths(self) -> tuple[int, ...]:
        """Hidden layer widths n_1, …, n_{L−1}."""
        return tuple(W.shape[0] for W in self.weights[:-1])

    @property
    def k(self) -> int:
        """Number of hidden neurons, n_1 + … + n_{L−1}."""
        return sum(self.widths)

    def _two_layer(self, name: str) -> None:
        if self.depth != 2:
            raise AttributeError(
                f"{name} names a layer of a two-layer network, and this one has {self.depth} "
                "linear layers (use weights and biases)"
            )

    @property
    def W(self) -> np.ndarray:
        """First-layer weight (k×d) of a two-layer network."""
        self._two_layer("W")
        return self.weights[0]

    @property
    def b(self) -> np.ndarray:
        """First-layer bias (k) of a two-layer network."""
        self._two_layer("b")
        return self.biases[0]

    @property
    def A(self) -> np.ndarray:
        """Second-layer weight (m×k) of a two-layer network."""
        self._two_layer("A")
        return self.weights[1]

    @property
    def c(self) -> np.ndarray:
        """Second-layer bias (m) of a two-layer network."""
        self._two_layer("c")
        return self.biases[1]

    def preactivation(self, x: np.ndarray) -> np.ndarray:
        """W_1 x + b_1 for one point (shape d) or a batch (shape n×d)."""
        return np.asarray(x, dtype=np.float64) @ self.weights[0].T + self.biases[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """f(x) for one point (shape d → m) or a batch (shape n×d → n×m), in float64."""
        h = np.asarray(x, dtype=np.float64)
        for W, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            h = self.activation.value(h @ W.T + b)
        return h @ self.weights[-1].T + self.biases[-1]

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """J(x) = W_L D_{L−1} W_{L−1} ⋯ D_1 W_1 (m×d) at one point where σ is differentiable,
        D_l = diag(σ'(z_l)); for two layers A·diag(σ'(W x + b))·W."""
        if self.depth == 2:
            return (self.A * self.activation.derivative(self.preactivation(x))) @ self.W
        h, J = np.asarray(x, dtype=np.float64), np.eye(self.d)
        for W, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            z = W @ h + b
            J = self.activation.derivative(z)[:, None] * (W @ J)
            h = self.activation.value(z)
        return self.weights[-1] @ J

    def describe(self) -> dict[str, object]:
        """The shape summary used in reports: d, k, m (and the widths of a deep net), σ."""
        summary: dict[str, object] = {"d": self.d, "k": self.k, "m": self.m}
        if self.depth > 2:
            summary["widths"] = list(self.widths)
        return {**summary, "activation": self.activation.spec}


class _DepthView(type):
    """A name for the networks of some depths: instances are the `Network`\\ s of those depths,
    and calling it builds one."""

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, Network) and cls.holds(instance.depth)

    def __call__(cls, *args: object, **kwargs: object) -> Network:
        return cls.build(*args, **kwargs)


class TwoLayerNetwork(metaclass=_DepthView):
    """f(x) = A·σ(W x + b) + c with W: k×d, b: k, A: m×k, c: m: a `Network` with L = 2."""

    @staticmethod
    def holds(depth: int) -> bool:
        return depth == 2

    @staticmethod
    def build(
        W: object, b: object, A: object, c: object, activation: str | Activation = "relu"
    ) -> Network:
        return Network((W, A), (b, c), activation)

    @staticmethod
    def create(
        W: object,
        A: object,
        b: object | None = None,
        c: object | None = None,
        activation: str | Activation = "relu",
    ) -> Network:
        """Build a network, with zero biases where none are given and a vector A read as 1×k."""
        A_arr = np.asarray(A)
        if A_arr.ndim == 1:
            A_arr = A_arr[None, :]
        return network_from_layers([W, A_arr], [b, c], activation)


class DeepNetwork(metaclass=_DepthView):
    """A `Network` with L ≥ 3 linear layers."""

    @staticmethod
    def holds(depth: int) -> bool:
        return depth >= 3

    @staticmethod
    def build(
        weights: Sequence[object],
        biases: Sequence[object],
        activation: str | Activation = "relu",
    ) -> Network:
        if len(weights) < 3:
            raise NetworkError("a deep network needs at least 3 linear layers; use TwoLayerNetwork")
        return Network(tuple(weights), tuple(biases), activation)


def network_from_layers(
    weights: Sequence[object],
    biases: Sequence[object | None],
    activation: str | Activation = "relu",
) -> Network:
    """The network of the linear layers (W_l, b_l) with σ between them; a missing bias is zero."""
    if len(weights) != len(biases):
        raise NetworkError(f"{len(weights)} weight matrices but {len(biases)} bias vectors")
    rows = [np.shape(W)[0] if np.ndim(W) == 2 else 0 for W in weights]
    filled = [np.zeros(n) if b is None else b for n, b in zip(rows, biases, strict=True)]
    return Network(tuple(weights), tuple(filled), activation)


def linear_layers(net: Network) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """The weights (W_1, …, W_L) and the biases (b_1, …, b_L) of ``net``."""
    return net.weights, net.biases
