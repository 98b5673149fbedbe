"""Audits of published claims: a Lipschitz constant (`audit_lipschitz`) and robustness radii
(`audit_radii`), each answered VERIFIED, REFUTED (with a re-checkable counterexample) or
UNDECIDED.  Built on `certify.api` only; ``certify audit`` is the command line."""

from .lipschitz import ClaimAudit, Outcome, audit_lipschitz
from .radii import PointVerdict, RadiiAudit, audit_radii, write_per_point
from .radius_claims import RadiusClaimError, RadiusClaims, read_radius_claims
from .witness_file import (
    Refutation,
    RefutationFileError,
    fingerprint,
    load_refutation,
    recheck,
    save_refutation,
)

__all__ = [
    "ClaimAudit",
    "Outcome",
    "PointVerdict",
    "RadiiAudit",
    "RadiusClaimError",
    "RadiusClaims",
    "Refutation",
    "RefutationFileError",
    "audit_lipschitz",
    "audit_radii",
    "fingerprint",
    "load_refutation",
    "read_radius_claims",
    "recheck",
    "save_refutation",
    "write_per_point",
]
