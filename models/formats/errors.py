"""The one error type of model I/O, and the helpers that keep its message on one line."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ModelFormatError", "layer_count_error", "library_errors", "one_line"]

_MAX_LENGTH = 300


def one_line(text: str) -> str:
    """The first non-blank line of ``text``, whitespace-normalised and cut to a sane length."""
    lines = [" ".join(line.split()) for line in str(text).splitlines()]
    first = next((line for line in lines if line), "")
    return first if len(first) <= _MAX_LENGTH else first[: _MAX_LENGTH - 1] + "…"


class ModelFormatError(ValueError):
    """A file or module that cannot be read as a network.

    ``str(error)`` is one line, ``"<path>: <problem>"`` (just the problem while no path is known).
    """

    def __init__(self, problem: str, path: str | os.PathLike[str] | None = None) -> None:
        self.problem = one_line(problem)
        self.path = None if path is None else os.fspath(path)
        super().__init__(self.problem if self.path is None else f"{self.path}: {self.problem}")

    def at(self, path: str | os.PathLike[str]) -> ModelFormatError:
        """The same problem, attributed to ``path``."""
        return ModelFormatError(self.problem, path)


def layer_count_error(count: int) -> ModelFormatError:
    """The refusal for a network with fewer than two linear layers."""
    if count == 0:
        return ModelFormatError("no linear layer found")
    return ModelFormatError(
        f"not supported yet: {count} linear layer (a network needs at least two)"
    )


@contextmanager
def library_errors(action: str) -> Iterator[None]:
    """Re-raise whatever a third-party reader throws as a one-line `ModelFormatError`.

    Readers of untrusted bytes (torch, safetensors, onnx, scipy, zipfile) fail with many
    unrelated exception types; this is the single boundary where they are caught.
    """
    try:
        yield
    except ModelFormatError:
        raise
    except Exception as error:
        detail = one_line(str(error)).split(". ")[0] or type(error).__name__
        raise ModelFormatError(f"{action}: {detail}") from error
