"""The certificates of the upper-bound methods: what each claims, as plain data.

A method fills one in; `certify.verify` re-proves it from the network and these fields alone,
with its own arithmetic.  Neither side imports the other: both import this module (witnesses,
the lower-bound evidence, are in `certify.evidence`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .evidence import Certificate, PointWitness

__all__ = [
    "CoactivationCertificate",
    "DeepLipSDPCertificate",
    "DomainSpectralCertificate",
    "ExactCertificate",
    "FarkasProof",
    "GeoLIPCertificate",
    "LayerProductCertificate",
    "Leaf",
    "LinfLayerProductCertificate",
    "LinfProductCertificate",
    "LipSDPCertificate",
    "PatternCertificate",
    "PatternNode",
    "SpectralCertificate",
    "Variant",
]

LeafKind = Literal["pattern", "empty", "bounded"]

#: LipSDP's multiplier structure: one per neuron, or one per hidden layer.
Variant = Literal["neuron", "layer"]


@dataclass(frozen=True)
class SpectralCertificate(Certificate):
    """Claimed ‖W‖₂ and ‖A‖₂; the checker proves upper bounds on both."""

    norm_W: float
    norm_A: float


@dataclass(frozen=True)
class LayerProductCertificate(Certificate):
    """Claimed ‖W_l‖₂ for every layer; the checker proves upper bounds on each."""

    norms: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class LipSDPCertificate(Certificate):
    """Claimed M(rho, multipliers) ⪰ 0 (the centred LMI) for the sub-network of the ``neurons``
    (indices into the hidden layer; every other neuron has w_i = 0 or A[:, i] = 0) with neuron
    ``neurons[j]`` slope-restricted in [slopes_lower[j], slopes_upper[j]]; value = √rho.
    Multiplier +inf marks a neuron with slopes_lower = slopes_upper (no δ_i, no multiplier).
    Slopes None stand for the activation's [α, β] for every neuron.

    ``solver`` names the solver that found the multipliers, and ``sdp_lower`` is its
    floating-point estimate of a lower bound on the optimal LipSDP value √min ρ (NaN when
    unknown): they report how the bound was found and the SDP gap, and prove nothing.
    """

    rho: float
    multipliers: np.ndarray = field(repr=False)
    neurons: np.ndarray = field(repr=False)
    variant: Variant
    solver: str = ""
    sdp_lower: float = math.nan
    slopes_lower: np.ndarray | None = field(default=None, repr=False)
    slopes_upper: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DeepLipSDPCertificate(Certificate):
    """Claimed N(ρ, T) ⪰ 0 with T_l = diag(``multipliers[l − 1]``); value = √ρ.  No multipliers
    and ρ = 0 claim a zero weight matrix (f constant).  ``solver`` only reports how T was found."""

    rho: float
    multipliers: tuple[np.ndarray, ...] = field(repr=False)
    variant: Variant
    solver: str = ""


@dataclass(frozen=True)
class GeoLIPCertificate(Certificate):
    """Dual multipliers for every output j: ``row_multipliers[j]`` (1 + k: the centre row, then
    each neuron's) and ``column_multipliers[j]`` (d), read on the rows and columns of M_j that
    `BilinearForm` keeps (the others are ignored).  ``sdp_lower`` is the largest primal value the
    solver reached, a floating-point estimate of a lower bound on the relaxation's value (NaN when
    unknown): it reports the gap and proves nothing."""

    row_multipliers: np.ndarray = field(repr=False)
    column_multipliers: np.ndarray = field(repr=False)
    sdp_lower: float = math.nan


@dataclass(frozen=True)
class LinfProductCertificate(Certificate):
    """The claim needs no data: the checker recomputes the closed form with rounding bounds."""


@dataclass(frozen=True)
class LinfLayerProductCertificate(Certificate):
    """The deep ℓ∞ bound L_σ^{L−1}·‖|W_L|⋯|W_1|‖_∞ needs no data: the checker recomputes it."""


@dataclass(frozen=True)
class DomainSpectralCertificate(Certificate):
    """Claimed norms of the factors (estimates); the checker recomputes the slopes and proves
    upper bounds on every norm."""

    centre: float
    spread: tuple[float, float]
    whole: tuple[float, float]


@dataclass(frozen=True)
class CoactivationCertificate(Certificate):
    """Groups of hidden neurons and a bound on each group's sub-network over the ball; every
    live neuron i is assigned the group ``groups[assignment[i]]``, which must hold every neuron
    not proven exclusive with i (the checker re-proves the exclusions, then each bound)."""

    groups: tuple[tuple[int, ...], ...]
    assignment: dict[int, int] = field(repr=False)
    bounds: tuple[DomainSpectralCertificate, ...] = field(repr=False)


@dataclass(frozen=True)
class FarkasProof:
    """Multipliers y_i > 0 (integers) on the rows ``rows`` (neuron indices) proving R empty."""

    rows: tuple[int, ...]
    multipliers: tuple[int, ...]


@dataclass(frozen=True)
class Leaf:
    """An unsplit node: its signs on the first neurons of the order, and why it is a leaf.

    "pattern": complete signs of a realised region; "empty": the prefix region is empty, by
    ``proof``; "bounded": `SubtreeBound` with ``scaling`` covers it (pruned, undecided or out of
    time).
    """

    signs: tuple[int, ...]
    kind: LeafKind
    proof: FarkasProof | None = None
    scaling: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ExactCertificate(Certificate):
    """The leaves of a complete search tree over the active neurons taken in ``order``, and a
    point of the best realised region."""

    order: tuple[int, ...]
    leaves: tuple[Leaf, ...] = field(repr=False)
    witness: PointWitness | None = None


@dataclass(frozen=True)
class PatternNode:
    """A node of the search tree, in preorder.  A split on position ``split`` of the active
    neurons has two subtrees, that neuron on, then off.  A leaf is either bounded, by the LMI at
    ``rho`` with ``multipliers`` for its free neurons (in increasing order), or empty, by
    ``proof``."""

    split: int | None = None
    rho: float = math.nan
    multipliers: tuple[float, ...] = ()
    proof: FarkasProof | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (floats as their repr, which round-trips)."""
        if self.split is not None:
            return {"split": self.split}
        if self.proof is not None:
            proof = self.proof
            return {"rows": list(proof.rows), "proof": [str(y) for y in proof.multipliers]}
        return {"rho": repr(self.rho), "t": [repr(t) for t in self.multipliers]}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PatternNode:
        if "split" in data:
            return cls(split=int(data["split"]))
        if "proof" in data:
            proof = FarkasProof(
                tuple(int(i) for i in data["rows"]), tuple(int(y) for y in data["proof"])
            )
            return cls(proof=proof)
        return cls(rho=float(data["rho"]), multipliers=tuple(float(t) for t in data["t"]))


@dataclass(frozen=True)
class PatternCertificate(Certificate):
    """The preorder ``nodes`` of a complete split tree over the active ``neurons`` and a point of
    the best realised region (``pattern``: its signs on the active neurons)."""

    neurons: tuple[int, ...]
    nodes: tuple[PatternNode, ...] = field(repr=False)
    witness: PointWitness | None = field(default=None, repr=False)
    pattern: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form of the certificate."""
        witness = None if self.witness is None else self.witness.point.tolist()
        return {
            "value": repr(self.value),
            "neurons": list(self.neurons),
            "pattern": list(self.pattern),
            "witness": witness,
            "nodes": [node.to_dict() for node in self.nodes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PatternCertificate:
        point = data.get("witness")
        witness = None if point is None else PointWitness(math.nan, np.array(point, dtype=float))
        return cls(
            value=float(data["value"]),
            neurons=tuple(int(i) for i in data["neurons"]),
            nodes=tuple(PatternNode.from_dict(n) for n in data["nodes"]),
            witness=witness,
            pattern=tuple(int(s) for s in data.get("pattern", ())),
        )
