"""Checker for GeoLIP certificates: the bound of the dual multipliers, proven through one spectral
norm per output.

For output j with kept bilinear form M (`certify.verify.bilinear`: its rows and columns that
vanish exactly are left out) and multipliers λ > 0 on its rows and columns, take the float scalings
ρ_r ≈ λ_r^-½, κ_l ≈ λ_l^-½ as exact numbers and N = diag(ρ)·M·diag(κ).  For sign vectors y, u,

    yᵀMu = (y/ρ)ᵀN(u/κ) ≤ √(Σ_r ρ_r⁻²)·‖N‖₂·√(Σ_l κ_l⁻²)

(Cauchy–Schwarz), so that product bounds ‖M‖_{∞→1} and hence Lip∞(f_j).  For dual-feasible λ,
diag(λ) ⪰ ½[[0, M], [Mᵀ, 0]] is exactly ‖N‖₂ ≤ 2 (Schur complement), and the product is at most
Σλ; `spectral_norm_upper` proves ‖Ñ‖₂ ≤ s through the LMI s²I − ÑᵀÑ ≻ 0 (verified Cholesky).

Rounding.  Each entry of the float Ñ is a chain of at most k + 4 roundings (a length-k dot product
and μ for the centre row, h·a_i·W_il for a neuron's, then ρ_r and κ_l), so
|Ñ − N| ≤ γ_{k+4}·ρ_r·|M|_rl·κ_l entrywise, with |M| bounded by |μ|·(|a|ᵀ|W|) and h·|a_i||W_il|
(Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1–3.5).  An underflow adds at most
2⁻¹⁰⁷⁴ per product, which the later factors can magnify by at most the product of (1 + their
largest magnitude); TINY = 2⁻¹⁰⁰⁰ per entry covers it.  So ‖N‖₂ ≤ s + ‖Ñ − N‖_F, and the product
with the two sums is evaluated in ball arithmetic.
"""

from __future__ import annotations

import numpy as np
from flint import arb, ctx

from ...certificates import GeoLIPCertificate
from ...problem import Problem
from ...threads import single_threaded
from ..balls import PRECISION, upper_float
from ..bilinear import BilinearForm
from ..dispatch import Verdict, checker, unsupported
from ..floating import SAFETY, TINY, frobenius_upper, gamma, up
from ..norms import spectral_norm_upper


@checker.register
def _(certificate: GeoLIPCertificate, problem: Problem) -> Verdict:
    if reason := unsupported(problem, norms=("inf",), domain_aware=True):
        return Verdict.failed(reason)
    net = problem.net
    if not net.activation.globally_lipschitz:
        return Verdict.failed("activation is not globally Lipschitz")
    rows = np.asarray(certificate.row_multipliers)
    columns = np.asarray(certificate.column_multipliers)
    if rows.shape != (net.m, 1 + net.k) or columns.shape != (net.m, net.d):
        return Verdict.failed("multiplier arrays do not match the network's shape")
    if rows.dtype.kind not in "iuf" or columns.dtype.kind not in "iuf":
        return Verdict.failed("multipliers must be real numbers")
    bound = 0.0
    with single_threaded(), ctx.workprec(PRECISION):
        for j in range(net.m):
            form = BilinearForm.of(net, j)
            if 0 in form.shape:
                continue
            value = _output_bound(form, form.rows(rows[j]), columns[j][form.columns])
            if isinstance(value, str):
                return Verdict.failed(f"output {j}: {value}")
            bound = max(bound, upper_float(value))
    return Verdict(bound, True)


def _output_bound(form: BilinearForm, rows: np.ndarray, columns: np.ndarray) -> arb | str:
    """A ball whose upper end bounds ‖M‖_{∞→1} (see the module docstring), or why there is none."""
    with np.errstate(all="ignore"):
        row_scale = 1.0 / np.sqrt(np.asarray(rows, dtype=np.float64))
        column_scale = 1.0 / np.sqrt(np.asarray(columns, dtype=np.float64))
    scales = np.concatenate([row_scale, column_scale])
    if not (np.all(np.isfinite(scales)) and np.all(scales > 0.0)):
        return "multipliers must be finite and positive"
    with np.errstate(all="ignore"):
        N = (row_scale[:, None] * form.matrix()) * column_scale[None, :]
    if not np.all(np.isfinite(N)):
        return "the scaled bilinear form overflows"
    norm = arb(spectral_norm_upper(N)) + arb(_rounding(form, row_scale, column_scale))
    row_sum = sum((1 / arb(s) ** 2 for s in row_scale.tolist()), arb(0))
    column_sum = sum((1 / arb(s) ** 2 for s in column_scale.tolist()), arb(0))
    return row_sum.sqrt() * column_sum.sqrt() * norm


def _rounding(form: BilinearForm, row_scale: np.ndarray, column_scale: np.ndarray) -> float:
    """An upper bound on ‖Ñ − N‖_F (module docstring); +inf when it overflows."""
    magnitude = form.matrix(magnitude=True)
    factors = (form.a, form.W[:, form.columns], row_scale, column_scale, [form.mu, form.h])
    with np.errstate(all="ignore"):
        scaled = (row_scale[:, None] * magnitude) * column_scale[None, :]
        growth = np.prod([1.0 + float(np.max(np.abs(v), initial=0.0)) for v in factors])
        underflow = magnitude.size * TINY * growth
        bound = SAFETY * gamma(form.a.size + 4) * frobenius_upper(scaled) + underflow
    return up(bound) if np.isfinite(bound) else np.inf
