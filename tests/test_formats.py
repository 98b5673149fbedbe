"""Model files: lossless round trips, real LipSDP files, hand-built ONNX graphs, and one-line
refusals (naming the file) for every kind of bad input."""

from __future__ import annotations

import shutil
from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnx
import pytest
import scipy.io
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from safetensors.numpy import save_file
from safetensors.torch import save_file as save_torch_file
from torch import nn

from models import TwoLayerNetwork, get_activation
from models.formats import ModelFormatError, load_model, save_model
from models.torch_io import from_module

LIPSDP = Path(__file__).parents[1] / ".." / "shared" / "peers" / "lipsdp"
SUFFIXES = (".pt", ".pth", ".safetensors", ".npz", ".onnx", ".mat")
ACTIVATIONS = (
    "relu",
    "leaky_relu(0.1)",
    "tanh",
    "sigmoid",
    "softplus",
    "softplus(2.5)",
    "elu",
    "elu(0.3)",
    "gelu",
    "cube",
)
ONNX_INEXACT = ("softplus(2.5)", "elu(0.3)", "cube")


def _network(activation: str = "relu", d: int = 3, k: int = 5, m: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    return TwoLayerNetwork.create(
        rng.normal(size=(k, d)),
        rng.normal(size=(m, k)),
        rng.normal(size=k),
        rng.normal(size=m),
        activation,
    )


def _assert_same(net: TwoLayerNetwork, other: TwoLayerNetwork) -> None:
    for name in ("W", "b", "A", "c"):
        assert getattr(other, name).dtype == np.float64
        np.testing.assert_array_equal(getattr(other, name), getattr(net, name))
    assert other.activation == net.activation


def _refusal(path: Path, **options: object) -> str:
    """The message of the `ModelFormatError` that loading ``path`` must raise."""
    with pytest.raises(ModelFormatError) as error:
        load_model(path, **options)
    message = str(error.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message and "\r" not in message
    return message


def _saved(tmp_path: Path, suffix: str, net: TwoLayerNetwork | None = None) -> Path:
    path = tmp_path / f"model{suffix}"
    save_model(_network() if net is None else net, path)
    return path


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_round_trip(tmp_path: Path, suffix: str, activation: str) -> None:
    net = _network(activation)
    path = tmp_path / f"model{suffix}"
    if suffix == ".onnx" and activation in ONNX_INEXACT:
        with pytest.raises(ModelFormatError, match="no exact ONNX operator"):
            save_model(net, path)
        return
    save_model(net, path)
    stores_activation = suffix not in (".pt", ".pth")
    _assert_same(net, load_model(path, activation=None if stores_activation else activation))


@settings(max_examples=15, deadline=None)
@given(
    shape=st.tuples(*(st.integers(1, 6),) * 3),
    suffix=st.sampled_from(SUFFIXES),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_any_shape(tmp_path_factory, shape, suffix, seed) -> None:
    d, k, m = shape
    net = _network("leaky_relu(0.37)", d, k, m, seed)
    path = tmp_path_factory.mktemp("shapes") / f"model{suffix}"
    save_model(net, path)
    _assert_same(net, load_model(path, activation="leaky_relu(0.37)"))


def test_saved_onnx_passes_checker_and_reference_evaluator(tmp_path: Path) -> None:
    # onnx's reference Erf (inside Gelu) rounds to float32, hence its looser tolerance.
    for activation, tolerance in (("gelu", 1e-6), ("leaky_relu(0.1)", 1e-12), ("elu(0.5)", 1e-12)):
        net = _network(activation)
        path = _saved(tmp_path, ".onnx", net)
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        x = np.random.default_rng(2).normal(size=(4, net.d))
        (output,) = ReferenceEvaluator(model).run(None, {"input": x})
        np.testing.assert_allclose(output, net(x), rtol=tolerance, atol=tolerance)


def test_suffix_is_case_insensitive_and_content_found_without_suffix(tmp_path: Path) -> None:
    net = _network("tanh")
    for suffix in (".safetensors", ".npz", ".mat", ".pt"):
        path = _saved(tmp_path, suffix.upper(), net)
        renamed = path.with_suffix(".bin")
        shutil.copy(path, renamed)
        for candidate in (path, renamed):
            _assert_same(net, load_model(candidate, activation="tanh"))


# --- PyTorch -------------------------------------------------------------------------------


def _sequential(*layers: nn.Module) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(*layers)


def test_state_dict_of_sequential(tmp_path: Path) -> None:
    module = _sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    path = tmp_path / "model.pth"
    torch.save(module.state_dict(), path)
    _assert_same(from_module(module), load_model(path, activation="tanh"))
    assert "does not record its activation: name it with --activation" in _refusal(path)


def test_state_dict_without_biases_and_legacy_format(tmp_path: Path) -> None:
    module = _sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 2, bias=False))
    path = tmp_path / "model.pt"
    torch.save(module.state_dict(), path, _use_new_zipfile_serialization=False)
    net = load_model(path, activation="relu")
    _assert_same(from_module(module), net)
    assert not net.b.any() and not net.c.any()


def test_layer_numbers_sort_naturally(tmp_path: Path) -> None:
    net = _network(d=3, k=5, m=3)
    path = tmp_path / "model.safetensors"
    save_file({"layers.10.weight": net.A, "layers.2.weight": net.W}, path)
    loaded = load_model(path, activation="relu")
    np.testing.assert_array_equal(loaded.W, net.W)
    np.testing.assert_array_equal(loaded.A, net.A)


def test_state_dict_key_order_that_contradicts_the_numbers_is_refused(tmp_path: Path) -> None:
    net = _network(d=3, k=5, m=3)
    path = tmp_path / "model.pt"
    state = OrderedDict([("layers.10.weight", net.A), ("layers.2.weight", net.W)])
    torch.save({key: torch.tensor(value) for key, value in state.items()}, path)
    assert "stored in the order 'layers.10', 'layers.2' but numbered" in _refusal(
        path, activation="relu"
    )


def _autoencoder() -> tuple[nn.Module, OrderedDict[str, torch.Tensor]]:
    """encoder → hidden → decoder (d = m = 2, widths 3 and 4): alphabetically, decoder first."""
    torch.manual_seed(3)
    module = nn.Module()
    module.encoder, module.hidden, module.decoder = (
        nn.Linear(2, 3),
        nn.Linear(3, 4),
        nn.Linear(4, 2),
    )
    return module, module.state_dict()


def test_state_dict_layers_keep_their_registration_order(tmp_path: Path) -> None:
    """Regression: the names sorted as decoder, encoder, hidden and loaded as a d = 4 net
    (4 → 2 → 3 → 4 fits the shapes too)."""
    module, state = _autoencoder()
    chain = nn.Sequential(module.encoder, nn.ReLU(), module.hidden, nn.ReLU(), module.decoder)
    path = tmp_path / "autoencoder.pt"
    torch.save(state, path)
    net = load_model(path, activation="relu")
    assert (net.d, net.widths, net.m) == (2, (3, 4), 2)
    x = np.random.default_rng(0).normal(size=(50, 2))
    with torch.no_grad():
        expected = chain.double()(torch.tensor(x)).numpy()
    np.testing.assert_allclose(net(x), expected, rtol=1e-12, atol=1e-12)
    # safetensors sorts its keys, so the file keeps no order, and two orders fit the shapes.
    path = tmp_path / "autoencoder.safetensors"
    save_torch_file(state, path)
    assert "cannot tell the order of layers 'decoder', 'encoder', 'hidden'" in _refusal(
        path, activation="relu"
    )


def test_unordered_names_are_refused_when_several_orders_fit(tmp_path: Path) -> None:
    square = _network(d=3, k=5, m=3)
    path = tmp_path / "model.safetensors"
    save_file({"hidden.weight": square.W, "output.weight": square.A}, path)
    assert "cannot tell the order of layers 'hidden', 'output'" in _refusal(path, activation="relu")
    narrow = _network(d=3, k=5, m=2)
    save_file({"output.weight": narrow.A, "hidden.weight": narrow.W}, path)
    np.testing.assert_array_equal(load_model(path, activation="relu").W, narrow.W)
    save_file({"a.weight": np.ones((3, 2)), "b.weight": np.ones((1, 4))}, path)
    assert "do not fit together in any order (shapes out×in: 3×2, 1×4)" in _refusal(
        path, activation="relu"
    )


def test_pickled_module_needs_trust(tmp_path: Path) -> None:
    module = _sequential(nn.Linear(3, 4), nn.ELU(0.5), nn.Linear(4, 2))
    path = tmp_path / "model.pt"
    torch.save(module, path)
    message = _refusal(path)
    assert "contains a pickled Python object (torch.nn.modules.container.Sequential)" in message
    assert "--trust-pickle" in message
    _assert_same(from_module(module), load_model(path, trust_pickle=True))
    _assert_same(from_module(module), load_model(path, "elu(0.5)", trust_pickle=True))
    assert "stores activation 'elu(0.5)', but 'relu' was requested" in _refusal(
        path, activation="relu", trust_pickle=True
    )


def test_pickled_module_of_unsupported_shape(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(_sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2), nn.Linear(2, 1)), path)
    assert "expected Linear, activation, Linear, …, Linear; got Linear, ReLU, Linear, Linear" in (
        _refusal(path, trust_pickle=True)
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            {
                "0.weight": torch.ones(2, 2),
                "1.weight": torch.ones(2),
                "1.running_mean": torch.ones(2),
                "2.weight": torch.ones(1, 2),
            },
            "unexpected tensor '1.running_mean'",
        ),
        (
            {"0.weight": torch.ones(2, 2), "1.weight": torch.ones(2), "2.weight": torch.ones(1, 2)},
            "weight '1.weight' has shape (2,), expected a matrix",
        ),
        (
            {"0.weight": torch.ones(2, 2), "0.bias": torch.ones(2), "2.bias": torch.ones(1)},
            "bias '2.bias' has no weight '2.weight' beside it",
        ),
        (
            {"0.weight": torch.ones(2, 2), "2.weight": torch.ones(1, 3)},
            "layer '2' takes 3 inputs but layer '0' before it gives 2 outputs",
        ),
        ({"0.weight": torch.ones(2, 2)}, "not supported yet: 1 linear layer "),
        (
            {"0.weight": torch.ones(2, 2), "0.bias": torch.ones(3), "2.weight": torch.ones(1, 2)},
            "b has shape (3,)",
        ),
        (
            {"0.weight": torch.full((2, 2), float("nan")), "2.weight": torch.ones(1, 2)},
            "NaN or Inf",
        ),
        (
            {"0.weight": torch.ones(2, 2, dtype=torch.complex64), "2.weight": torch.ones(1, 2)},
            "complex",
        ),
        ({"model": {"0.weight": torch.ones(2, 2)}, "epoch": 3}, "not a tensor"),
        ([torch.ones(2, 2), torch.ones(1, 2)], "holds a list, not a state dict"),
    ],
)
def test_bad_state_dicts(tmp_path: Path, content: object, expected: str) -> None:
    path = tmp_path / "model.pt"
    torch.save(content, path)
    assert expected in _refusal(path, activation="relu")


