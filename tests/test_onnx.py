"""ONNX files as tools write them: torch.onnx.export (legacy and default exporters), weights in
external data files (kept inside the model's folder), and operators checked against the opset
the model imports (issues 12 and 16)."""

from __future__ import annotations

import hashlib
import os
from itertools import pairwise
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from models import get_activation
from models.formats import load_model
from tests.test_formats import (
    _check_against_reference,
    _float32_weights,
    _gemm_chain,
    _onnx_file,
    _refusal,
)

# --- operators and opsets ------------------------------------------------------------------


def test_an_operator_the_imported_opset_lacks_is_refused(tmp_path: Path) -> None:
    nodes = _gemm_chain(helper.make_node("Gelu", ["h"], ["z"]))
    path = _onnx_file(tmp_path, nodes, _float32_weights(), opset=11)
    assert "Gelu node: operator Gelu does not exist in opset 11" in _refusal(path)
    path = _onnx_file(tmp_path, nodes, _float32_weights(), opset=20)
    _check_against_reference(path, "gelu")


@pytest.mark.parametrize(
    ("opsets", "expected"),
    [
        ([helper.make_opsetid("", 99)], "opset 99 is not one this onnx knows"),
        ([helper.make_opsetid("com.example", 1)], "expected one opset of the default ONNX domain"),
    ],
)
def test_an_opset_that_cannot_be_checked_is_refused(
    tmp_path: Path, opsets: list[onnx.OperatorSetIdProto], expected: str
) -> None:
    path = _onnx_file(
        tmp_path, _gemm_chain(helper.make_node("Relu", ["h"], ["z"])), _float32_weights()
    )
    model = onnx.load(path)
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    path.write_bytes(model.SerializeToString())
    assert expected in _refusal(path)


def test_an_add_that_broadcasts_along_another_axis_is_refused(tmp_path: Path) -> None:
    w = _float32_weights()
    nodes = [
        helper.make_node("MatMul", ["x", "Wt"], ["h0"]),
        helper.make_node("Add", ["h0", "b"], ["h"], broadcast=1, axis=0),  # opset 6 semantics
        helper.make_node("Relu", ["h"], ["z"]),
        helper.make_node("Gemm", ["z", "A", "c"], ["y"], transB=1),
    ]
    path = _onnx_file(tmp_path, nodes, {**w, "Wt": w["W"].T}, opset=6)
    assert "Add attribute 'axis' is not supported" in _refusal(path)


def test_identity_nodes_pass_their_input_on(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Identity", ["x"], ["x1"]),
        helper.make_node("Gemm", ["x1", "W", "b"], ["h"], transB=1),
        helper.make_node("Identity", ["h"], ["h1"]),
        helper.make_node("Tanh", ["h1"], ["z"]),
        helper.make_node("Gemm", ["z", "A", "c"], ["y"], transB=1),
    ]
    _check_against_reference(_onnx_file(tmp_path, nodes, _float32_weights()), "tanh")


# --- external data -------------------------------------------------------------------------


def _external(tmp_path: Path, location: str = "weights.bin") -> Path:
    """A model whose every tensor lies in the external file ``location``, written by onnx."""
    path = _onnx_file(
        tmp_path, _gemm_chain(helper.make_node("Relu", ["h"], ["z"])), _float32_weights()
    )
    onnx.save_model(
        onnx.load(path), path, save_as_external_data=True, size_threshold=0, location=location
    )
    return path


def _relocated(path: Path, tensor: int = 0, **entries: str) -> Path:
    """The model at ``path`` with these external data entries of one tensor replaced."""
    model = onnx.load(path, load_external_data=False)
    external = model.graph.initializer[tensor].external_data
    values = {entry.key: entry.value for entry in external} | entries
    del external[:]
    external.extend(onnx.StringStringEntryProto(key=k, value=v) for k, v in values.items())
    path.write_bytes(model.SerializeToString())
    return path


def test_external_data_beside_the_model_is_loaded(tmp_path: Path) -> None:
    path = _external(tmp_path)
    model = onnx.load(path, load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in model.graph.initializer)
    net = load_model(path)
    w = _float32_weights()
    np.testing.assert_array_equal(net.W, w["W"])
    np.testing.assert_array_equal(net.c, w["c"])
    _check_against_reference(path, "relu")


