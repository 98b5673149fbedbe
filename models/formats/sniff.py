"""Cheap content sniffing from a file's first bytes (and, for zip archives, its member names).

Kinds: ``"torch"`` (zip archive holding ``data.pkl``), ``"npz"`` (zip of ``.npy`` members),
``"zip"`` (any other or damaged archive), ``"pickle"`` (legacy ``torch.save``), ``"safetensors"``
(8-byte little-endian header length, then ``{``), ``"matlab"`` (MAT-file text header), or ``None``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

__all__ = ["HEAD_SIZE", "content_kind"]

HEAD_SIZE = 128
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_PICKLE_PROTOCOL_OPCODE = b"\x80"


def content_kind(path: Path, head: bytes, size: int) -> str | None:
    """The kind of content that the first bytes ``head`` of a ``size``-byte file announce."""
    if head.startswith(_ZIP_MAGICS):
        return _zip_kind(path)
    if head.startswith(b"MATLAB"):
        return "matlab"
    if head.startswith(_PICKLE_PROTOCOL_OPCODE):
        return "pickle"
    if _safetensors_header(head, size):
        return "safetensors"
    return None


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "zip"
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
        return "torch"
    if names and all(name.endswith(".npy") for name in names):
        return "npz"
    return "zip"


def _safetensors_header(head: bytes, size: int) -> bool:
    header_length = int.from_bytes(head[:8], "little")
    return len(head) > 8 and head[8:9] == b"{" and 8 + header_length <= size
