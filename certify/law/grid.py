"""Sweep grids: the cells (n, d, k, seed, ...) of a law-of-robustness experiment.

A `Grid` is a product of lists of n, d and k (k may also be a rule of n and d: ``"n"`` or
``"10n/d"``) times seeds, with the training settings shared by every cell.  Presets follow the
experiments of Bubeck, Li, Nagaraj (COLT 2021, §4): ``bln-fig2`` (n from 100 to 2,000, d from 50
to n, k from 10 to n, ε = 0.02) and ``bln-fig3`` (n = 10⁴, d from 10 to 5,000, k = n and
k = 10n/d, ε = 0.1), two seeds per cell; their ``-paper`` variants also train as the paper
did (`PAPER_PROTOCOL`).  ``scale`` multiplies n, d and the numeric k (rules are applied after),
so a laptop can run the same shape of sweep; ``bln-fig3`` keeps d ≥ 10 (the paper's smallest
d, below which k = 10n/d exceeds n).  Grid files are TOML with the
fields of `Grid`.
The field ``train`` says how each net is found (`TRAINS`); it is part of a task's key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from models import UnknownActivationError, get_activation
from models.train import PRECISIONS

__all__ = ["K_RULES", "PRESETS", "TRAINS", "Grid", "GridError", "Task", "load_grid"]


class GridError(ValueError):
    """The grid (preset, file or overrides) does not describe a valid sweep."""


#: k as a function of (n, d): Figure 3 of the paper uses k = n and k = 10n/d.
K_RULES: dict[str, Callable[[int, int], int]] = {
    "n": lambda n, d: n,
    "10n/d": lambda n, d: max(1, math.ceil(10 * n / d)),
}
DISTRIBUTIONS = ("sphere", "gaussian")
#: How a cell's net is found: Adam on the square loss, smooth training (`models.smooth`; plain
#: ``smooth`` penalises structured LipSDP), or an explicit construction (`models.constructions`).
TRAINS = ("adam", "smooth", "smooth-spectral", "smooth-constrained", "construct")


@dataclass(frozen=True, order=True)
class Task:
    """One cell: the data (n, d, distribution, seed) and the training settings of one network.

    These fields are the unique key of a result row: the same task gives the same network.
    """

    n: int
    d: int
    k: int
    seed: int
    activation: str = "relu"
    distribution: str = "sphere"
    epsilon: float = 0.02
    batch_norm: bool = False
    bias_free: bool = False
    learning_rate: float = 1e-2
    max_epochs: int = 5000
    train: str = "adam"
    init_scale: float = 1.0
    batch_size: int = 0
    extra_epochs: int = 0
    precision: str = "float64"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Grid:
    """Lists of n, d, k (ints or `K_RULES` names) and seeds, with shared training settings.

    ``at_most_n`` drops cells with d > n or k > n (the ranges of the paper's Figure 2);
    ``min_d`` drops cells with d < min_d (after scaling).  The training settings the paper
    leaves unstated are options: ``learning_rate``, ``init_scale`` (multiplies the He-style
    initial weights), ``batch_size`` (0 = full batch), ``extra_epochs`` (trained past the first
    fit) and ``max_epochs``; see `models.train.train_two_layer`.  ``precision`` is torch's
    floating-point type in training (`models.train.PRECISIONS`).
    """

    n: tuple[int, ...]
    d: tuple[int, ...]
    k: tuple[int | str, ...]
    seeds: tuple[int, ...] = (0,)
    activation: str = "relu"
    distribution: str = "sphere"
    epsilon: float = 0.02
    batch_norm: bool = False
    bias_free: bool = False
    learning_rate: float = 1e-2
    max_epochs: int = 5000
    train: str = "adam"
    init_scale: float = 1.0
    batch_size: int = 0
    extra_epochs: int = 0
    precision: str = "float64"
    at_most_n: bool = False
    min_d: int = 1

    def __post_init__(self) -> None:
        for name in ("n", "d", "k", "seeds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _validate(self)

    def scaled(self, scale: float) -> Grid:
        """The grid with n, d and numeric k multiplied by ``scale`` (rounded, at least 1)."""
        if not (math.isfinite(scale) and scale > 0):
            raise GridError(f"scale must be a positive number, got {scale}")

        def times(values: tuple[int | str, ...]) -> tuple[int | str, ...]:
            return tuple(v if isinstance(v, str) else max(1, round(v * scale)) for v in values)

        return replace(self, n=times(self.n), d=times(self.d), k=times(self.k))

    def tasks(self) -> list[Task]:
        """Every cell once, in grid order (n, d, k, seed)."""
        settings = {f.name: getattr(self, f.name) for f in fields(Task) if f.name not in _AXES}
        cells = []
        for n in self.n:
            for d in self.d:
                for k in dict.fromkeys(_neurons(v, n, d) for v in self.k):
                    if (self.at_most_n and (d > n or k > n)) or d < self.min_d:
                        continue
                    cells += [Task(n=n, d=d, k=k, seed=s, **settings) for s in self.seeds]
        return list(dict.fromkeys(cells))


_AXES = ("n", "d", "k", "seed")


def _neurons(value: int | str, n: int, d: int) -> int:
    return K_RULES[value](n, d) if isinstance(value, str) else value


def _is_count(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _validate(grid: Grid) -> None:
    for name in ("n", "d"):
        values = getattr(grid, name)
        if not values or any(
            not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in values
        ):
            raise GridError(f"{name} must be a non-empty list of positive integers")
    for value in grid.k:
        if isinstance(value, str):
            if value not in K_RULES:
                raise GridError(f"unknown k rule {value!r} (known: {', '.join(K_RULES)})")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise GridError("k must list positive integers or rules " + ", ".join(K_RULES))
    if not grid.k or not grid.seeds or any(not isinstance(s, int) for s in grid.seeds):
        raise GridError("k and seeds must be non-empty lists (seeds of integers)")
    if grid.train not in TRAINS:
        raise GridError(f"train must be one of {', '.join(TRAINS)}")
    if grid.precision not in PRECISIONS:
        raise GridError(f"precision must be one of {', '.join(PRECISIONS)}")
    if grid.distribution not in DISTRIBUTIONS:
        raise GridError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}")
    try:
        get_activation(grid.activation)
    except UnknownActivationError as error:
        raise GridError(str(error)) from None
    if not (grid.epsilon > 0 and grid.learning_rate > 0 and grid.max_epochs >= 1):
        raise GridError("epsilon and learning_rate must be positive, max_epochs at least 1")
    if not (math.isfinite(grid.init_scale) and grid.init_scale > 0):
        raise GridError("init_scale must be a positive number")
    if not all(_is_count(getattr(grid, name), 0) for name in ("batch_size", "extra_epochs")):
        raise GridError("batch_size and extra_epochs must be integers ≥ 0 (batch_size 0: all)")
    if not _is_count(grid.min_d, 1):
        raise GridError("min_d must be a positive integer")
    if grid.batch_norm and grid.batch_size == 1:
        raise GridError("batch normalisation needs batch_size 0 (full batch) or at least 2")
    if grid.batch_norm and grid.bias_free:
        raise GridError("batch normalisation adds a bias: choose --batch-norm or --bias-free")


PRESETS: dict[str, Grid] = {
    "bln-fig2": Grid(
        n=(100, 200, 500, 1000, 2000),
        d=(50, 100, 200, 500, 1000, 2000),
        k=(10, 20, 50, 100, 200, 500, 1000, 2000),
        seeds=(0, 1),
        epsilon=0.02,
        at_most_n=True,
    ),
    "bln-fig3": Grid(
        n=(10_000,),
        d=(10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
        k=("n", "10n/d"),
        seeds=(0, 1),
        epsilon=0.1,
        min_d=10,
    ),
}
#: What the paper states: batch normalisation between the first linear layer and the ReLU,
#: Adam on the square loss, training until the labels are fitted with loss ≤ ε.  Where it is
#: silent: Adam's published default learning rate 10⁻³ (Kingma and Ba, ICLR 2015), with 20,000
#: epochs at most to make up for the smaller step; full batch; He-style initialisation; no
#: epochs past the fit.
PAPER_PROTOCOL = {"batch_norm": True, "learning_rate": 1e-3, "max_epochs": 20_000}
PRESETS |= {f"{name}-paper": replace(grid, **PAPER_PROTOCOL) for name, grid in PRESETS.items()}


def load_grid(path: str | Path) -> Grid:
    """Read a TOML grid file whose keys are the fields of `Grid` (lists for n, d, k, seeds)."""
    import tomllib

    try:
        with open(path, "rb") as file:
            table = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise GridError(f"{path}: {error}") from None
    known = {f.name for f in fields(Grid)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise GridError(f"{path}: unknown grid keys {', '.join(unknown)}")
    missing = sorted({"n", "d", "k"} - set(table))
    if missing:
        raise GridError(f"{path}: missing grid keys {', '.join(missing)}")
    try:
        return Grid(**table)
    except TypeError as error:
        raise GridError(f"{path}: {error}") from None
