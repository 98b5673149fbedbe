"""One protocol for every bound method, and the registry that discovers them.

A method is a class with a ``name``, a ``kind`` ("upper" or "lower"), ``why_not(problem)`` (None
when it applies to the `Problem`, else the reason) and ``run(problem, budget)`` returning its
`Evidence`.  Modules
under `certify.upper` and `certify.lower` register their classes with `@register`; the registry
imports those packages on first use, so a new method is a new module and touches no other file.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

from models import Network

from .evidence import Evidence
from .problem import Problem
from .scope import Scope, not_globally_lipschitz

__all__ = [
    "ALIASES",
    "BoundMethod",
    "Budget",
    "Kind",
    "Scope",
    "UnknownMethodError",
    "canonical_name",
    "get_method",
    "method_names",
    "not_globally_lipschitz",
    "not_piecewise_linear",
    "register",
    "resolve_names",
    "scope_table",
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
    #: The (depth, norm, region) cells it handles; ``why_not`` adds only its own conditions.
    scope: ClassVar[Scope]

    def why_not(self, problem: Problem) -> str | None:
        """None when the method applies to ``problem``, else a one-line reason."""

    def run(self, problem: Problem, budget: Budget) -> Evidence:
        """Compute the claim: a `Certificate` (upper) or a `Witness` (lower)."""


def not_piecewise_linear(net: Network) -> str | None:
    """The reason a method that enumerates linear pieces does not apply to ``net``, if any."""
    if not net.activation.piecewise_linear:
        return f"activation {net.activation.spec!r} is not piecewise linear"
    return None


_REGISTRY: dict[str, type[BoundMethod]] = {}
#: Names that earlier releases gave to what is now one method that dispatches on the problem;
#: they stay accepted for one release.
ALIASES = {
    "deep-lipsdp-neuron": "lipsdp-neuron",
    "deep-lipsdp-layer": "lipsdp-layer",
    "domain-spectral": "spectral",
    "deep-ascent": "ascent",
    "domain-ascent": "ascent",
    "linf-ascent": "ascent",
}


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


def method_names(kind: Kind | None = None) -> list[str]:
    """Registered names, upper bounds first, in a stable order."""
    _discover()
    classes = sorted(_REGISTRY.values(), key=lambda c: (c.kind != "upper", c.name))
    return [c.name for c in classes if kind is None or c.kind == kind]


def canonical_name(name: str) -> str:
    """The registered name of ``name``, which may be an old alias."""
    return ALIASES.get(name, name)


def resolve_names(names: Sequence[str] | None) -> list[str]:
    """The registered names of ``names`` (aliases resolved, validated, duplicates dropped), or
    every method's when ``names`` is None (each then runs where its scope applies).

    Raises `UnknownMethodError` for a name no method has.
    """
    if names is None:
        return method_names()
    return list(dict.fromkeys(get_method(name).name for name in names))


def get_method(name: str) -> BoundMethod:
    """A fresh instance of the method called ``name`` (or one of its old `ALIASES`)."""
    _discover()
    name = canonical_name(name)
    if name not in _REGISTRY:
        known = ", ".join(method_names())
        raise UnknownMethodError(f"unknown method {name!r} (known: {known})")
    return _REGISTRY[name]()


def scope_table() -> str:
    """The method × scope matrix as a Markdown table, derived from each method's `Scope` (and
    `ALIASES`): the table the README shows."""
    _discover()
    former: dict[str, list[str]] = {}
    for old, new in ALIASES.items():
        former.setdefault(new, []).append(old)
    lines = [
        "| method | kind | two-layer | deep | activations | formerly |",
        "|---|---|---|---|---|---|",
    ]
    for name in method_names():
        method = _REGISTRY[name]
        columns = method.scope.describe()
        aliases = ", ".join(f"`{alias}`" for alias in sorted(former.get(name, [])))
        lines.append(
            f"| `{name}` | {method.kind} | {columns['two-layer']} | {columns['deep']} | "
            f"{columns['activations']} | {aliases} |"
        )
    return "\n".join(lines)
