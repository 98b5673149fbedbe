"""Checker for the spectral product: proven ‖A‖₂ and ‖W‖₂, product rounded upward."""

from __future__ import annotations

from models import TwoLayerNetwork

from ...upper.spectral import SpectralCertificate
from ..dispatch import Verdict, checker
from ..floating import UNIT_ROUNDOFF, up
from ..norms import spectral_norm_upper


@checker.register
def _(certificate: SpectralCertificate, net: TwoLayerNetwork) -> Verdict:
    norm_W = spectral_norm_upper(net.W, certificate.norm_W)
    norm_A = spectral_norm_upper(net.A, certificate.norm_A)
    product = norm_A * net.activation.lipschitz * norm_W
    return Verdict(up(product * (1.0 + 4.0 * UNIT_ROUNDOFF)), True)
