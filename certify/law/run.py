"""One task of a sweep: generic data, a net found as ``task.train`` says (Adam, smooth training
or a construction), certification → one row.

Row fields (besides the task's): ``interpolated`` (1 when every label is fitted with mean square
loss ≤ ε, on the float64 network that is certified), ``epochs``, ``train_loss``, ``seconds``
(the whole task), ``train_seconds`` (the data and the net; the rest is certification),
``sqrt_n_over_k``; ``lip_lower``: a verified lower bound on Lip_S(f), the Lipschitz constant on
the sphere S^{d−1} (`certify.law.sphere`); ``lip_upper``: the smallest verified upper bound on
Lip_S(f), over the upper methods on all of R^d and, for data on the sphere, on the closed unit
ball ⊇ S^{d−1} (``upper_domain`` says which: ``global`` or ``unit-ball``; NULL in rows from
before it, which are global), ``lip_upper_global`` the global one alone; ``proxy``: the
paper's estimate, max ‖∇f‖ at 1,000 points N(0, I/d) (the ``sampling`` method's claim, not a
bound on Lip_S); ``theorem5``: L·‖A‖₂·‖W‖₂ in float64 with proven ``theorem5_lower`` and
``theorem5_upper``; ``settings``: the certification settings as JSON; ``error``: the exception
text when the task crashed (its other results are then empty); ``found_by``: the trainer or
construction; ``train_bound``: the smooth trainer's float estimate of its bound (not verified);
``network``: the float64 net (`certify.law.netblob`).  A cell with no construction is a crash
row whose error says so.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from models import TwoLayerNetwork
from models.constructions import best_construction
from models.data import generic_data
from models.smooth import train_smooth
from models.train import TrainingResult, fit_loss, train_two_layer

from ..api import certify
from ..evidence import PointWitness
from ..methods import Budget
from ..report import Report
from .grid import Task
from .netblob import to_bytes
from .sphere import sphere_lower_bound, tightest_upper, unit_ball_upper
from .theorem5 import spectral_product

__all__ = [
    "DEFAULT_UPPER_METHODS",
    "Settings",
    "crashed_row",
    "error_text",
    "find_network",
    "run_task",
]

#: Upper-bound methods of a sweep: the spectral product always, LipSDP-Neuron where it can.
DEFAULT_UPPER_METHODS = ("spectral", "lipsdp-neuron")
#: Lower-bound searches whose witness points seed the search on the sphere; ``sampling`` is
#: also the paper's proxy.
_SEED_METHODS = ("sampling", "ascent")
SPHERE_METHOD = "sphere"
#: Told what a task is doing as it goes: "training: epoch …", "certifying: <method>", ….
Stage = Callable[[str], None]


def _quiet(text: str) -> None:
    """The stage callback of a task nobody watches."""


@dataclass(frozen=True)
class Settings:
    """How each network is certified: upper methods, seconds per method, torch device."""

    upper_methods: tuple[str, ...] = DEFAULT_UPPER_METHODS
    time_limit: float = 3.0
    device: str = "cpu"

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k != "device"})


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _claim(report: Report, name: str) -> float | None:
    result = next((r for r in report.methods if r.name == name), None)
    return None if result is None or result.claimed is None else _finite(result.claimed)


def _seed_points(report: Report) -> np.ndarray | None:
    points = [
        r.evidence.point
        for r in report.methods
        if r.name in _SEED_METHODS and isinstance(r.evidence, PointWitness)
    ]
    return np.array(points) if points else None


def _measure(
    net: TwoLayerNetwork, seed: int, settings: Settings, on_sphere: bool, stage: Stage
) -> dict[str, object]:
    """Certified interval on the sphere (the upper end on the unit ball too when the data lie
    on the sphere), the paper's proxy and the spectral product."""
    methods = (*settings.upper_methods, *_SEED_METHODS)
    report = certify(
        net,
        methods=methods,
        time_limit=settings.time_limit,
        seed=seed,
        progress=lambda name: stage(f"certifying: {name}"),
    )
    ball = None
    if on_sphere:
        ball = unit_ball_upper(
            net,
            settings.time_limit,
            seed,
            lambda name: stage(f"certifying on the unit ball: {name}"),
        )
    upper = tightest_upper(report, ball)
    stage("certifying: search on the sphere")
    lower, witness = sphere_lower_bound(
        net, Budget(settings.time_limit, seed), starts=_seed_points(report)
    )
    stage("certifying: Theorem 5's product")
    product = spectral_product(net)
    return {
        "lip_lower": lower,
        "lower_method": None if witness is None else SPHERE_METHOD,
        "lip_upper": _finite(upper.value),
        "upper_method": upper.method,
        "upper_domain": upper.domain,
        "lip_upper_global": _finite(upper.global_value),
        "proxy": _claim(report, "sampling"),
        "theorem5": product.value,
        "theorem5_lower": product.lower,
        "theorem5_upper": product.upper,
    }