def test_external_data_in_a_subfolder_with_a_checksum(tmp_path: Path) -> None:
    path = _external(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "weights.bin").rename(tmp_path / "data" / "weights.bin")
    model = onnx.load(path, load_external_data=False)
    for index in range(len(model.graph.initializer)):
        _relocated(path, index, location="data/weights.bin")
    load_model(path)
    _relocated(path, 0, checksum=hashlib.sha1(b"other bytes").hexdigest())
    assert "external data does not match its checksum" in _refusal(path)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("../../etc/passwd", "'../../etc/passwd' is not a relative path inside the model's folder"),
        ("/etc/passwd", "'/etc/passwd' is not a relative path inside"),
        ("sub/../../weights.bin", "is not a relative path inside"),
        ("", "location '' is not a relative path"),
        ("gone.bin", "external data file 'gone.bin' is missing"),
    ],
)
def test_an_external_location_outside_the_folder_or_missing_is_refused(
    tmp_path: Path, location: str, expected: str
) -> None:
    path = _relocated(_external(tmp_path), location=location)
    message = _refusal(path)
    assert "tensor 'W': external data" in message and expected in message


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    path = _external(folder)
    os.replace(folder / "weights.bin", tmp_path / "weights.bin")
    (folder / "weights.bin").symlink_to(tmp_path / "weights.bin")
    assert "'weights.bin' leads out of the model's folder" in _refusal(path)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ({"offset": "1000000"}, "external data file 'weights.bin' is too short"),
        ({"length": "4"}, "external data length 4 bytes, its shape needs 48"),
        ({"offset": "-8"}, "external data offset '-8' is not a byte count"),
    ],
)
def test_external_data_that_does_not_hold_the_tensor_is_refused(
    tmp_path: Path, entries: dict[str, str], expected: str
) -> None:
    path = _relocated(_external(tmp_path), **entries)
    assert expected in _refusal(path)


def test_a_truncated_external_file_is_refused(tmp_path: Path) -> None:
    path = _external(tmp_path)
    data = tmp_path / "weights.bin"
    data.write_bytes(data.read_bytes()[:-4])
    assert "external data file 'weights.bin' is too short" in _refusal(path)


# --- torch.onnx.export ---------------------------------------------------------------------

ACTIVATIONS = {
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "gelu": torch.nn.GELU,
    "leaky_relu(0.1)": lambda: torch.nn.LeakyReLU(0.1),
    "sigmoid": torch.nn.Sigmoid,
}


def _mlp(activation: str, widths: list[int]) -> torch.nn.Sequential:
    torch.manual_seed(len(widths))
    layers: list[torch.nn.Module] = []
    for fan_in, fan_out in pairwise(widths):
        layers += [torch.nn.Linear(fan_in, fan_out), ACTIVATIONS[activation]()]
    return torch.nn.Sequential(*layers[:-1]).eval()


def _exported(module: torch.nn.Module, path: Path, dynamo: bool) -> Path:
    if dynamo:
        pytest.importorskip("onnxscript")
    inputs = (torch.randn(1, module[0].in_features),)
    torch.onnx.export(module, inputs, str(path), dynamo=dynamo)
    return path


def _assert_same_function(module: torch.nn.Module, path: Path, activation: str) -> None:
    net = load_model(path)
    spec = "leaky_relu(0.10000000149011612)" if activation.startswith("leaky") else activation
    assert net.activation == get_activation(spec)
    x = np.random.default_rng(0).normal(size=(50, module[0].in_features))
    with torch.no_grad():
        expected = module.double()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(net(x), expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_torch_onnx_export_computes_the_same_function(
    tmp_path: Path, activation: str, depth: int, dynamo: bool
) -> None:
    module = _mlp(activation, [*[5, 8, 6, 3][:depth], 2])
    path = _exported(module, tmp_path / "mlp.onnx", dynamo)
    _assert_same_function(module, path, activation)


def test_the_default_export_of_a_wide_net_keeps_its_weights_beside_it(tmp_path: Path) -> None:
    module = _mlp("relu", [20, 300, 2])
    path = _exported(module, tmp_path / "mlp.onnx", dynamo=True)
    model = onnx.load(path, load_external_data=False)
    assert any(t.data_location == TensorProto.EXTERNAL for t in model.graph.initializer)
    assert (tmp_path / "mlp.onnx.data").is_file()
    _assert_same_function(module, path, "relu")