def test_unknown_activation_name(tmp_path: Path) -> None:
    assert "unknown activation 'swish'" in _refusal(_saved(tmp_path, ".pt"), activation="swish")


# --- safetensors ---------------------------------------------------------------------------


def test_safetensors_metadata_and_half_precision(tmp_path: Path) -> None:
    net = _network()
    path = tmp_path / "model.safetensors"
    tensors = {"0.weight": torch.tensor(net.W).half(), "2.weight": torch.tensor(net.A).bfloat16()}
    save_torch_file(tensors, path, metadata={"activation": "sigmoid", "format": "pt"})
    loaded = load_model(path)
    assert loaded.activation == get_activation("sigmoid")
    np.testing.assert_array_equal(loaded.W, tensors["0.weight"].double().numpy())
    np.testing.assert_array_equal(loaded.A, tensors["2.weight"].double().numpy())
    assert load_model(path, activation="sigmoid").activation == loaded.activation
    assert "stores activation 'sigmoid', but 'tanh' was requested" in _refusal(
        path, activation="tanh"
    )


def test_safetensors_without_metadata_needs_an_activation(tmp_path: Path) -> None:
    net = _network()
    path = tmp_path / "model.safetensors"
    save_file({"0.weight": net.W, "2.weight": net.A}, path)
    assert "does not record its activation" in _refusal(path)
    assert load_model(path, activation="relu").activation == get_activation("relu")
    assert load_model(path, activation="gelu").activation == get_activation("gelu")
    save_file({"0.weight": net.W, "2.weight": net.A}, path, metadata={"activation": "swish"})
    assert "unknown activation 'swish'" in _refusal(path)


