"""Training two-layer networks to interpolation (Adam on the square loss).

The protocol of Bubeck, Li, Nagaraj (COLT 2021, §4): a run counts as interpolating when every
label is fitted — the sign of f(x_i) equals y_i (argmax for one-hot targets) — and the mean
square loss is at most ε.  A run that does not get there within its epochs is returned with
``interpolated=False``, never silently dropped.  Both tests are made on the returned float64
network itself, the function that is later certified.

Options: batch normalisation between the first linear layer and σ, as in the paper's
experiments, folded into W and b after training (`models.batchnorm.fold_batch_norm`); bias-free
networks (b = 0 and c = 0), the class F_k of Theorem 5; and the settings the paper leaves
unstated — learning rate, initialisation scale, mini-batch size, and epochs past the fit.
Torch may train in float32 (``precision``, about twice as fast on a CPU); the net it ends with is
converted to float64 exactly and tested there, so the precision only changes which net is found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .activations import Activation, get_activation
from .batchnorm import fold_batch_norm as fold_batch_norm_arrays
from .network import TwoLayerNetwork
from .torch_io import from_module, to_module

__all__ = [
    "PRECISIONS",
    "CheckCallback",
    "TrainingResult",
    "as_targets",
    "fit_loss",
    "fits_labels",
    "fold_batch_norm",
    "folding_gap",
    "train_two_layer",
    "trainable_module",
    "training_dtype",
]

#: Called at each check of the fit with (epoch, mean square loss of the float64 net).
CheckCallback = Callable[[int, float], None]
#: Random points at which the folded network is compared with the eval-mode module.
_FOLD_POINTS = 64
#: Largest difference allowed there, relative to 1 + the largest output, per training dtype.
_FOLD_TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4}
#: The floating-point types torch may train in.
PRECISIONS = {"float64": torch.float64, "float32": torch.float32}


@dataclass(frozen=True)
class TrainingResult:
    """The trained network, whether it interpolates, the epochs used and the final loss."""

    network: TwoLayerNetwork
    interpolated: bool
    epochs: int
    loss: float
    #: The training objective's float estimate of an upper bound on Lip(f) (smooth training).
    bound: float | None = None


def training_dtype(precision: str) -> torch.dtype:
    """The torch dtype of ``precision`` (a key of `PRECISIONS`)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})")
    return PRECISIONS[precision]


def fits_labels(outputs: np.ndarray, targets: np.ndarray) -> bool:
    """Every label fitted: sign agreement for one output, argmax agreement for several."""
    if targets.shape[1] == 1:
        return bool(np.all(np.sign(outputs[:, 0]) == np.sign(targets[:, 0])))
    return bool(np.all(outputs.argmax(axis=1) == targets.argmax(axis=1)))


