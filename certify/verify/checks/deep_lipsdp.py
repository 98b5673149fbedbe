"""Checker for multi-layer LipSDP certificates: a proof that N(ρ', T) ≻ 0 for a slightly inflated
ρ', through a verified chordal decomposition of the block-tridiagonal N (`certify.verify.deep_lmi`).

Data.  The float weights W_l, multipliers t > 0, per-neuron slopes α_li ≤ β_li and ρ' > 0 are
taken as exact numbers; N* is the exact matrix they define.  The slopes are re-derived here: σ's
float sector (which encloses the exact one) on all of R^d, on a domain the intervals proven by
`certify.verify.propagation.layer_slope_intervals`, so the theorem applies to them.

Rounding.  Each entry of the computed N is ρ' or 2t_i plus a sum of at most max_l n_l products of
at most five float factors (the rounded constants 2α_liβ_li and −(α_li+β_li) included), so
|N − N*| ≤ γ_K·|N|_mag + TINY entrywise, with K = 2(d + Σ_l n_l + m) + 16 and |N|_mag the same
sums of absolute values (`lmi_magnitudes`; Higham, *Accuracy and Stability of Numerical
Algorithms*, §3.1–3.5).  SAFETY covers the rounding of the bounds themselves, TINY underflow.

Scaling.  A diagonal D of powers of two makes the diagonal of M = DND about 1; D is applied
exactly up to underflow (TINY again).  M* = DN*D ≻ 0 ⟺ N* ≻ 0.

Split.  For the cliques (k−1, k) of the block path (`layer_cliques`) and any float symmetric
Z_1 … Z_{L−2} (Z_0 = 0), the matrices

    C_k = [[M*_{k−1,k−1} − Z_{k−1}, M*_{k−1,k}], [M*_{k,k−1}, Z_k]],  Z_{L−1} := M*_{L−1,L−1},

sum (each placed on its clique) to M* exactly, so C_k ≻ 0 for every k proves M* ≻ 0, hence
N(ρ', T) ≻ 0 and Lip(f) ≤ √ρ'.  Z is exact, the subtraction fl(M − Z) errs by at most
u·(|M| + |Z|), and `is_positive_definite` proves each C_k ≻ 0 within the Frobenius norm of its
entrywise error bound.  Each proof costs O((n_{k−1} + n_k)³), so the whole check is linear in the
depth.

The Z_k are found (untrusted) by a float block Cholesky factorisation of M − εI, for the largest
ε = 2⁻ʲ for which it runs, halved: Y_0 = M_00 − εI, Z_k = M_{k,k−1}Y_{k−1}⁻¹M_{k−1,k} + ½εI,
Y_k = M_kk − εI − (Z_k − ½εI).  In exact arithmetic every C_k is then ⪰ ½εI, since its quadratic
form is ‖Y^½p + Y^−½Uq‖² + ½ε‖p‖² + ½ε‖q‖² or more.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from models import DeepNetwork

from ...certificates import DeepLipSDPCertificate
from ...problem import Problem
from ...threads import single_threaded
from ..deep_lmi import Blocks, LayerSlopes, layer_cliques, lmi_blocks, lmi_magnitudes
from ..definiteness import is_positive_definite
from ..dispatch import Verdict, checker, unsupported
from ..floating import SAFETY, TINY, UNIT_ROUNDOFF, frobenius_upper, gamma, up
from ..propagation import layer_slope_intervals

__all__ = ["banded_lmi_holds"]

_INFLATIONS = (1e-12, 1e-9, 1e-6, 1e-3, 1e-1)
#: The shifts ε = 2⁻ʲ searched (by bisection) for the split.
_SHIFT_EXPONENTS = (1, 60)


@checker.register
def _(certificate: DeepLipSDPCertificate, problem: Problem) -> Verdict:
    if reason := unsupported(problem, networks=(DeepNetwork,), domain_aware=True):
        return Verdict.failed(reason)
    net = problem.net
    slopes = layer_slope_intervals(net, problem.domain)
    if not certificate.multipliers:
        if not all(np.any(W) for W in net.weights):
            return Verdict(0.0, True, "a weight matrix is zero: f is constant")
        if any(not (np.any(a) or np.any(b)) for a, b in slopes):
            return Verdict(0.0, True, "every slope of a layer is zero on the domain: f is constant")
        return Verdict.failed("no multipliers, no weight matrix is zero and no layer is flat")
    reason = _malformed(certificate, net, slopes)
    if reason is not None:
        return Verdict.failed(reason)
    t = tuple(np.asarray(m, dtype=np.float64) for m in certificate.multipliers)
    with single_threaded():
        for inflation in _INFLATIONS:
            rho = certificate.rho * (1.0 + inflation)
            if banded_lmi_holds(net.weights, t, rho, slopes):
                note = f"LMI proven with ρ inflated by {inflation:g}"
                return Verdict(up(math.sqrt(rho)), True, note)
    return Verdict.failed("N(ρ(1 + δ), T) ≻ 0 not proven for any δ ≤ 0.1")


def _malformed(
    certificate: DeepLipSDPCertificate, net: DeepNetwork, slopes: LayerSlopes
) -> str | None:
    """Why the certificate cannot be checked against ``net`` with these slopes, if it cannot."""
    if not all(np.all(np.isfinite(a)) and np.all(np.isfinite(b)) for a, b in slopes):
        return (
            "activation is not globally Lipschitz"
            if not net.activation.globally_lipschitz
            else "the slopes are not finite"
        )
    if len(certificate.multipliers) != net.depth - 1:
        count = len(certificate.multipliers)
        return f"{count} multiplier vectors for {net.depth - 1} hidden layers"
    for layer, (t, n) in enumerate(zip(certificate.multipliers, net.widths, strict=True), start=1):
        t = np.asarray(t)
        if t.shape != (n,) or t.dtype.kind not in "iuf":
            return f"multipliers of layer {layer} must be {n} real numbers"
        if not (np.all(np.isfinite(t)) and np.all(t > 0.0)):
            return "multipliers must be finite and positive"
    if not (math.isfinite(certificate.rho) and certificate.rho > 0.0):
        return "ρ must be finite and positive"
    return None


def banded_lmi_holds(
    weights: tuple[np.ndarray, ...],
    multipliers: tuple[np.ndarray, ...],
    rho: float,
    slopes: LayerSlopes,
) -> bool:
    """Proven N(ρ, T) ≻ 0 for the exact matrix of the float data (t > 0, ρ > 0), clique by
    clique (module docstring)."""
    blocks = lmi_blocks(weights, multipliers, rho, slopes)
    diagonal = np.concatenate([np.diag(block) for block in blocks.diagonal])
    finite = all(np.all(np.isfinite(b)) for b in (*blocks.diagonal, *blocks.upper))
    if not (finite and np.all(diagonal > 0.0)):
        return False
    exponents = -np.round(0.5 * np.log2(diagonal)).astype(int)
    sizes = [block.shape[0] for block in blocks.diagonal]
    parts = np.split(exponents, np.cumsum(sizes)[:-1])
    scaled = _congruence(blocks, parts)
    magnitudes = _congruence(lmi_magnitudes(weights, multipliers, rho, slopes), parts)
    errors = _error_bounds(magnitudes, parts, sum(sizes) + weights[-1].shape[0])
    splits = _splits(scaled)
    if splits is None:
        return False
    return all(
        is_positive_definite(matrix, up(SAFETY * frobenius_upper(error)))
        for matrix, error in _cliques(scaled, errors, splits)
    )


def _congruence(blocks: Blocks, parts: list[np.ndarray]) -> Blocks:
    """D·N·D for D = diag(2^e), block by block (exact up to underflow)."""
    return Blocks(
        [np.ldexp(b, e[:, None] + e[None, :]) for b, e in zip(blocks.diagonal, parts, strict=True)],
        [
            np.ldexp(b, e[:, None] + f[None, :])
            for b, e, f in zip(blocks.upper, parts[:-1], parts[1:], strict=True)
        ],
    )


def _error_bounds(magnitudes: Blocks, parts: list[np.ndarray], size: int) -> Blocks:
    """γ_K·D|N|_magD + TINY·(2 + D_iD_j) entrywise, K = 2·size + 16: the rounding of N and of
    its scaling (module docstring)."""
    ones = Blocks(
        [np.ones_like(b) for b in magnitudes.diagonal], [np.ones_like(b) for b in magnitudes.upper]
    )
    powers = _congruence(ones, parts)
    factor = gamma(2 * size + 16)
    diagonal = zip(magnitudes.diagonal, powers.diagonal, strict=True)
    upper = zip(magnitudes.upper, powers.upper, strict=True)
    return Blocks(
        [factor * m + TINY * (2.0 + p) for m, p in diagonal],
        [factor * m + TINY * (2.0 + p) for m, p in upper],
    )


def _cliques(
    scaled: Blocks, errors: Blocks, splits: list[np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each clique matrix C_k with its entrywise error bound (made symmetric, as
    `is_positive_definite` reads the upper triangle of C_k for both)."""
    depth = len(scaled.diagonal)
    result = []
    for first, second in layer_cliques(depth):
        top, top_error = scaled.diagonal[first], errors.diagonal[first]
        if first > 0:
            split = splits[first - 1]
            top_error = top_error + UNIT_ROUNDOFF * (np.abs(top) + np.abs(split))
            top = top - split
        if second < depth - 1:
            bottom, bottom_error = splits[second - 1], np.zeros_like(splits[second - 1])
        else:
            bottom, bottom_error = scaled.diagonal[second], errors.diagonal[second]
        coupling, coupling_error = scaled.upper[first], errors.upper[first]
        error = np.block([[top_error, coupling_error], [coupling_error.T, bottom_error]])
        matrix = np.block([[top, coupling], [coupling.T, bottom]])
        result.append((matrix, np.maximum(error, error.T)))
    return result


