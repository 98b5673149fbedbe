"""Conversion between ``torch.nn`` modules and the neutral networks (see
`models.formats.torch_module`, which reads modules for the file formats as well)."""

from .formats.torch_module import activation_module, from_module, tensor_to_array, to_module

__all__ = ["activation_module", "from_module", "tensor_to_array", "to_module"]