# --- npz -----------------------------------------------------------------------------------


def test_npz_minimal_with_vector_output(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    W, A = np.arange(6.0).reshape(3, 2), np.array([1.0, -2.0, 0.5])
    np.savez(path, W=W, A=A)
    assert "does not record its activation" in _refusal(path)
    net = load_model(path, activation="relu")
    assert (net.d, net.k, net.m) == (2, 3, 1)
    np.testing.assert_array_equal(net.A, A[None, :])
    assert not net.b.any() and not net.c.any()
    assert net.activation == get_activation("relu")


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"A": np.ones((1, 2))}, "missing array 'W'"),
        (
            {"W": np.ones((2, 2)), "A": np.ones((1, 2)), "W2": np.ones(2)},
            "mixes the two-layer names ('A') with the numbered ones ('W2')",
        ),
        ({"W1": np.ones((2, 2)), "W3": np.ones((1, 2))}, "array 'W3' but no 'W2'"),
        ({"b1": np.ones(2)}, "array 'b1' has no weight matrix 'W1'"),
        ({"W1": np.ones((2, 2))}, "not supported yet: 1 linear layer "),
        ({"W": np.ones((2, 2)), "A": np.ones((1, 3))}, "expected (·, 2) to follow W (2, 2)"),
        ({"W": np.ones((2, 2)), "A": np.ones((1, 2)), "c": np.ones(2)}, "c has shape (2,)"),
        ({"W": np.array([[1.0, np.inf]]), "A": np.ones((1, 1))}, "NaN or Inf"),
        ({"W": np.ones((2, 2)) * 1j, "A": np.ones((1, 2))}, "array 'W' has dtype complex128"),
        ({"W": np.array([["a"]]), "A": np.ones((1, 1))}, "array 'W' has dtype <U1"),
        (
            {"W": np.ones((2, 2)), "A": np.ones((1, 2)), "activation": np.array(3)},
            "array 'activation' must be one string",
        ),
        (
            {"W": np.ones((2, 2)), "A": np.ones((1, 2)), "activation": np.array("swish")},
            "unknown activation 'swish'",
        ),
        ({"W": np.array([None, 1.0]), "A": np.ones((1, 2))}, "allow_pickle=False"),
    ],
)
def test_bad_npz(tmp_path: Path, arrays: dict[str, np.ndarray], expected: str) -> None:
    path = tmp_path / "model.npz"
    np.savez(path, **arrays)
    assert expected in _refusal(path, activation="relu")


