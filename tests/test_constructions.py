"""The constructions interpolate the sampled points (proven with rounding-error bounds), and the
fit check proves only what holds."""

from __future__ import annotations

import numpy as np
import pytest

from certify.law.fitcheck import check_fit
from models import TwoLayerNetwork
from models.constructions import best_construction, linear_fit, sphere_fit
from models.data import generic_data


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_papers_sphere_construction_fits_generic_points_exactly(seed: int) -> None:
    X, y = generic_data(40, 30, "sphere", seed)
    assert np.max(X @ X.T - 2 * np.eye(40)) < 0.9
    built = sphere_fit(X, y, 45)
    proof = check_fit(built.network, X, y)
    assert built.network.k == 45 and proof.fits(1e-20)
    assert proof.margin == pytest.approx(1.0, abs=1e-9)
    assert sphere_fit(X, y, 39) is None


def test_min_norm_linear_fit_is_one_neuron_with_lipschitz_norm_w() -> None:
    X, y = generic_data(10, 25, "sphere", 0)
    built = linear_fit(X, y, 3)
    net = built.network
    w = np.linalg.pinv(X) @ y
    assert np.allclose(net.jacobian(np.zeros(25)), w[None, :])
    assert check_fit(net, X, y).fits(1e-20)
    assert linear_fit(*generic_data(26, 25, "sphere", 0), 3) is None
    assert best_construction(X, y, 20).name == "linear"
    X, y = generic_data(30, 10, "sphere", 0)
    assert best_construction(X, y, 30).name == "sphere"
    assert best_construction(X, y, 29) is None


def test_fit_check_rejects_a_wrong_sign_and_encloses_the_outputs() -> None:
    X, y = generic_data(20, 5, "sphere", 0)
    rng = np.random.default_rng(0)
    for activation in ("relu", "tanh"):
        net = TwoLayerNetwork.create(
            rng.standard_normal((6, 5)),
            rng.standard_normal((1, 6)),
            b=rng.standard_normal(6),
            c=np.zeros(1),
            activation=activation,
        )
        proof = check_fit(net, X, y)
        outputs = net(X)[:, 0]
        assert proof.margin <= np.min(y * outputs)
        assert proof.margin >= np.min(y * outputs) - 1e-12
        assert proof.loss >= np.mean((outputs - y) ** 2)
    flipped = y.copy()
    flipped[0] = -flipped[0]
    built = best_construction(X, y, 20)
    assert not check_fit(built.network, X, flipped).fits(1.0)
