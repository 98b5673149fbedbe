"""Networks as data: the neutral description (`Network`, any depth), activations, file formats,
data."""

from .activations import ACTIVATION_NAMES, Activation, UnknownActivationError, get_activation
from .network import DeepNetwork, Network, NetworkError, TwoLayerNetwork

__all__ = [
    "ACTIVATION_NAMES",
    "Activation",
    "DeepNetwork",
    "Network",
    "NetworkError",
    "TwoLayerNetwork",
    "UnknownActivationError",
    "get_activation",
]