# --- MATLAB (LipSDP) -----------------------------------------------------------------------


@pytest.mark.skipif(not LIPSDP.is_dir(), reason="LipSDP example weights are not available")
def test_lipsdp_mnist_weights() -> None:
    path = LIPSDP / "mnist_weights.mat"
    net = load_model(path)
    assert (net.d, net.k, net.m) == (784, 50, 10)
    weights = scipy.io.loadmat(path)["weights"]
    np.testing.assert_array_equal(net.W, weights[0, 0])
    np.testing.assert_array_equal(net.A, weights[0, 1])
    assert not net.b.any() and not net.c.any()
    assert net.activation == get_activation("relu")


@pytest.mark.skipif(not LIPSDP.is_dir(), reason="LipSDP example weights are not available")
def test_lipsdp_deep_random_weights() -> None:
    path = LIPSDP / "random_weights.mat"
    net = load_model(path)
    assert (net.d, net.widths, net.m, net.depth) == (2, (10, 30, 20), 2, 4)
    for W, stored in zip(net.weights, scipy.io.loadmat(path)["weights"][0], strict=True):
        np.testing.assert_array_equal(W, stored)
    assert not any(b.any() for b in net.biases)


def _cell(*arrays: np.ndarray) -> np.ndarray:
    cell = np.empty((1, len(arrays)), dtype=object)
    for index, array in enumerate(arrays):
        cell[0, index] = array
    return cell


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"W": np.ones((2, 2))}, "unexpected variable 'W'"),
        ({"activation": "relu"}, "no variable 'weights'"),
        ({"weights": np.ones((2, 2))}, "'weights' must be a cell array"),
        ({"weights": _cell(np.ones((3, 2)))}, "not supported yet: 1 linear layer "),
        ({"weights": _cell(np.ones((3, 2)), np.ones((1, 3)) * 1j)}, "has dtype complex128"),
        (
            {"weights": _cell(np.ones((3, 2)), np.ones((1, 3))), "biases": _cell(np.ones(3))},
            "1 biases for 2 weight matrices",
        ),
        (
            {
                "weights": _cell(np.ones((3, 2)), np.ones((1, 3))),
                "biases": _cell(np.ones((3, 3)), np.ones(1)),
            },
            "biases{1} must be a vector",
        ),
        ({"weights": _cell(np.full((3, 2), np.nan), np.ones((1, 3)))}, "NaN or Inf"),
    ],
)
def test_bad_mat(tmp_path: Path, variables: dict[str, object], expected: str) -> None:
    path = tmp_path / "model.mat"
    scipy.io.savemat(path, variables)
    assert expected in _refusal(path)


