"""Networks shipped with the package, so examples and the README work offline.

- ``sphere_relu.npz``: d = 10, k = 50 ReLU net interpolating n = 100 points uniform on S⁹ with
  random ±1 labels (`models.data.generic_data(100, 10, seed=0)`), the setting of the law of
  robustness.
- ``digits_relu.npz``: d = 64, k = 32, m = 10 ReLU net trained on scikit-learn's digits
  (pixels scaled to [0, 1], one-hot targets).

``python -m models.bundled.build`` regenerates both (needs scikit-learn); ``bundled.json``
records how each was trained.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUNDLED", "bundled_path"]

FOLDER = Path(__file__).resolve().parent
BUNDLED = ("sphere_relu", "digits_relu")


def bundled_path(name: str) -> Path:
    """Path of a bundled model file, e.g. ``bundled_path("sphere_relu")``."""
    if name not in BUNDLED:
        raise ValueError(f"no bundled model {name!r} (known: {', '.join(BUNDLED)})")
    return FOLDER / f"{name}.npz"
