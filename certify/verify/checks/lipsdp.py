"""Checker for LipSDP certificates: a proof that N(ρ', T) ≻ 0 for a slightly inflated ρ'.

Proof.  Let S be the certificate's neurons; every other neuron must have w_i = 0 or A[:, i] = 0
(checked exactly), so it adds a constant to f and Lip(f) is that of the sub-network (W_S, A_S).
Fix the float ρ' > 0 and t ≥ 0, and let N* = N(ρ', diag(t)) be the exact matrix built from the
float data (the float slopes α ≤ β enclose σ's sector, so the LMI theorem applies to them).
Each entry of N* is a sum of at most max(k, m) products of at most four float factors (plus ρ'
on the diagonal), so its float evaluation N satisfies |N* − N| ≤ E = γ_K·|N|_abs + TINY, with
K = max(d, k, m) + 8 counting every rounding along a term, and
|N|_abs = [[ρ'I + |2αβ|·|W|ᵀT|W|, |α+β|·|W|ᵀT], [|α+β|·T|W|, 2T + |A|ᵀ|A|]] (Higham, §3.5;
the relative SAFETY inside γ covers the rounding of |N|_abs itself); the bound holds entry by
entry, so it also covers the symmetric matrix built from N's upper triangle, which is all that
`is_positive_definite` reads of a float N that may be slightly asymmetric.  A congruence by a
diagonal D of powers of two (exact, up to underflow of at most 2⁻¹⁰⁷⁴ per entry) equilibrates
the diagonal; then ‖D(N* − N)D‖₂ ≤ ‖D·E·D‖_F + n·TINY, and `is_positive_definite` proves
DN*D ≻ 0, hence N* ≻ 0 and Lip(f) ≤ √ρ' ≤ up(fl(√ρ')) (the square root is correctly rounded).
"""

from __future__ import annotations

import math

import numpy as np

from models import TwoLayerNetwork

from ...threads import single_threaded
from ...upper.lipsdp import LipSDPCertificate
from ..definiteness import is_positive_definite
from ..dispatch import Verdict, checker
from ..floating import TINY, frobenius_upper, gamma, up

_INFLATIONS = (1e-12, 1e-9, 1e-6, 1e-3, 1e-1)


@checker.register
def _(certificate: LipSDPCertificate, net: TwoLayerNetwork) -> Verdict:
    reason = _malformed(certificate, net)
    if reason is not None:
        return Verdict.failed(reason)
    neurons = np.asarray(certificate.neurons)
    if neurons.size == 0:
        return Verdict(0.0, True, "no neuron can change f: it is constant")
    W, A = net.W[neurons], net.A[:, neurons]
    t = np.asarray(certificate.multipliers, dtype=np.float64)
    with single_threaded():
        for inflation in _INFLATIONS:
            rho = certificate.rho * (1.0 + inflation)
            if _lmi_holds(W, A, t, rho, net.activation.slope_lower, net.activation.slope_upper):
                note = f"LMI proven with ρ inflated by {inflation:g}"
                return Verdict(up(math.sqrt(rho)), True, note)
    return Verdict.failed("N(ρ(1 + δ), T) ≻ 0 not proven for any δ ≤ 0.1")


def _malformed(certificate: LipSDPCertificate, net: TwoLayerNetwork) -> str | None:
    """Why the certificate cannot be checked against ``net``, if it cannot."""
    if not net.activation.globally_lipschitz:
        return "activation is not globally Lipschitz"
    neurons = np.asarray(certificate.neurons)
    t = np.asarray(certificate.multipliers)
    if neurons.ndim != 1 or neurons.dtype.kind not in "iu" or t.shape != neurons.shape:
        return "neuron indices and multipliers do not match"
    if np.any(neurons < 0) or np.any(neurons >= net.k) or np.unique(neurons).size != neurons.size:
        return "neuron indices out of range or repeated"
    if not (np.all(np.isfinite(t)) and np.all(t >= 0.0)):
        return "multipliers must be finite and non-negative"
    if neurons.size and not (math.isfinite(certificate.rho) and certificate.rho > 0.0):
        return "ρ must be finite and positive"
    left_out = np.setdiff1d(np.arange(net.k), neurons)
    if np.any(np.any(net.W[left_out] != 0, axis=1) & np.any(net.A[:, left_out] != 0, axis=0)):
        return "a neuron left out of the LMI can change f"
    return None


def _lmi_holds(
    W: np.ndarray, A: np.ndarray, t: np.ndarray, rho: float, alpha: float, beta: float
) -> bool:
    """Proven N(ρ, diag(t)) ≻ 0 for the exact matrix of the given float data."""
    k, d = W.shape
    WT = W.T * t
    N = np.block([
        [2.0 * alpha * beta * (WT @ W) + rho * np.eye(d), -(alpha + beta) * WT],
        [-(alpha + beta) * WT.T, np.diag(2.0 * t) - A.T @ A],
    ])
    absW = np.abs(W)
    absWT = absW.T * t
    magnitude = np.block([
        [abs(2.0 * alpha * beta) * (absWT @ absW) + rho * np.eye(d), abs(alpha + beta) * absWT],
        [abs(alpha + beta) * absWT.T, np.diag(2.0 * t) + np.abs(A).T @ np.abs(A)],
    ])
    error = gamma(max(d, k, A.shape[0]) + 8) * magnitude + TINY
    diagonal = np.diag(N)
    if not (np.all(np.isfinite(N)) and np.all(diagonal > 0.0)):
        return False
    exponents = -np.round(0.5 * np.log2(diagonal)).astype(int)
    pair = exponents[:, None] + exponents[None, :]
    radius = up(frobenius_upper(np.ldexp(error, pair)) + N.shape[0] * TINY)
    return is_positive_definite(np.ldexp(N, pair), radius)