def _task_row(task: Task, settings: Settings) -> dict[str, object]:
    return {
        **task.as_dict(),
        "sqrt_n_over_k": math.sqrt(task.n / task.k),
        "settings": settings.to_json(),
    }


def _constructed(task: Task, X: np.ndarray, y: np.ndarray) -> tuple[TrainingResult, str]:
    found = best_construction(X, y, task.k) if task.activation == "relu" else None
    if found is None:
        raise ValueError(
            f"no construction for n={task.n}, d={task.d}, k={task.k}, {task.activation}"
        )
    loss, fitted = fit_loss(found.network, X, y[:, None])
    return TrainingResult(found.network, fitted and loss <= task.epsilon, 0, loss), found.name


def find_network(
    task: Task, X: np.ndarray, y: np.ndarray, device: str = "cpu", stage: Stage = _quiet
) -> tuple[TrainingResult, str]:
    """The net of ``task`` on (X, y) as ``task.train`` says, and how it was found."""
    if task.train == "construct":
        return _constructed(task, X, y)
    common = {
        "activation": task.activation,
        "epsilon": task.epsilon,
        "seed": task.seed,
        "max_epochs": task.max_epochs,
        "learning_rate": task.learning_rate,
        "bias_free": task.bias_free,
        "device": device,
        "precision": task.precision,
    }

    def checked(epoch: int, loss: float) -> None:
        stage(f"training: epoch {epoch}/{task.max_epochs}, loss {loss:.3g}")

    if task.train == "adam":
        return train_two_layer(
            X,
            y,
            task.k,
            batch_norm=task.batch_norm,
            init_scale=task.init_scale,
            batch_size=task.batch_size,
            extra_epochs=task.extra_epochs,
            on_check=checked,
            **common,
        ), "adam"
    if task.batch_norm:
        raise ValueError("smooth training does not use batch normalisation")
    if (task.init_scale, task.batch_size, task.extra_epochs) != (1.0, 0, 0):
        raise ValueError(
            "smooth training takes the default init_scale, batch_size and extra_epochs"
        )
    penalty = {
        "smooth": "lipsdp",
        "smooth-spectral": "spectral",
        "smooth-constrained": "constrained",
    }[task.train]

    def smoothed(epoch: int, bound: float) -> None:
        stage(f"smoothing: epoch {epoch}/{task.max_epochs}, bound {bound:.4g}")

    found = train_smooth(
        X, y, task.k, penalty=penalty, on_check=checked, on_smoothing=smoothed, **common
    )
    return found, f"smooth({penalty})"


def run_task(
    task: Task, settings: Settings | None = None, stage: Stage | None = None
) -> dict[str, object]:
    """Train and certify the network of ``task``; every outcome, a crash included, is a row.
    ``stage`` is told what the task is doing as it goes."""
    start = time.perf_counter()
    settings = Settings() if settings is None else settings
    stage = _quiet if stage is None else stage
    row = _task_row(task, settings)
    try:
        X, y = generic_data(task.n, task.d, task.distribution, task.seed)
        stage(f"training ({task.train})")
        result, found_by = find_network(task, X, y, settings.device, stage)
        row |= {
            "interpolated": int(result.interpolated),
            "epochs": result.epochs,
            "train_loss": result.loss,
            "train_seconds": time.perf_counter() - start,
            "found_by": found_by,
            "train_bound": result.bound,
            "network": to_bytes(result.network),
        }
        row |= _measure(result.network, task.seed, settings, task.distribution == "sphere", stage)
    except Exception as error:  # a crash is a result too: it is recorded, never dropped
        row["error"] = error_text(error)
    row["seconds"] = time.perf_counter() - start
    return row


def error_text(error: BaseException) -> str:
    """The one-paragraph description of a crash stored in a row's ``error``."""
    return "".join(traceback.format_exception_only(type(error), error)).strip()


def crashed_row(task: Task, settings: Settings, error: BaseException) -> dict[str, object]:
    """The row of a task whose run never returned (its worker failed)."""
    return {**_task_row(task, settings), "error": error_text(error)}
