"""Cheap content sniffing from a file's first bytes (and, for zip archives, its member names).

Kinds: ``"torch"`` (zip archive holding ``data.pkl``), ``"npz"`` (zip of ``.npy`` members),
``"zip"`` (any other archive), `DAMAGED_ZIP` (a zip signature, then no readable archive),
``"pickle"`` (legacy ``torch.save``), ``"safetensors"`` (8-byte little-endian header length,
then ``{``), ``"matlab"`` (MAT-file text header), or ``None``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

__all__ = ["DAMAGED_ZIP", "HEAD_SIZE", "content_kind"]

DAMAGED_ZIP = "damaged zip"

HEAD_SIZE = 128
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_PICKLE_PROTOCOL_OPCODE = b"\x80"


def content_kind(path: Path, head: bytes, size: int) -> str | None:
    """The kind of content that the first bytes ``head`` of a ``size``-byte file announce.

    The safetensors structure is tested first: its first byte is the low byte of the header
    length, which can be anything, a pickle's protocol opcode 0x80 included.
    """
    if _safetensors_header(head, size):
        return "safetensors"
    if head.startswith(_ZIP_MAGICS):
        return _zip_kind(path)
    if head.startswith(b"MATLAB"):
        return "matlab"
    if head.startswith(_PICKLE_PROTOCOL_OPCODE):
        return "pickle"
    return None


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return DAMAGED_ZIP
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
        return "torch"
    if names and all(name.endswith(".npy") for name in names):
        return "npz"
    return "zip"


def _safetensors_header(head: bytes, size: int) -> bool:
    """An 8-byte little-endian length N, then a JSON object of N bytes that fits the file."""
    header_length = int.from_bytes(head[:8], "little")
    return len(head) > 8 and head[8:9] == b"{" and 2 <= header_length <= size - 8
