"""The CSV files of the radius audit: claims in, per-point verdicts out.

Claims: a header row naming the columns ``x0, …, x{d−1}, label, radius`` (any order, nothing
else), then one row per point.  ``label`` is the class index 0 … m−1, or ±1 for a scalar-output
network; ``radius`` is the claimed ℓ2 radius (≥ 0).  Every value must be a finite number.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import TwoLayerNetwork

__all__ = ["RadiusClaimError", "RadiusClaims", "read_radius_claims"]


class RadiusClaimError(ValueError):
    """The claims file is malformed (message: ``path: [line N: ]problem``)."""


@dataclass(frozen=True)
class RadiusClaims:
    """n claims: the points (n×d), their labels and their claimed radii."""

    points: np.ndarray
    labels: np.ndarray
    radii: np.ndarray


def _columns(header: list[str], d: int) -> list[str]:
    """The column names in the file's order; raises ValueError unless they are the expected."""
    names = [name.strip() for name in header]
    inputs = [name for name in names if name.startswith("x")]
    if len(inputs) != d and sorted(inputs) == sorted(f"x{i}" for i in range(len(inputs))):
        raise ValueError(f"{len(inputs)} input columns, but the model has d = {d} inputs")
    expected = [*(f"x{i}" for i in range(d)), "label", "radius"]
    inputs_text = "x0" if d == 1 else f"x0..x{d - 1}"
    problems = [f"missing {name}" for name in expected if name not in names]
    problems += [f"unexpected {name!r}" for name in names if name not in expected]
    problems += ["a repeated column"] if len(set(names)) != len(names) else []
    if problems:
        raise ValueError(f"columns must be {inputs_text}, label, radius: {', '.join(problems)}")
    return names


def _number(text: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} is not a number ({text.strip()!r})") from None
    if not math.isfinite(value):
        raise ValueError(f"{column} is {text.strip()} (values must be finite)")
    return value


def _label(value: float, m: int) -> int:
    if m == 1:
        if value not in (-1.0, 1.0):
            raise ValueError(f"label must be -1 or +1 for a scalar-output model, got {value:g}")
    elif not (value.is_integer() and 0 <= value < m):
        raise ValueError(f"label must be a class index 0..{m - 1}, got {value:g}")
    return int(value)


def _parse(rows: list[list[str]], net: TwoLayerNetwork) -> RadiusClaims:
    if not rows:
        raise ValueError("empty file (expected a header row x0..x{d-1}, label, radius)")
    names = _columns(rows[0], net.d)
    where = {name: position for position, name in enumerate(names)}
    points, labels, radii = [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            if len(row) != len(names):
                raise ValueError(f"{len(row)} fields, the header has {len(names)}")
            values = {name: _number(row[where[name]], name) for name in names}
            if values["radius"] < 0:
                raise ValueError(f"radius must be ≥ 0, got {values['radius']:g}")
            labels.append(_label(values["label"], net.m))
        except ValueError as error:
            raise ValueError(f"line {line}: {error}") from None
        points.append([values[f"x{i}"] for i in range(net.d)])
        radii.append(values["radius"])
    if not points:
        raise ValueError("no data rows after the header")
    return RadiusClaims(np.array(points), np.array(labels), np.array(radii))


def read_radius_claims(path: str | os.PathLike, net: TwoLayerNetwork) -> RadiusClaims:
    """Read and validate the claims for ``net``; raises `RadiusClaimError` (one line)."""
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
        return _parse(rows, net)
    except OSError as error:
        raise RadiusClaimError(f"{os.fspath(path)}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise RadiusClaimError(f"{os.fspath(path)}: not a text (UTF-8) CSV file") from None
    except (ValueError, csv.Error) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RadiusClaimError(f"{os.fspath(path)}: {message}") from None
