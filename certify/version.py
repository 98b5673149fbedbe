"""The toolkit's version: the installed distribution's, else the one in the source tree's
pyproject.toml (the one place it is written)."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

__all__ = ["DISTRIBUTION", "__version__", "source_version"]

DISTRIBUTION = "certify"
_PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def source_version(pyproject: Path = _PYPROJECT) -> str:
    """The ``version`` of ``pyproject`` ("unknown" when it cannot be read)."""
    try:
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        return "unknown"


def _version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return source_version()


__version__ = _version()