# --- ONNX ----------------------------------------------------------------------------------


def _onnx_file(tmp_path: Path, nodes, initializers, inputs=("x",), opset: int = 20) -> Path:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["n", 3]) for name in inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])],
        [
            numpy_helper.from_array(np.asarray(value, np.float32), name)
            for name, value in initializers.items()
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    return path


def _float32_weights() -> dict[str, np.ndarray]:
    net = _network(d=3, k=4, m=2)
    return {name: getattr(net, name).astype(np.float32) for name in ("W", "b", "A", "c")}


def _check_against_reference(path: Path, expected_activation: str) -> None:
    net = load_model(path)
    assert net.activation == get_activation(expected_activation)
    x = np.random.default_rng(3).normal(size=(5, 3)).astype(np.float32)
    (output,) = ReferenceEvaluator(str(path)).run(None, {"x": x})
    np.testing.assert_allclose(net(x.astype(np.float64)), output, rtol=1e-5, atol=1e-5)


def test_onnx_matmul_add_and_leaky_relu(tmp_path: Path) -> None:
    w = _float32_weights()
    nodes = [
        helper.make_node("MatMul", ["x", "Wt"], ["h0"]),
        helper.make_node("Add", ["b", "h0"], ["h"]),
        helper.make_node("LeakyRelu", ["h"], ["z"], alpha=0.2),
        helper.make_node("MatMul", ["z", "At"], ["y0"]),
        helper.make_node("Add", ["y0", "c"], ["y"]),
    ]
    path = _onnx_file(tmp_path, nodes, {"Wt": w["W"].T, "b": w["b"], "At": w["A"].T, "c": w["c"]})
    _check_against_reference(path, f"leaky_relu({float(np.float32(0.2))!r})")


def test_onnx_gemm_without_transpose_constant_nodes_and_elu(tmp_path: Path) -> None:
    w = _float32_weights()
    constant = helper.make_node(
        "Constant", [], ["Wt"], value=numpy_helper.from_array(w["W"].T.copy(), "Wt")
    )
    nodes = [
        constant,
        helper.make_node("Gemm", ["x", "Wt", "b"], ["h"]),
        helper.make_node("Elu", ["h"], ["z"], alpha=0.5),
        helper.make_node("Gemm", ["z", "A", "c"], ["y"], transB=1, alpha=1.0),
    ]
    path = _onnx_file(tmp_path, nodes, {"b": w["b"], "A": w["A"], "c": w["c"][None, :]})
    _check_against_reference(path, "elu(0.5)")


def test_onnx_initializers_listed_as_inputs(tmp_path: Path) -> None:
    w = _float32_weights()
    nodes = [
        helper.make_node("Gemm", ["x", "W"], ["h"], transB=1),
        helper.make_node("Softplus", ["h"], ["z"]),
        helper.make_node("Gemm", ["z", "A"], ["y"], transB=1),
    ]
    path = _onnx_file(tmp_path, nodes, {"W": w["W"], "A": w["A"]}, opset=11)
    model = onnx.load(path)
    model.graph.input.extend(
        helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("W", "A")
    )
    onnx.save(model, path)
    _check_against_reference(path, "softplus")


def _gemm_chain(activation: onnx.NodeProto, first: dict | None = None) -> list[onnx.NodeProto]:
    return [
        helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1, **(first or {})),
        activation,
        helper.make_node("Gemm", ["z", "A", "c"], ["y"], transB=1),
    ]


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        (_gemm_chain(helper.make_node("Abs", ["h"], ["z"])), "unsupported ONNX operator 'Abs'"),
        (
            _gemm_chain(helper.make_node("Gelu", ["h"], ["z"], approximate="tanh")),
            "approximate = 'none'",
        ),
        (_gemm_chain(helper.make_node("Relu", ["h"], ["z"]), {"alpha": 2.0}), "alpha = beta = 1"),
        (_gemm_chain(helper.make_node("Relu", ["h"], ["z"]), {"transA": 1}), "transA = 0"),
        (
            _gemm_chain(helper.make_node("Elu", ["h"], ["z"], gamma=1.0)),
            "Elu attribute 'gamma' is not supported",
        ),
        (
            _gemm_chain(helper.make_node("Relu", ["h"], ["z"], domain="com.example")),
            "unsupported ONNX operator com.example.Relu",
        ),
        (_gemm_chain(helper.make_node("PRelu", ["h", "slopes"], ["z"])), "one constant slope"),
        (
            [
                *_gemm_chain(helper.make_node("Relu", ["h"], ["z"]))[:2],
                helper.make_node("Gemm", ["z", "A", "c"], ["y1"], transB=1),
                helper.make_node("Tanh", ["y1"], ["y2"]),
                helper.make_node("Gemm", ["y2", "V"], ["y"], transB=1),
            ],
            "different activations between layers ('relu' and 'tanh')",
        ),
        (
            [
                helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1),
                helper.make_node("Relu", ["h"], ["z"]),
                helper.make_node("Tanh", ["h"], ["dead"]),
                helper.make_node("Gemm", ["z", "A", "c"], ["y"], transB=1),
            ],
            "not a single chain",
        ),
        (
            [
                helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1),
                helper.make_node("Add", ["h", "h"], ["z"]),
                helper.make_node("Gemm", ["z", "A", "c"], ["y"], transB=1),
            ],
            "2 data inputs",
        ),
        (
            [
                helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1),
                helper.make_node("Gemm", ["h", "A", "c"], ["y"], transB=1),
            ],
            "expected linear, activation, linear, …, linear; got Gemm, Gemm",
        ),
        (
            [
                helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1),
                helper.make_node("Add", ["h", "b"], ["h2"]),
                helper.make_node("Relu", ["h2"], ["z"]),
                helper.make_node("Gemm", ["z", "A", "c"], ["y"], transB=1),
            ],
            "Add of one constant right after a bias-free MatMul or Gemm",
        ),
        (
            [
                helper.make_node("MatMul", ["x", "Wt"], ["h0"]),
                helper.make_node("Add", ["h0", "V"], ["h"]),
                helper.make_node("Relu", ["h"], ["z"]),
                helper.make_node("Gemm", ["z", "A", "c"], ["y"], transB=1),
            ],
            "a bias broadcasting to shape (1, 4)",
        ),
        (
            [
                helper.make_node("Gemm", ["W", "x", "b"], ["h"]),
                helper.make_node("Relu", ["h"], ["z"]),
                helper.make_node("Gemm", ["z", "A", "c"], ["y"], transB=1),
            ],
            "data × constant matrix",
        ),
    ],
)
def test_bad_onnx_graphs(tmp_path: Path, nodes: list[onnx.NodeProto], expected: str) -> None:
    w = _float32_weights()
    extra = {"slopes": np.array([0.1, 0.2, 0.1, 0.1]), "V": np.ones((2, 2)), "Wt": w["W"].T}
    path = _onnx_file(tmp_path, nodes, {**w, **extra})
    assert expected in _refusal(path)


