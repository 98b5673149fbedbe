"""The generic data of Bubeck, Li, Nagaraj (COLT 2021): n points and random ±1 labels.

Points are i.i.d. uniform on the sphere S^{d−1} or i.i.d. N(0, I_d/d); labels i.i.d. uniform in
{−1, +1}.  Everything is drawn from one seeded `numpy.random.Generator`, so a (n, d, seed)
triple always gives the same data set.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["Distribution", "gaussian_points", "generic_data", "sphere_points"]

Distribution = Literal["sphere", "gaussian"]


def sphere_points(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """n points i.i.d. uniform on S^{d−1} (normalised Gaussians), shape n×d."""
    points = rng.standard_normal((n, d))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def gaussian_points(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """n points i.i.d. N(0, I_d/d), shape n×d."""
    return rng.standard_normal((n, d)) / np.sqrt(d)


def generic_data(
    n: int, d: int, distribution: Distribution = "sphere", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(X, y): n generic points in R^d and labels y ∈ {−1, +1}^n, reproducible from ``seed``."""
    if n < 1 or d < 1:
        raise ValueError(f"need n ≥ 1 and d ≥ 1, got n={n}, d={d}")
    rng = np.random.default_rng(seed)
    draw = {"sphere": sphere_points, "gaussian": gaussian_points}[distribution]
    X = draw(n, d, rng)
    y = rng.choice(np.array([-1.0, 1.0]), size=n)
    return X, y
