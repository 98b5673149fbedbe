"""One protocol for every bound method, and the registry that discovers them.

A method is a class with a ``name``, a ``kind`` ("upper" or "lower"), ``why_not(net)`` (None
when it applies, else the reason) and ``run(net, budget)`` returning its `Evidence`.  Modules
under `certify.upper` and `certify.lower` register their classes with `@register`; the registry
imports those packages on first use, so a new method is a new module and touches no other file.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

from models import TwoLayerNetwork

from .evidence import Evidence

__all__ = [
    "BoundMethod",
    "Budget",
    "Kind",
    "UnknownMethodError",
    "get_method",
    "method_names",
    "not_globally_lipschitz",
    "register",
]

Kind = Literal["upper", "lower"]


class UnknownMethodError(ValueError):
    """No registered method has that name."""


@dataclass
class Budget:
    """Wall-clock allowance (seconds) and random seed handed to a method's ``run``."""

    seconds: float = 60.0
    seed: int = 0
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.seconds - (time.monotonic() - self.started))

    def expired(self) -> bool:
        """True once the allowance is spent."""
        return self.remaining() <= 0.0


class BoundMethod(Protocol):
    """The protocol every bound method follows."""

    name: ClassVar[str]
    kind: ClassVar[Kind]
    #: Whether `certify` runs it when the user names no methods.
    default: ClassVar[bool]

    def why_not(self, net: TwoLayerNetwork) -> str | None:
        """None when the method applies to ``net``, else a one-line reason."""

    def run(self, net: TwoLayerNetwork, budget: Budget) -> Evidence:
        """Compute the claim: a `Certificate` (upper) or a `Witness` (lower)."""


def not_globally_lipschitz(net: TwoLayerNetwork) -> str | None:
    """The reason no global bound exists for ``net`` (a polynomial activation), if any."""
    if not net.activation.globally_lipschitz:
        return (
            f"activation {net.activation.spec!r} is not globally Lipschitz, so no global "
            "bound exists (bounds on a bounded region are not supported yet)"
        )
    return None


_REGISTRY: dict[str, type[BoundMethod]] = {}


def register(cls: type[BoundMethod]) -> type[BoundMethod]:
    """Class decorator adding a method to the registry under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise RuntimeError(f"two bound methods are named {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def _discover() -> None:
    for package_name in ("certify.upper", "certify.lower"):
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{module.name}")


def method_names(kind: Kind | None = None, default_only: bool = False) -> list[str]:
    """Registered names, upper bounds first, in a stable order."""
    _discover()
    classes = sorted(_REGISTRY.values(), key=lambda c: (c.kind != "upper", c.name))
    return [
        c.name
        for c in classes
        if (kind is None or c.kind == kind) and (c.default or not default_only)
    ]


def get_method(name: str) -> BoundMethod:
    """A fresh instance of the method called ``name``."""
    _discover()
    if name not in _REGISTRY:
        known = ", ".join(method_names())
        raise UnknownMethodError(f"unknown method {name!r} (known: {known})")
    return _REGISTRY[name]()