def test_onnx_with_two_inputs_is_refused(tmp_path: Path) -> None:
    nodes = _gemm_chain(helper.make_node("Relu", ["h"], ["z"]))
    path = _onnx_file(tmp_path, nodes, _float32_weights(), inputs=("x", "x2"))
    assert "expected one graph input, found 2" in _refusal(path)


def test_onnx_nan_weights(tmp_path: Path) -> None:
    weights = {**_float32_weights(), "c": np.array([np.nan, 0.0])}
    path = _onnx_file(tmp_path, _gemm_chain(helper.make_node("Relu", ["h"], ["z"])), weights)
    assert "NaN or Inf" in _refusal(path)


def test_onnx_activation_conflict(tmp_path: Path) -> None:
    path = _saved(tmp_path, ".onnx", _network("tanh"))
    assert "stores activation 'tanh', but 'relu' was requested" in _refusal(path, activation="relu")


# --- files that are not models -------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_missing_empty_and_directory(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"model{suffix}"
    assert _refusal(path).endswith(": no such file")
    path.touch()
    assert _refusal(path).endswith(": empty file")
    path.unlink()
    path.mkdir()
    assert "is a directory" in _refusal(path)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_text_and_random_bytes(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"model{suffix}"
    path.write_text("W = [[1, 2], [3, 4]]\nA = [[1, 1]]\n")
    _refusal(path)
    for seed in range(8):
        path.write_bytes(np.random.default_rng(seed).bytes(4096))
        _refusal(path)


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.95])
def test_truncated(tmp_path: Path, suffix: str, fraction: float) -> None:
    path = _saved(tmp_path, suffix, _network(d=20, k=30, m=4))
    content = path.read_bytes()
    path.write_bytes(content[: int(len(content) * fraction)])
    _refusal(path, activation="relu")


