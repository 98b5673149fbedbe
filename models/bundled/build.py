"""Regenerate the bundled networks: ``python -m models.bundled.build``."""

from __future__ import annotations

import json

import numpy as np

from ..data import generic_data
from ..formats import save_model
from ..train import TrainingResult, train_two_layer
from . import FOLDER, bundled_path


def _sphere() -> tuple[TrainingResult, dict[str, object]]:
    X, y = generic_data(100, 10, "sphere", seed=0)
    result = train_two_layer(X, y, k=50, seed=0, max_epochs=20000)
    return result, {"data": "generic_data(n=100, d=10, distribution='sphere', seed=0)"}


def _digits() -> tuple[TrainingResult, dict[str, object]]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data / 16.0
    targets = np.eye(10)[digits.target]
    result = train_two_layer(X, targets, k=32, seed=0, max_epochs=3000, epsilon=0.05)
    with_labels = np.argmax(result.network(X), axis=1) == digits.target
    return result, {
        "data": "sklearn.datasets.load_digits(), pixels / 16",
        "train_accuracy": float(np.mean(with_labels)),
    }


def main() -> None:
    """Train both nets, save them as .npz and record their training in bundled.json."""
    records = {}
    for name, make in (("sphere_relu", _sphere), ("digits_relu", _digits)):
        result, record = make()
        save_model(result.network, bundled_path(name))
        records[name] = {
            **record,
            **result.network.describe(),
            "interpolated": result.interpolated,
            "epochs": result.epochs,
            "final_mse": result.loss,
        }
        print(name, records[name])
    (FOLDER / "bundled.json").write_text(json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    main()
