"""A researcher's own PyTorch model, end to end: a tiny MLP of each supported activation is
trained, saved through every door (state dict, safetensors with and without metadata, npz,
LipSDP .mat, torch's ONNX export, a pickled module), and every door must give the interval of
the module itself, or one and the same one-line refusal."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from certify import certify
from models.formats import ModelFormatError, save_model
from models.torch_io import from_module

ROOT = Path(__file__).parents[1]
#: Deterministic methods, given an allowance far beyond what they need to converge.
METHODS = ["spectral", "lipsdp-neuron", "sampling"]
ACTIVATIONS = {
    "relu": nn.ReLU(),
    "leaky_relu(0.1)": nn.LeakyReLU(0.1),
    "tanh": nn.Tanh(),
    "sigmoid": nn.Sigmoid(),
    "softplus": nn.Softplus(),
    "elu": nn.ELU(),
    "gelu": nn.GELU(),
}
HAS_ONNXSCRIPT = importlib.util.find_spec("onnxscript") is not None


def _trained(activation: nn.Module, deep: bool = False) -> nn.Sequential:
    """A float32 MLP 3 → 8 → 1 (or 3 → 8 → 8 → 1) after a few Adam steps on random data, as
    users have it."""
    torch.manual_seed(0)
    hidden = [nn.Linear(8, 8), activation] if deep else []
    model = nn.Sequential(nn.Linear(3, 8), activation, *hidden, nn.Linear(8, 1))
    x, y = torch.randn(64, 3), torch.randn(64, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(20):
        optimizer.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        optimizer.step()
    return model.eval()


def _interval(model: object, **options: object) -> tuple[float, float]:
    report = certify(model, methods=METHODS, time_limit=300, **options)
    return report.lower, report.upper


def _doors(model: nn.Sequential, spec: str, folder: Path) -> dict[str, tuple[Path, dict]]:
    """Every way the model reaches the toolkit, with the loading options it needs."""
    state = model.state_dict()
    doors = {
        "state dict": (folder / "model.pt", {"activation": spec}),
        "safetensors, metadata": (folder / "meta.safetensors", {}),
        "safetensors, none": (folder / "plain.safetensors", {"activation": spec}),
        "npz": (folder / "model.npz", {}),
        "LipSDP .mat": (folder / "model.mat", {}),
        "pickled module": (folder / "module.pt", {"trust_pickle": True}),
    }
    torch.save(state, doors["state dict"][0])
    save_file(state, doors["safetensors, metadata"][0], metadata={"activation": spec})
    save_file(state, doors["safetensors, none"][0])
    net = from_module(model)
    save_model(net, doors["npz"][0])
    save_model(net, doors["LipSDP .mat"][0])
    torch.save(model, doors["pickled module"][0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3),), folder / "legacy.onnx", dynamo=False)
        doors["ONNX (legacy exporter)"] = (folder / "legacy.onnx", {})
        if HAS_ONNXSCRIPT and spec in ("relu", "gelu"):
            torch.onnx.export(model, (torch.zeros(1, 3),), folder / "default.onnx", verbose=False)
            doors["ONNX (default exporter)"] = (folder / "default.onnx", {})
    return doors


@pytest.mark.parametrize(
    ("spec", "deep"), [(spec, False) for spec in ACTIVATIONS] + [("relu", True), ("tanh", True)]
)
def test_every_door_gives_the_interval_of_the_module(tmp_path: Path, spec: str, deep: bool):
    model = _trained(ACTIVATIONS[spec], deep)
    expected = _interval(model)
    assert 0 < expected[0] <= expected[1] < float("inf")
    for door, (path, options) in _doors(model, spec, tmp_path).items():
        try:
            found = _interval(path, **options)
        except ModelFormatError as error:
            pytest.fail(f"{door}: refused with {error}")
        if door.startswith("ONNX") and "(" in spec:
            # ONNX stores an activation's parameter as float32 (0.1 → 0.10000000149…): the file
            # holds a function that differs from the module's in the 8th digit.
            assert found == pytest.approx(expected, rel=1e-6), door
        else:
            assert found == expected, door


def test_doors_without_the_activation_refuse_in_one_line(tmp_path: Path) -> None:
    model = _trained(nn.GELU())
    doors = _doors(model, "gelu", tmp_path)
    for door in ("state dict", "safetensors, none"):
        path, _ = doors[door]
        with pytest.raises(ModelFormatError) as error:
            certify(path, methods=METHODS)
        assert str(error.value) == (
            f"{path}: the file does not record its activation: name it with --activation "
            "(activation= in Python), e.g. relu, tanh, gelu, leaky_relu(0.01)"
        )


def test_the_example_runs(tmp_path: Path) -> None:
    """examples/certify_your_torch_model.py: every door gives the module's interval, and the two
    audits come out VERIFIED and REFUTED."""
    script = ROOT / "examples" / "certify_your_torch_model.py"
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    lines = result.stdout.splitlines()
    module = next(line for line in lines if line.startswith("module: "))
    interval = module.split(" in ")[1]
    doors = [line for line in lines if line.strip().startswith("mlp.")]
    assert len(doors) >= 2 and all(line.endswith(interval) for line in doors), lines
    assert any(line.endswith("VERIFIED") for line in lines)
    assert any(line.endswith("REFUTED") for line in lines)