def test_content_that_contradicts_the_suffix(tmp_path: Path) -> None:
    npz = _saved(tmp_path, ".npz")
    for suffix, name in (
        (".safetensors", "safetensors"),
        (".mat", "MATLAB (LipSDP layout)"),
        (".onnx", "ONNX"),
        (".pt", "PyTorch"),
    ):
        expected = f"the content looks like npz data, not {name} as the suffix '{suffix}' says"
        path = tmp_path / f"other{suffix}"
        shutil.copy(npz, path)
        assert expected in _refusal(path)


def test_unknown_suffix_and_content(tmp_path: Path) -> None:
    path = tmp_path / "model.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    assert "unknown model format (suffix '.h5'" in _refusal(path)
    with pytest.raises(ModelFormatError, match=r"model\.txt: unknown model format"):
        save_model(_network(), tmp_path / "model.txt")


def test_save_into_missing_directory(tmp_path: Path) -> None:
    for suffix in SUFFIXES:
        path = tmp_path / "absent" / f"model{suffix}"
        with pytest.raises(ModelFormatError) as error:
            save_model(_network(), path)
        assert str(error.value).startswith(f"{path}: cannot write the file")
        assert "\n" not in str(error.value)


def test_safetensors_whose_first_byte_looks_like_pickle(tmp_path: Path) -> None:
    """Regression: a header length ≡ 128 (mod 256) starts the file with 0x80, pickle's opcode."""
    net = _network("tanh")
    path = tmp_path / "model.safetensors"
    for padding in range(256):
        state = {"0.weight": net.W, "0.bias": net.b, "2.weight": net.A, "2.bias": net.c}
        save_file(state, path, metadata={"activation": "tanh", "note": "x" * padding})
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no padding gave a header length ≡ 128 (mod 256)")
    _assert_same(net, load_model(path))
    renamed = path.with_suffix(".bin")
    shutil.copy(path, renamed)
    _assert_same(net, load_model(renamed))


def test_zip_signature_then_garbage(tmp_path: Path) -> None:
    for suffix in (".pt", ".npz", ".bin"):
        path = tmp_path / f"model{suffix}"
        path.write_bytes(b"PK\x03\x04" + np.random.default_rng(0).bytes(500))
        assert _refusal(path, activation="relu").endswith(
            "damaged or truncated zip archive (its directory cannot be read)"
        )
