"""Reading and writing networks (two or more linear layers): PyTorch, safetensors, NumPy, MATLAB
and ONNX files.

Files are data: nothing in them is executed (a pickled module is read only with explicit
``trust_pickle``).  Every problem surfaces as a `ModelFormatError` whose message is one line,
``"<path>: <problem>"``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import Network
from ..activations import UnknownActivationError
from ..network import NetworkError
from .base import Format, LoadOptions
from .errors import ModelFormatError, library_errors
from .matlab import MATLAB
from .npz import NPZ
from .onnx_file import ONNX
from .pytorch import PYTORCH
from .safetensors_file import SAFETENSORS
from .sniff import DAMAGED_ZIP, HEAD_SIZE, content_kind

__all__ = ["FORMATS", "ModelFormatError", "load_model", "save_model"]

FORMATS: tuple[Format, ...] = (PYTORCH, SAFETENSORS, NPZ, MATLAB, ONNX)
_BY_KIND = {
    "torch": PYTORCH,
    "pickle": PYTORCH,
    "npz": NPZ,
    "safetensors": SAFETENSORS,
    "matlab": MATLAB,
}


def _suffixes() -> str:
    return ", ".join(suffix for fmt in FORMATS for suffix in fmt.suffixes)


def _by_suffix(path: Path) -> Format | None:
    suffix = path.suffix.lower()
    return next((fmt for fmt in FORMATS if suffix in fmt.suffixes), None)


def _unknown_suffix(path: Path) -> ModelFormatError:
    return ModelFormatError(f"unknown model format (suffix {path.suffix!r}; known: {_suffixes()})")


def _head(path: Path) -> tuple[bytes, int]:
    """The first bytes of ``path`` and its size, after checking that it is a readable file."""
    try:
        with open(path, "rb") as file:
            return file.read(HEAD_SIZE), os.fstat(file.fileno()).st_size
    except FileNotFoundError:
        raise ModelFormatError("no such file") from None
    except IsADirectoryError:
        raise ModelFormatError("is a directory, not a model file") from None
    except OSError as error:
        raise ModelFormatError(f"cannot read the file: {error.strerror or error}") from None


def _detect(path: Path) -> Format:
    """The format named by the suffix, confirmed by the content; or found from the content."""
    head, size = _head(path)
    if size == 0:
        raise ModelFormatError("empty file")
    kind = content_kind(path, head, size)
    if kind == DAMAGED_ZIP:
        raise ModelFormatError("damaged or truncated zip archive (its directory cannot be read)")
    named = _by_suffix(path)
    if named is None:
        if kind in _BY_KIND:
            return _BY_KIND[kind]
        raise _unknown_suffix(path)
    if kind is None and None not in named.kinds:
        raise ModelFormatError(f"not a {named.name} file (unrecognised content)")
    if kind not in named.kinds:
        raise ModelFormatError(
            f"the content looks like {kind} data, not {named.name} as the suffix "
            f"{path.suffix!r} says"
        )
    return named


def load_model(
    path: str | os.PathLike[str],
    activation: str | None = None,
    trust_pickle: bool = False,
    assume_chain: bool = False,
) -> Network:
    """The network stored in ``path``: a `TwoLayerNetwork` for two linear layers, a
    `DeepNetwork` for more.

    ``activation`` names σ for files that record none (state dicts, files without metadata);
    such a file is refused without it, and it must agree with the file where the file names
    one.  ``trust_pickle`` allows unpickling a whole ``torch.nn.Module``, which executes code
    from the file; ``assume_chain`` reads such a module with a forward of its own as the chain
    of its layers (see `models.formats.torch_module`).
    """
    file = Path(path)
    try:
        return _detect(file).load(file, LoadOptions(activation, trust_pickle, assume_chain))
    except ModelFormatError as error:
        raise error.at(path) from error
    except (NetworkError, UnknownActivationError) as error:
        raise ModelFormatError(str(error), path) from error


def save_model(net: Network, path: str | os.PathLike[str]) -> None:
    """Write ``net`` in the format named by the suffix of ``path``.

    A PyTorch state dict does not store the activation; every other format does.
    """
    file = Path(path)
    fmt = _by_suffix(file)
    try:
        if fmt is None:
            raise _unknown_suffix(file)
        with library_errors("cannot write the file"):
            fmt.save(net, file)
    except ModelFormatError as error:
        raise error.at(path) from error
