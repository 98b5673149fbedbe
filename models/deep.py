"""Deep MLPs (L ≥ 3 linear layers) are `Network`\\ s like any other; this module keeps the names
that code imported from it before the two network types became one (see `models.network`)."""

from .network import DeepNetwork, linear_layers, network_from_layers

__all__ = ["DeepNetwork", "linear_layers", "network_from_layers"]
