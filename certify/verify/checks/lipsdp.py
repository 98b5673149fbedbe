"""Checker for LipSDP certificates: a proof that Lip(f) ≤ √ρ' for a slightly inflated ρ', through
a reduced matrix of size d + m or |F| + m, whichever is smaller (F: the neurons with a finite
multiplier).

Slopes.  Neuron i of the certificate's set S is claimed slope-restricted in [α_i, β_i] (float
numbers, taken as exact).  The claim is accepted only if [α_i, β_i] contains an interval proven
for the neuron: the activation's sector on R^d (its float slopes enclose it), or `slope_intervals`
on a domain.  Every other neuron must have w_i = 0 or A[:, i] = 0 (checked exactly), so it adds a
constant to f and Lip(f) is that of the sub-network (W, A) = (W_S, A_S).  If every claimed
interval is [0, 0], every neuron is constant over the domain, and so is f: Lip(f) = 0.

Theorem.  Take the float data W, A, ρ > 0, t_i > 0 for i ∈ F and t_i = +∞ (allowed only when
α_i = β_i) outside F as exact numbers, T = diag(t_F), E = diag(β − α)_F, B_α = A·diag(α)·W and
the (d + |F| + m)-square matrix

    L = [[ρI, −W_FᵀTE, B_αᵀ], [−ETW_F, 2T, A_Fᵀ], [B_α, A_F, I_m]].

For x, y in the domain let Δx = x − y, Δv = WΔx, Δz = σ(Wx + b) − σ(Wy + b) and δ = Δz − αΔv
(entrywise): then δ_i(e_iΔv_i − δ_i) ≥ 0 with e = β − α (the slope restriction), so δ_i = 0
outside F, and Δf = AΔz = B_αΔx + A_Fδ_F.  The Schur complement of I_m in L has the quadratic
form ρ‖Δx‖² − ‖B_αΔx + A_Fδ_F‖² − 2Σ_F t_iδ_i(e_iΔv_i − δ_i) at (Δx, δ_F), so L ≻ 0 gives
‖Δf‖² ≤ ρ‖Δx‖², i.e. Lip(f) ≤ √ρ (the S-procedure of LipSDP, Fazlyab et al., NeurIPS 2019,
Theorem 1).  Since 2T ≻ 0 and ρI ≻ 0, L ≻ 0 is equivalent to either Schur complement being ≻ 0:

    input form (of 2T):   P = [[ρI − W_Fᵀdiag(c∘t)W_F, Bᵀ], [B, I_m − ½·A_FT⁻¹A_Fᵀ]],
    hidden form (of ρI):  ρ·P_h = [[2ρT, ρA_Fᵀ], [ρA_F, ρI_m]] − ΛΛᵀ,  Λ = [ETW_F; −B_α],

with c = e²/2 and B = B_α + ½A_FEW_F = A·diag((α + β)/2)·W.  The input form costs
O(|F|d² + d³) time and O(kd + d²) memory, the hidden form O(|F|²d + |F|³) and O(kd + |F|²); the
checker takes the input form when d ≤ |F|.

Range.  Every nonzero |x| among W, A, the finite t, ρ, α, β, β − α and α + β must lie in
[2⁻¹⁷⁰, 2¹⁷⁰] (else the check refuses), so no product of at most six of them (the longest chain
below) underflows or overflows, and every rounding is relative; sums that overflow show up as
non-finite entries, which are refused.

Rounding.  Every entry of either float matrix is a sum of at most max(k, d) + m products of a few
float factors, so with K = 2(d + k + m) + 16 (every rounding along a term, twice over) it lies
within γ_K times a magnitude of the exact one (Higham, *Accuracy and Stability of Numerical
Algorithms*, §3.1–3.5).  The magnitudes are bounded by Cauchy–Schwarz,
Σ_i c_it_i|W_ij||W_il| ≤ √(δ_jδ_l) with δ_j = Σ_i c_it_iW_ij², and likewise (Λ̄Λ̄ᵀ)_ij ≤ ℓ_iℓ_j
for the row norms ℓ of Λ̄ = [|E|T|W_F|; |A|·|diag(α)|·|W|] ≥ |Λ|, which turns the Frobenius norm
of the error bound into sums of squares (`frobenius_upper`).  The relative SAFETY inside γ
covers the rounding of these bounds themselves.  A congruence by a diagonal D of powers of two
(exact, up to underflow of at most 2⁻¹⁰⁷⁴ per entry, within the TINY term) equilibrates the
diagonal; ‖D(P* − P)D‖₂ ≤ ‖D·E·D‖_F ≤ radius, and `is_positive_definite` proves DP*D ≻ 0 for
the exact matrix P*, reading only the upper triangle of the float matrix (the entrywise bound
covers it too).  Then Lip(f) ≤ √ρ ≤ up(fl(√ρ)).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from models import TwoLayerNetwork

from ...certificates import LipSDPCertificate
from ...problem import Problem
from ...threads import single_threaded
from ..definiteness import is_positive_definite
from ..dispatch import Verdict, checker, unsupported
from ..floating import SAFETY, TINY, frobenius_upper, gamma, up
from ..propagation import slope_intervals

__all__ = ["ReducedLMI", "reduced_lmi_holds"]

_INFLATIONS = (1e-12, 1e-9, 1e-6, 1e-3, 1e-1)
#: Nonzero data must lie in [1/_RANGE, _RANGE] (module docstring: 6·170 < 1022).
_RANGE = 2.0**170

Slopes = tuple[np.ndarray, np.ndarray]
Bound = Callable[[np.ndarray], float]


@checker.register
def _(certificate: LipSDPCertificate, problem: Problem) -> Verdict:
    if reason := unsupported(problem, domain_aware=True):
        return Verdict.failed(reason)
    net = problem.net
    if reason := _malformed(certificate, net):
        return Verdict.failed(reason)
    neurons = np.asarray(certificate.neurons)
    if neurons.size == 0:
        return Verdict(0.0, True, "no neuron can change f: it is constant")
    lower, upper = _claimed_slopes(certificate, net)
    proven_lower, proven_upper = (slopes[neurons] for slopes in _proven_slopes(problem))
    if not (np.all(np.isfinite(proven_lower)) and np.all(np.isfinite(proven_upper))):
        return Verdict.failed("no finite slope interval is proven: σ is not Lipschitz there")
    if not (np.all(lower <= proven_lower) and np.all(upper >= proven_upper)):
        return Verdict.failed("a claimed slope interval does not contain the proven one")
    if np.all(lower == 0.0) and np.all(upper == 0.0):
        return Verdict(0.0, True, "every neuron has slope 0: f is constant")
    if not certificate.rho > 0.0:
        return Verdict.failed("ρ must be positive")
    t = np.asarray(certificate.multipliers, dtype=np.float64)
    if np.any(np.isinf(t) & (lower != upper)):
        return Verdict.failed("an infinite multiplier needs a fixed slope (α_i = β_i)")
    with single_threaded():
        lmi = ReducedLMI(net.W[neurons], net.A[:, neurons], t, lower, upper)
        for inflation in _INFLATIONS:
            rho = certificate.rho * (1.0 + inflation)
            if lmi.holds(rho):
                note = f"LMI proven with ρ inflated by {inflation:g}"
                return Verdict(up(math.sqrt(rho)), True, note)
    return Verdict.failed("the LMI with ρ(1 + δ) is not proven for any δ ≤ 0.1")


def _proven_slopes(problem: Problem) -> Slopes:
    """Slope intervals proven for every hidden neuron over the problem's domain, re-derived
    here by interval bound propagation (never taken from the certificate)."""
    return slope_intervals(problem.net, problem.domain)


def _claimed_slopes(certificate: LipSDPCertificate, net: TwoLayerNetwork) -> Slopes:
    """The certificate's slope intervals for its neurons (None: the activation's sector)."""
    neurons = np.asarray(certificate.neurons)
    defaults = slope_intervals(net, None)
    return tuple(  # type: ignore[return-value]
        default[neurons] if claimed is None else np.asarray(claimed, dtype=np.float64)
        for claimed, default in zip(
            (certificate.slopes_lower, certificate.slopes_upper), defaults, strict=True
        )
    )


def _malformed(certificate: LipSDPCertificate, net: TwoLayerNetwork) -> str | None:
    """Why the certificate cannot be checked against ``net``, if it cannot."""
    neurons = np.asarray(certificate.neurons)
    t = np.asarray(certificate.multipliers)
    if neurons.ndim != 1 or neurons.dtype.kind not in "iu" or t.shape != neurons.shape:
        return "neuron indices and multipliers do not match"
    if np.any(neurons < 0) or np.any(neurons >= net.k) or np.unique(neurons).size != neurons.size:
        return "neuron indices out of range or repeated"
    if t.dtype.kind not in "iuf" or not np.all(t > 0.0):
        return "multipliers must be positive"
    if not (math.isfinite(certificate.rho) and certificate.rho >= 0.0):
        return "ρ must be finite and non-negative"
    for slopes in (certificate.slopes_lower, certificate.slopes_upper):
        if slopes is not None and not _finite_floats(slopes, neurons.shape):
            return "slope bounds must be finite numbers, one per neuron"
    left_out = np.setdiff1d(np.arange(net.k), neurons)
    if np.any(np.any(net.W[left_out] != 0, axis=1) & np.any(net.A[:, left_out] != 0, axis=0)):
        return "a neuron left out of the LMI can change f"
    return None


def _finite_floats(values: object, shape: tuple[int, ...]) -> bool:
    array = np.asarray(values)
    return array.shape == shape and array.dtype.kind in "iuf" and bool(np.all(np.isfinite(array)))


def reduced_lmi_holds(
    W: np.ndarray, A: np.ndarray, t: np.ndarray, rho: float, lower: object, upper: object
) -> bool:
    """Proven L ≻ 0 (module docstring) for the exact matrix of the float data: W (k×d), A (m×k),
    multipliers t ∈ (0, +∞] (+∞ only where α_i = β_i), ρ > 0 and slope bounds α ≤ β (scalars or
    one per neuron), through the smaller of the input and hidden forms."""
    return ReducedLMI(W, A, t, lower, upper).holds(rho)


class ReducedLMI:
    """The reduced form of L for fixed data and any ρ: the products that do not involve ρ are
    formed once, so that several ρ cost one product and one factorisation each."""

    def __init__(
        self, W: np.ndarray, A: np.ndarray, t: np.ndarray, lower: object, upper: object
    ) -> None:
        k, d = W.shape
        alpha = np.broadcast_to(np.asarray(lower, dtype=np.float64), (k,))
        beta = np.broadcast_to(np.asarray(upper, dtype=np.float64), (k,))
        free = np.isfinite(t)
        self.rounding = gamma(2 * (d + k + A.shape[0]) + 16)
        self.form: _InputForm | _HiddenForm | None = None
        if _in_range(W, A, t[free], alpha, beta, beta - alpha, alpha + beta):
            form = _InputForm if np.count_nonzero(free) >= d else _HiddenForm
            self.form = form(W, A, t[free], alpha, beta, free)

    def holds(self, rho: float) -> bool:
        """Proven L ≻ 0 at this ρ > 0."""
        if self.form is None or not (rho > 0.0 and _in_range(np.array([rho]))):
            return False
        P, bound = self.form.at(rho)
        diagonal = np.diag(P)
        if not (np.all(np.isfinite(P)) and np.all(diagonal > 0.0)):
            return False
        exponents = -np.round(0.5 * np.log2(diagonal)).astype(int)
        underflow = P.shape[0] * TINY * (1.0 + float(np.sum(np.ldexp(1.0, 2 * exponents))))
        radius = up(bound(np.ldexp(1.0, exponents)) * self.rounding + underflow)
        return is_positive_definite(np.ldexp(P, exponents[:, None] + exponents[None, :]), radius)


def _in_range(*arrays: np.ndarray) -> bool:
    """Whether every nonzero magnitude in the arrays lies in [1/_RANGE, _RANGE]."""
    for array in arrays:
        magnitudes = np.abs(array[array != 0])
        if magnitudes.size and not (
            np.min(magnitudes) >= 1.0 / _RANGE and np.max(magnitudes) <= _RANGE
        ):
            return False
    return True


class _InputForm:
    """P = [[ρI − W_Fᵀdiag(c∘t)W_F, Bᵀ], [B, I − ½A_FT⁻¹A_Fᵀ]] and the Frobenius norm of D·E·D
    / γ_K, where E bounds its rounding: ρI + √δ√δᵀ, |A|·|diag(γ)|·|W| and I + ½|A_F|T⁻¹|A_F|ᵀ
    by blocks."""

    def __init__(
        self,
        W: np.ndarray,
        A: np.ndarray,
        t_F: np.ndarray,
        alpha: np.ndarray,
        beta: np.ndarray,
        free: np.ndarray,
    ) -> None:
        W_F, A_F = W[free], A[:, free]
        weights = 0.5 * (beta - alpha)[free] ** 2 * t_F
        centre = 0.5 * (alpha + beta)
        self.top = -(W_F.T @ (W_F * weights[:, None]))
        self.corner = (A * centre) @ W
        self.bottom = np.eye(A.shape[0]) - 0.5 * (A_F / t_F) @ A_F.T
        self.root_delta = np.sqrt((W_F * W_F).T @ weights)
        self.magnitude_B = (np.abs(A) * np.abs(centre)) @ np.abs(W)
        self.magnitude_C = np.eye(A.shape[0]) + 0.5 * (np.abs(A_F) / t_F) @ np.abs(A_F).T

    def at(self, rho: float) -> tuple[np.ndarray, Bound]:
        d = self.top.shape[0]
        top = self.top.copy()
        top[np.diag_indices(d)] += rho
        P = np.block([[top, self.corner.T], [self.corner, self.bottom]])

        def bound(scale: np.ndarray) -> float:
            s_d, s_m = scale[:d], scale[d:]
            return SAFETY * (
                rho * frobenius_upper(s_d**2)
                + frobenius_upper(s_d * self.root_delta) ** 2
                + math.sqrt(2.0) * frobenius_upper(s_d[:, None] * self.magnitude_B.T * s_m)
                + frobenius_upper(s_m[:, None] * self.magnitude_C * s_m)
            )

        return P, bound


class _HiddenForm:
    """ρ·P_h = [[2ρT, ρA_Fᵀ], [ρA_F, ρI]] − ΛΛᵀ and the Frobenius norm of D·E·D / γ_K, where E
    bounds its rounding: ℓℓᵀ + |[[2ρT, ρA_Fᵀ], [ρA_F, ρI]]| (ℓ the row norms of Λ̄)."""

    def __init__(
        self,
        W: np.ndarray,
        A: np.ndarray,
        t_F: np.ndarray,
        alpha: np.ndarray,
        beta: np.ndarray,
        free: np.ndarray,
    ) -> None:
        W_F, self.A_F, self.t_F = W[free], A[:, free], t_F
        widths = (beta - alpha)[free]
        Lam = np.vstack([(widths * t_F)[:, None] * W_F, -((A * alpha) @ W)])
        self.gram = -(Lam @ Lam.T)
        magnitude = np.vstack(
            [(np.abs(widths) * t_F)[:, None] * np.abs(W_F), (np.abs(A) * np.abs(alpha)) @ np.abs(W)]
        )
        self.row_norms = np.sqrt(np.sum(magnitude**2, axis=1))

    def at(self, rho: float) -> tuple[np.ndarray, Bound]:
        k, m = self.A_F.shape[1], self.A_F.shape[0]
        P = self.gram.copy()
        P[:k, :k][np.diag_indices(k)] += 2.0 * rho * self.t_F
        P[:k, k:] += rho * self.A_F.T
        P[k:, :k] += rho * self.A_F
        P[k:, k:][np.diag_indices(m)] += rho

        def bound(scale: np.ndarray) -> float:
            s_k, s_m = scale[:k], scale[k:]
            return SAFETY * (
                frobenius_upper(scale * self.row_norms) ** 2
                + rho * frobenius_upper(np.concatenate([2.0 * self.t_F * s_k**2, s_m**2]))
                + math.sqrt(2.0) * rho * frobenius_upper(s_k[:, None] * np.abs(self.A_F).T * s_m)
            )

        return P, bound