def _array(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().to("cpu", torch.float64).numpy()


def fold_batch_norm(linear: nn.Linear, norm: nn.BatchNorm1d) -> nn.Linear:
    """The float64 affine layer equal to ``norm(linear(x))`` in eval mode: the torch-layer form of
    `models.batchnorm.fold_batch_norm` (W' = diag(s)·W, b' = s·(b − μ) + β, s = γ/√(σ² + ε))."""
    weight, bias = fold_batch_norm_arrays(
        _array(linear.weight),
        _array(linear.bias),
        _array(norm.running_mean),
        _array(norm.running_var),
        norm.eps,
        _array(norm.weight),
        _array(norm.bias),
    )
    folded = nn.Linear(linear.in_features, linear.out_features, dtype=torch.float64)
    with torch.no_grad():
        folded.weight.copy_(torch.from_numpy(weight))
        folded.bias.copy_(torch.from_numpy(bias))
    return folded.to(linear.weight.device)


def _initial_network(
    d: int, k: int, m: int, activation: Activation, seed: int, scale: float
) -> TwoLayerNetwork:
    """He-style initialisation times ``scale``: W ~ N(0, 2s²/d), A ~ N(0, s²/k), zero biases."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((k, d)) * np.sqrt(2.0 / d) * scale
    A = rng.standard_normal((m, k)) / np.sqrt(k) * scale
    return TwoLayerNetwork.create(W, A, b=np.zeros(k), c=np.zeros(m), activation=activation)


def trainable_module(start: TwoLayerNetwork, batch_norm: bool, bias_free: bool) -> nn.Sequential:
    """The torch module to train: Linear, [BatchNorm1d], σ, Linear; no biases if ``bias_free``."""
    first, activation, second = to_module(start)
    if bias_free:
        first.bias, second.bias = None, None
    if batch_norm:
        norm = nn.BatchNorm1d(start.k, dtype=torch.float64)
        return nn.Sequential(first, norm, activation, second)
    return nn.Sequential(first, activation, second)


def _network(module: nn.Sequential, inputs: torch.Tensor) -> TwoLayerNetwork:
    """The float64 network computed by ``module``.  Batch normalisation gets the statistics of
    the whole training set as its running statistics (mean and biased variance), and is folded:
    the network equals the module in eval mode, and the full-batch training forward."""
    if len(module) == 3:
        return from_module(module)
    first, norm, activation, second = module
    with torch.no_grad():
        z = first(inputs)
        norm.running_mean.copy_(z.mean(dim=0))
        norm.running_var.copy_(z.var(dim=0, unbiased=False))
    return from_module(nn.Sequential(fold_batch_norm(first, norm), activation, second))


def folding_gap(module: nn.Sequential, net: TwoLayerNetwork, points: np.ndarray) -> float:
    """max |module(x) − net(x)| over the rows x of ``points``, the module in eval mode, divided
    by 1 + max |module(x)|."""
    was_training = module.training
    module.eval()
    try:
        parameter = next(module.parameters())
        with torch.no_grad():
            inputs = torch.from_numpy(points).to(parameter.device, parameter.dtype)
            expected = module(inputs).to("cpu", torch.float64).numpy()
    finally:
        module.train(was_training)
    return float(np.max(np.abs(net(points) - expected)) / (1.0 + np.max(np.abs(expected))))


def _check_folding(module: nn.Sequential, net: TwoLayerNetwork, seed: int) -> None:
    """Raise unless the folded ``net`` computes the eval-mode module at random points."""
    points = np.random.default_rng(seed).standard_normal((_FOLD_POINTS, net.d))
    gap = folding_gap(module, net, points)
    if not gap <= _FOLD_TOLERANCE[next(module.parameters()).dtype]:
        raise RuntimeError(f"the folded network differs from the batch-norm module by {gap:.3g}")


def fit_loss(net: TwoLayerNetwork, X: np.ndarray, Y: np.ndarray) -> tuple[float, bool]:
    """Mean square loss of ``net`` on (X, Y) and whether it fits every label."""
    outputs = net(X)
    return float(np.mean((outputs - Y) ** 2)), fits_labels(outputs, Y)


def as_targets(targets: np.ndarray) -> np.ndarray:
    """The targets as a float64 n×m matrix (n labels become one column)."""
    Y = np.asarray(targets, dtype=np.float64)
    return Y[:, None] if Y.ndim == 1 else Y


def _batches(
    n: int, batch_size: int, generator: torch.Generator, device: str | torch.device = "cpu"
) -> list[torch.Tensor | slice]:
    """The index batches of one epoch: everything at once when ``batch_size`` is 0 or ≥ n; else
    a seeded shuffle cut into n // batch_size near-equal batches (each of at least
    ``batch_size`` points, so batch normalisation never sees a lone point)."""
    if batch_size <= 0 or batch_size >= n:
        return [slice(None)]
    order = torch.randperm(n, generator=generator).to(device)
    return list(torch.tensor_split(order, n // batch_size))


def _validate(batch_norm: bool, bias_free: bool, batch_size: int, extra_epochs: int) -> None:
    if batch_norm and bias_free:
        raise ValueError("batch normalisation adds a bias: it cannot train a bias-free network")
    if batch_norm and batch_size == 1:
        raise ValueError("batch normalisation needs batches of at least 2 points")
    if batch_size < 0 or extra_epochs < 0:
        raise ValueError("batch_size and extra_epochs must be non-negative")


def train_two_layer(
    X: np.ndarray,
    targets: np.ndarray,
    k: int,
    activation: str | Activation = "relu",
    epsilon: float = 0.02,
    max_epochs: int = 5000,
    learning_rate: float = 1e-2,
    seed: int = 0,
    check_every: int = 25,
    batch_norm: bool = False,
    bias_free: bool = False,
    device: str | torch.device = "cpu",
    init_scale: float = 1.0,
    batch_size: int = 0,
    extra_epochs: int = 0,
    precision: str = "float64",
    on_check: CheckCallback | None = None,
) -> TrainingResult:
    """Fit f(X) ≈ targets (n×m, or n labels ±1) with k hidden neurons, testing the fit every
    ``check_every`` epochs; once it interpolates, train ``extra_epochs`` more and test again.

    ``batch_norm`` trains Linear → BatchNorm1d → σ → Linear and returns the folded network,
    checked against the eval-mode module at random points; ``bias_free`` trains f(x) = A·σ(W x)
    (b = 0, c = 0).  The two exclude each other, since batch normalisation adds a bias.
    ``init_scale`` multiplies the initial weights of both layers; ``batch_size`` 0 is full
    batch.  ``device`` is where torch trains ("cpu", "cuda", ...) and ``precision`` in which
    floating-point type (`PRECISIONS`); ``on_check`` sees each test.
    """
    _validate(batch_norm, bias_free, batch_size, extra_epochs)
    dtype = training_dtype(precision)
    X, Y = np.asarray(X, dtype=np.float64), as_targets(targets)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    start = _initial_network(
        X.shape[1], k, Y.shape[1], get_activation(activation), seed, init_scale
    )
    module = trainable_module(start, batch_norm, bias_free).to(device, dtype)
    inputs = torch.from_numpy(X).to(device, dtype)
    outputs = torch.from_numpy(Y).to(device, dtype)
    optimiser = torch.optim.Adam(module.parameters(), lr=learning_rate)
    epoch, stop, fitted_at = 0, max_epochs, None
    net, loss, interpolated = start, float("inf"), False
    while epoch < stop:
        epoch += 1
        for batch in _batches(len(X), batch_size, generator, inputs.device):
            optimiser.zero_grad()
            torch.mean((module(inputs[batch]) - outputs[batch]) ** 2).backward()
            optimiser.step()
        if epoch % check_every == 0 or epoch == stop:
            net = _network(module, inputs)
            loss, fitted = fit_loss(net, X, Y)
            interpolated = loss <= epsilon and fitted
            if on_check is not None:
                on_check(epoch, loss)
            if interpolated and fitted_at is None:
                fitted_at, stop = epoch, epoch + extra_epochs
    if batch_norm and epoch:  # with max_epochs = 0 the unfolded start is returned
        _check_folding(module, net, seed)
    return TrainingResult(net, interpolated, epoch, loss)
