"""Networks as data: the neutral two-layer description, activations, file formats, data."""

from .activations import ACTIVATION_NAMES, Activation, UnknownActivationError, get_activation
from .network import NetworkError, TwoLayerNetwork

__all__ = [
    "ACTIVATION_NAMES",
    "Activation",
    "NetworkError",
    "TwoLayerNetwork",
    "UnknownActivationError",
    "get_activation",
]