def _splits(scaled: Blocks) -> list[np.ndarray] | None:
    """Z_1 … Z_{L−2} for the largest shift 2⁻ʲ (bisection on j) that lets the float block
    Cholesky factorisation of M − 2⁻ʲI run, then halved; None if none does."""
    low, high = _SHIFT_EXPONENTS
    if _split_at(scaled, math.ldexp(1.0, -high)) is None:
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if _split_at(scaled, math.ldexp(1.0, -middle)) is None:
            low = middle
        else:
            high = middle
    return _split_at(scaled, math.ldexp(1.0, -high - 1))


def _split_at(scaled: Blocks, shift: float) -> list[np.ndarray] | None:
    """The Z_k of the float block Cholesky factorisation of M − εI, or None if it breaks down."""
    remainder = scaled.diagonal[0] - shift * np.eye(scaled.diagonal[0].shape[0])
    splits = []
    for k, coupling in enumerate(scaled.upper, start=1):
        try:
            factor = scipy.linalg.cholesky(remainder, lower=True)
        except (np.linalg.LinAlgError, ValueError):
            return None
        X = scipy.linalg.solve_triangular(factor, coupling, lower=True)
        schur = X.T @ X
        identity = np.eye(schur.shape[0])
        remainder = scaled.diagonal[k] - shift * identity - schur
        split = schur + 0.5 * shift * identity
        splits.append(0.5 * (split + split.T))
    try:
        scipy.linalg.cholesky(remainder, lower=True)
    except (np.linalg.LinAlgError, ValueError):
        return None
    return splits[:-1]
