"""The neutral description of a deep MLP, f(x) = W_L σ(⋯ σ(W_1 x + b_1) ⋯) + b_L.

Two-layer networks keep their own type, `TwoLayerNetwork` (L = 2); `DeepNetwork` is for
L ≥ 3 linear layers with one activation between consecutive layers.  `network_from_layers` and
`linear_layers` convert between either type and its list of linear layers (file formats use them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .activations import Activation, UnknownActivationError, get_activation
from .network import NetworkError, TwoLayerNetwork, as_matrix

__all__ = ["DeepNetwork", "linear_layers", "network_from_layers"]


@dataclass(frozen=True, eq=False)
class DeepNetwork:
    """Linear layers (W_l: n_l × n_{l−1}, b_l: n_l), l = 1..L with L ≥ 3 (float64, finite)."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activation: Activation = field(default_factory=lambda: get_activation("relu"))

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.biases):
            raise NetworkError(
                f"{len(self.weights)} weight matrices but {len(self.biases)} bias vectors"
            )
        if len(self.weights) < 3:
            raise NetworkError("a deep network needs at least 3 linear layers; use TwoLayerNetwork")
        weights = tuple(as_matrix(f"W{i + 1}", W, 2) for i, W in enumerate(self.weights))
        biases = tuple(as_matrix(f"b{i + 1}", b, 1) for i, b in enumerate(self.biases))
        for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
            if 0 in W.shape:
                raise NetworkError(f"empty layer: W{i + 1} has shape {W.shape}")
            if b.shape != (W.shape[0],):
                raise NetworkError(f"b{i + 1} has shape {b.shape}, expected ({W.shape[0]},)")
            if i and W.shape[1] != weights[i - 1].shape[0]:
                raise NetworkError(
                    f"W{i + 1} has shape {W.shape}, expected (·, {weights[i - 1].shape[0]}) "
                    f"to follow W{i} {weights[i - 1].shape}"
                )
        try:
            activation = get_activation(self.activation)
        except UnknownActivationError as error:
            raise NetworkError(str(error)) from None
        for name, value in (("weights", weights), ("biases", biases), ("activation", activation)):
            object.__setattr__(self, name, value)

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
    def depth(self) -> int:
        """Number of linear layers L."""
        return len(self.weights)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """f(x) for one point (shape d → m) or a batch (shape n×d → n×m), in float64."""
        h = np.asarray(x, dtype=np.float64)
        for W, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            h = self.activation.value(h @ W.T + b)
        return h @ self.weights[-1].T + self.biases[-1]

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """J(x) = W_L D_{L−1} W_{L−1} ⋯ D_1 W_1 (m×d) at one point where σ is differentiable."""
        h, J = np.asarray(x, dtype=np.float64), np.eye(self.d)
        for W, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            z = W @ h + b
            J = self.activation.derivative(z)[:, None] * (W @ J)
            h = self.activation.value(z)
        return self.weights[-1] @ J

    def describe(self) -> dict[str, object]:
        """The shape summary used in reports."""
        return {
            "d": self.d,
            "k": sum(self.widths),
            "m": self.m,
            "widths": list(self.widths),
            "activation": self.activation.spec,
        }


def network_from_layers(
    weights: Sequence[object],
    biases: Sequence[object | None],
    activation: str | Activation = "relu",
) -> TwoLayerNetwork | DeepNetwork:
    """The network of the linear layers (W_l, b_l) with σ between them: a `TwoLayerNetwork` for
    two layers, a `DeepNetwork` for more (a missing bias is zero)."""
    if len(weights) != len(biases):
        raise NetworkError(f"{len(weights)} weight matrices but {len(biases)} bias vectors")
    if len(weights) < 2:
        raise NetworkError(f"{len(weights)} linear layer(s): a network needs at least two")
    if len(weights) == 2:
        return TwoLayerNetwork.create(
            weights[0], weights[1], b=biases[0], c=biases[1], activation=activation
        )
    rows = [np.shape(W)[0] if np.ndim(W) == 2 else 0 for W in weights]
    filled = [np.zeros(n) if b is None else b for n, b in zip(rows, biases, strict=True)]
    return DeepNetwork(tuple(weights), tuple(filled), activation)


def linear_layers(net: TwoLayerNetwork | DeepNetwork) -> tuple[tuple[np.ndarray, ...], ...]:
    """The weights (W_1, …, W_L) and the biases (b_1, …, b_L) of either kind of network."""
    if isinstance(net, TwoLayerNetwork):
        return (net.W, net.A), (net.b, net.c)
    return net.weights, net.biases
