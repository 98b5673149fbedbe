"""Networks as data: the neutral two-layer description, activations, file formats, data."""

from .activations import ACTIVATION_NAMES, Activation, UnknownActivationError, get_activation
from .deep import DeepNetwork
from .network import NetworkError, TwoLayerNetwork

#: Every neutral network description.
Network = TwoLayerNetwork | DeepNetwork

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
