"""Scalar activations with the constants that bound methods need.

Every activation σ declares its slope interval [α, β] — the sector condition
α ≤ (σ(u) − σ(v)) / (u − v) ≤ β for all u ≠ v used by LipSDP (Fazlyab et al., NeurIPS 2019) —
and its Lipschitz constant max(|α|, |β|).  Each interval is rounded outward, so it is a
mathematical enclosure, never an estimate.

Values come in two flavours: float64 numpy (fast, for search) and python-flint ``arb``
balls (rigorous, for `certify.verify`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from flint import arb

__all__ = ["ACTIVATION_NAMES", "Activation", "UnknownActivationError", "get_activation"]


class UnknownActivationError(ValueError):
    """The name (or parameter) does not denote a supported activation."""


def _outward(lower: float, upper: float, slack: float = 1e-12) -> tuple[float, float]:
    """Widen [lower, upper] by a relative+absolute slack that dominates libm's rounding."""
    return lower - slack * (1.0 + abs(lower)), upper + slack * (1.0 + abs(upper))


@dataclass(frozen=True)
class Activation:
    """An elementwise activation σ with its sector [α, β] and rigorous evaluators.

    ``kinks`` lists the points where σ is not differentiable; a gradient witness at x is
    valid only when no pre-activation is proven to sit on a kink.
    """

    name: str
    slope_lower: float
    slope_upper: float
    value: Callable[[np.ndarray], np.ndarray] = field(repr=False, compare=False)
    derivative: Callable[[np.ndarray], np.ndarray] = field(repr=False, compare=False)
    value_ball: Callable[[arb], arb] = field(repr=False, compare=False)
    derivative_ball: Callable[[arb], arb] = field(repr=False, compare=False)
    kinks: tuple[float, ...] = ()
    parameter: float | None = None
    globally_lipschitz: bool = True

    @property
    def lipschitz(self) -> float:
        """Lipschitz constant of σ: max(|α|, |β|)."""
        return max(abs(self.slope_lower), abs(self.slope_upper))

    @property
    def piecewise_linear(self) -> bool:
        """True for ReLU and leaky ReLU, whose gradient is constant on activation regions."""
        return self.name in ("relu", "leaky_relu")

    @property
    def spec(self) -> str:
        """Canonical textual form, e.g. ``relu`` or ``leaky_relu(0.01)``."""
        return self.name if self.parameter is None else f"{self.name}({self.parameter!r})"

    def slope_range(self, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-entry [a, b] ⊆ [α, β] holding every slope (σ(u) − σ(v))/(u − v), u ≠ v in
        [lower, upper], and every σ'(z) with lower < z < upper.

        The slope is the mean of σ' over [v, u] (σ is locally Lipschitz), and σ' is monotone
        between its turning points (kinks and critical points of σ'), so σ'(lower), σ'(upper)
        and the one-sided limits of σ' at the turning points inside the interval span its range.
        At a kink on an end both one-sided values may enter (a conservative [0, 1] for ReLU on
        [0, u]).  Computed slopes are widened like the sector, except the exact constant slopes of
        piecewise-linear σ; an entry that is not finite falls back to [α, β].
        """
        lower, upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
        with np.errstate(all="ignore"):
            ends = [self.derivative(lower), self.derivative(upper)]
            candidates = list(ends)
            for point in (*self.kinks, *_CRITICAL.get(self.name, ())):
                left, right = self.derivative(np.nextafter(point, np.array([-np.inf, np.inf])))
                candidates.append(np.where((lower < point) & (point <= upper), left, np.nan))
                candidates.append(np.where((lower <= point) & (point < upper), right, np.nan))
            stacked = np.stack(np.broadcast_arrays(*candidates))
            low, high = np.fmin.reduce(stacked, axis=0), np.fmax.reduce(stacked, axis=0)
            if not self.piecewise_linear:
                low, high = _outward(low, high)
            finite = np.all(np.isfinite(np.stack(np.broadcast_arrays(lower, upper, *ends))), axis=0)
            low = np.where(finite, np.maximum(low, self.slope_lower), self.slope_lower)
            high = np.where(finite, np.minimum(high, self.slope_upper), self.slope_upper)
        return low, high


def _relu() -> Activation:
    return Activation(
        "relu",
        0.0,
        1.0,
        value=lambda z: np.maximum(z, 0.0),
        derivative=lambda z: (z > 0).astype(float),
        value_ball=lambda z: z if z > 0 else (arb(0) if z < 0 else arb(0).union(z)),
        derivative_ball=lambda z: arb(1) if z > 0 else (arb(0) if z < 0 else arb("0.5 +/- 0.5")),
        kinks=(0.0,),
    )


def _leaky_relu(slope: float) -> Activation:
    s = float(slope)
    lo, hi = min(s, 1.0), max(s, 1.0)
    return Activation(
        "leaky_relu",
        lo,
        hi,
        value=lambda z: np.where(z > 0, z, s * z),
        derivative=lambda z: np.where(z > 0, 1.0, s),
        value_ball=lambda z: z if z > 0 else (s * z if z < 0 else z.union(s * z)),
        derivative_ball=lambda z: arb(1) if z > 0 else (arb(s) if z < 0 else arb(1).union(arb(s))),
        kinks=(0.0,) if s != 1.0 else (),
        parameter=s,
    )


def _sigmoid_ball(z: arb) -> arb:
    return 1 / (1 + (-z).exp())


def _tanh() -> Activation:
    return Activation(
        "tanh",
        0.0,
        1.0,
        value=np.tanh,
        derivative=lambda z: 1.0 - np.tanh(z) ** 2,
        value_ball=lambda z: z.tanh(),
        derivative_ball=lambda z: 1 - z.tanh() ** 2,
    )


def _sigmoid() -> Activation:
    def value(z: np.ndarray) -> np.ndarray:
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    return Activation(
        "sigmoid",
        0.0,
        0.25,
        value=value,
        derivative=lambda z: value(z) * (1.0 - value(z)),
        value_ball=_sigmoid_ball,
        derivative_ball=lambda z: _sigmoid_ball(z) * (1 - _sigmoid_ball(z)),
    )


def _softplus(beta: float) -> Activation:
    b = float(beta)
    if not b > 0:
        raise UnknownActivationError(f"softplus needs beta > 0, got {beta}")
    return Activation(
        "softplus",
        0.0,
        1.0,
        value=lambda z: np.logaddexp(0.0, b * z) / b,
        derivative=lambda z: 0.5 * (1.0 + np.tanh(0.5 * b * z)),
        value_ball=lambda z: (1 + (b * z).exp()).log() / b,
        derivative_ball=lambda z: _sigmoid_ball(b * z),
        parameter=None if b == 1.0 else b,
    )


def _elu(alpha: float) -> Activation:
    a = float(alpha)
    if not a > 0:
        raise UnknownActivationError(f"elu needs alpha > 0, got {alpha}")

    def value_ball(z: arb) -> arb:
        neg = a * (z.exp() - 1)
        return z if z > 0 else (neg if z < 0 else z.union(neg))

    def derivative_ball(z: arb) -> arb:
        neg = a * z.exp()
        return arb(1) if z > 0 else (neg if z < 0 else arb(1).union(neg))

    return Activation(
        "elu",
        0.0,
        max(1.0, a),
        value=lambda z: np.where(z > 0, z, a * np.expm1(np.minimum(z, 0.0))),
        derivative=lambda z: np.where(z > 0, 1.0, a * np.exp(np.minimum(z, 0.0))),
        value_ball=value_ball,
        derivative_ball=derivative_ball,
        kinks=() if a == 1.0 else (0.0,),
        parameter=None if a == 1.0 else a,
    )


def _gelu() -> Activation:
    """GELU σ(u) = u·Φ(u).  σ'(u) = Φ(u) + u·φ(u) has σ'' = φ(u)(2 − u²), so the slope is
    extremal at u = ±√2: min σ' = Φ(−√2) − √2·φ(√2) ≈ −0.1289 and max σ' = 1 − min σ'."""
    root2 = math.sqrt(2.0)
    slope_min = 0.5 * math.erfc(1.0) - root2 * math.exp(-1.0) / math.sqrt(2.0 * math.pi)
    lo, hi = _outward(slope_min, 1.0 - slope_min)
    inv_sqrt2 = 1.0 / root2

    def phi_cdf(z: np.ndarray) -> np.ndarray:
        return 0.5 * (1.0 + _erf(z * inv_sqrt2))

    def cdf_ball(z: arb) -> arb:
        return (1 + (z / arb(2).sqrt()).erf()) / 2

    def pdf_ball(z: arb) -> arb:
        return (-(z * z) / 2).exp() / (2 * arb.pi()).sqrt()

    return Activation(
        "gelu",
        lo,
        hi,
        value=lambda z: z * phi_cdf(z),
        derivative=lambda z: phi_cdf(z) + z * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi),
        value_ball=lambda z: z * cdf_ball(z),
        derivative_ball=lambda z: cdf_ball(z) + z * pdf_ball(z),
    )


def _erf(z: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(z)


def _polynomial(degree: int) -> Activation:
    """u ↦ u^p (Theorems 7–8 of Bubeck, Li, Nagaraj): not globally Lipschitz for p ≥ 2."""
    return Activation(
        "square" if degree == 2 else "cube",
        -math.inf,
        math.inf,
        value=lambda z: z**degree,
        derivative=lambda z: degree * z ** (degree - 1),
        value_ball=lambda z: z**degree,
        derivative_ball=lambda z: degree * z ** (degree - 1),
        globally_lipschitz=False,
    )


#: Critical points of σ' (where σ'' changes sign), besides the kinks.  GELU's ±√2 are rounded:
#: σ' is flat there, so the error in σ' is of order 2⁻¹⁰⁶, far inside the widening.
_CRITICAL: dict[str, tuple[float, ...]] = {
    "tanh": (0.0,),
    "sigmoid": (0.0,),
    "gelu": (-math.sqrt(2.0), math.sqrt(2.0)),
    "cube": (0.0,),
}

_FACTORIES: dict[str, Callable[..., Activation]] = {
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "elu": _elu,
    "gelu": _gelu,
    "square": lambda: _polynomial(2),
    "cube": lambda: _polynomial(3),
}
_DEFAULT_PARAMETER = {"leaky_relu": 0.01, "softplus": 1.0, "elu": 1.0}

ACTIVATION_NAMES: tuple[str, ...] = tuple(_FACTORIES)


def get_activation(spec: str | Activation) -> Activation:
    """Parse ``"relu"``, ``"leaky_relu(0.1)"``, ``"elu(0.5)"`` ... into an `Activation`."""
    if isinstance(spec, Activation):
        return spec
    text = str(spec).strip().lower()
    name, parameter = text, None
    if text.endswith(")") and "(" in text:
        name, _, argument = text[:-1].partition("(")
        try:
            parameter = float(argument)
        except ValueError:
            raise UnknownActivationError(f"bad activation parameter in {spec!r}") from None
    name = name.strip().replace("-", "_")
    if name not in _FACTORIES:
        known = ", ".join(ACTIVATION_NAMES)
        raise UnknownActivationError(f"unknown activation {spec!r} (known: {known})")
    if name in _DEFAULT_PARAMETER:
        value = _DEFAULT_PARAMETER[name] if parameter is None else parameter
        if not math.isfinite(value):
            raise UnknownActivationError(f"activation parameter must be finite in {spec!r}")
        return _FACTORIES[name](value)
    if parameter is not None:
        raise UnknownActivationError(f"activation {name!r} takes no parameter")
    return _FACTORIES[name]()
