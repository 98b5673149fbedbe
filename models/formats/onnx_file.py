"""ONNX models: a chain input → linear → activation → linear → … → linear → output, with one
activation throughout (two linear layers give a `TwoLayerNetwork`, more a `DeepNetwork`).

Linear layers are ``Gemm`` (alpha = beta = 1, transA = 0, any transB) or ``MatMul`` optionally
followed by ``Add``; activations are ``Relu``, ``LeakyRelu``, ``PRelu`` (one shared slope),
``Tanh``, ``Sigmoid``, ``Softplus``, ``Elu`` and ``Gelu`` (opset 20, approximate = "none");
``Identity`` nodes pass their input on.  Every operator must exist in the opset the model
imports for the default domain (a ``Gelu`` under opset 11 is refused).  Weights come from
initializers or ``Constant`` nodes, inline or in external data files inside the model's folder
(as ``torch.onnx.export`` writes ``model.onnx.data``; https://onnx.ai/onnx/repo-docs/ExternalData.html).
Operator semantics: https://onnx.ai/onnx/operators/.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path, PurePosixPath, PureWindowsPath

import networkx as nx
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import Network
from ..activations import Activation
from ..deep import linear_layers, network_from_layers
from .base import (
    Format,
    LoadOptions,
    activation_text,
    one_activation,
    real_array,
    settle_activation,
)
from .errors import ModelFormatError, layer_count_error, library_errors

__all__ = ["ONNX"]

_OPSET = 20  # the first opset with Gelu
_DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass
class _Linear:
    """y = weight·x + bias, weight out×in (bias None until an ``Add`` supplies it)."""

    weight: np.ndarray
    bias: np.ndarray | None = None


def _node(node: onnx.NodeProto) -> str:
    return f"{node.op_type} node {node.name!r}" if node.name else f"{node.op_type} node"


def _require(node: onnx.NodeProto, condition: bool, what: str) -> None:
    if not condition:
        raise ModelFormatError(f"{_node(node)}: only {what} is supported")


def _read(path: Path) -> onnx.ModelProto:
    with library_errors("not a readable ONNX model"):
        model = onnx.load(path, format="protobuf", load_external_data=False)
    if not model.graph.node:
        raise ModelFormatError("not an ONNX model with a graph (no nodes found)")
    return model


def _opset(model: onnx.ModelProto) -> int:
    """The version of the default operator domain that the model imports."""
    versions = [entry.version for entry in model.opset_import if entry.domain in _DEFAULT_DOMAINS]
    if len(versions) != 1:
        raise ModelFormatError(f"expected one opset of the default ONNX domain, found {versions}")
    newest = onnx.defs.onnx_opset_version()
    if not 1 <= versions[0] <= newest:
        raise ModelFormatError(f"opset {versions[0]} is not one this onnx knows (1 to {newest})")
    return versions[0]


def _check_operators(graph: onnx.GraphProto, opset: int) -> None:
    """Every node is an operator of the default domain that exists in ``opset``."""
    for node in graph.node:
        if node.domain not in _DEFAULT_DOMAINS:
            raise ModelFormatError(f"unsupported ONNX operator {node.domain}.{node.op_type}")
        try:
            onnx.defs.get_schema(node.op_type, opset, "")
        except onnx.defs.SchemaError:
            raise ModelFormatError(
                f"{_node(node)}: operator {node.op_type} does not exist in opset {opset}, "
                "the one the model imports"
            ) from None


def _inside(folder: Path, location: str, tensor: str) -> Path:
    """The external data file ``location``, which must lie inside ``folder``."""
    relative = PurePosixPath(location.replace("\\", "/"))
    escapes = relative.is_absolute() or PureWindowsPath(location).drive or ".." in relative.parts
    if not location or escapes:
        raise ModelFormatError(
            f"{tensor}: external data location {location!r} is not a relative path inside "
            "the model's folder"
        )
    file = (folder / relative).resolve()
    if not file.is_relative_to(folder.resolve()):
        raise ModelFormatError(
            f"{tensor}: external data location {location!r} leads out of the model's folder"
        )
    if not file.is_file():
        raise ModelFormatError(f"{tensor}: external data file {location!r} is missing")
    return file


def _byte_count(value: str, what: str, tensor: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise ModelFormatError(f"{tensor}: external data {what} {value!r} is not a byte count")
    return int(value)


def _external_bytes(tensor: onnx.TensorProto, folder: Path) -> bytes:
    """The bytes of ``tensor`` in its external file: ``length`` of them from ``offset``, as
    many as its shape and type need, matching its SHA-1 ``checksum`` if it has one."""
    name = f"tensor {tensor.name!r}"
    info = {entry.key: entry.value for entry in tensor.external_data}
    file = _inside(folder, info.get("location", ""), name)
    offset = _byte_count(info.get("offset", "0"), "offset", name)
    with library_errors(f"{name} has no fixed-size numeric type"):
        item = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    needed = item * math.prod(tensor.dims)
    length = _byte_count(info.get("length", str(needed)), "length", name)
    if length != needed:
        raise ModelFormatError(
            f"{name}: external data length {length} bytes, its shape needs {needed}"
        )
    if offset + length > file.stat().st_size:
        raise ModelFormatError(
            f"{name}: external data file {file.name!r} is too short "
            f"(bytes {offset} to {offset + length} needed)"
        )
    with library_errors(f"cannot read the external data of {name}"), open(file, "rb") as data:
        data.seek(offset)
        content = data.read(length)
    if "checksum" in info and hashlib.sha1(content).hexdigest() != info["checksum"]:
        raise ModelFormatError(f"{name}: external data does not match its checksum")
    return content


def _tensor(tensor: onnx.TensorProto, folder: Path) -> np.ndarray:
    """The values of ``tensor``, read from its external data file (inside ``folder``) if any."""
    if tensor.data_location == TensorProto.EXTERNAL:
        inline = TensorProto()
        inline.CopyFrom(tensor)
        inline.ClearField("external_data")
        inline.data_location = TensorProto.DEFAULT
        inline.raw_data = _external_bytes(tensor, folder)
        tensor = inline
    with library_errors(f"cannot decode tensor {tensor.name!r}"):
        value = numpy_helper.to_array(tensor)
    return real_array(f"tensor {tensor.name!r}", value)


def _constants(graph: onnx.GraphProto, folder: Path) -> dict[str, np.ndarray]:
    """Initializers and the outputs of ``Constant`` nodes holding a tensor."""
    constants = {tensor.name: _tensor(tensor, folder) for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            values = {attribute.name: attribute for attribute in node.attribute}
            if set(values) != {"value"}:
                raise ModelFormatError(f"{_node(node)} must hold a 'value' tensor")
            constants[node.output[0]] = _tensor(values["value"].t, folder)
    return constants


def _data_input(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> str:
    """The one input of ``node`` that is neither a constant nor omitted."""
    data = [name for name in node.input if name and name not in constants]
    if len(data) != 1 or len(node.output) != 1:
        raise ModelFormatError(
            f"{_node(node)} has {len(data)} data inputs and "
            f"{len(node.output)} outputs (a chain needs one of each)"
        )
    return data[0]


def _only(names: list[str], what: str) -> str:
    if len(names) != 1:
        raise ModelFormatError(f"expected one graph {what}, found {len(names)}")
    return names[0]


def _chain(graph: onnx.GraphProto, constants: dict[str, np.ndarray]) -> list[onnx.NodeProto]:
    """The operators from the graph input to its output, which must form a single path.

    Vertices are tensor names and each operator is an edge from its data input to its output,
    so the graph is a chain exactly when its topological order is a simple path through all.
    """
    source = _only([value.name for value in graph.input if value.name not in constants], "input")
    target = _only([value.name for value in graph.output], "output")
    operators = [node for node in graph.node if node.op_type != "Constant"]
    tensors = nx.DiGraph()
    tensors.add_node(source)
    for node in operators:
        tensors.add_edge(_data_input(node, constants), node.output[0], node=node)
    if not nx.is_directed_acyclic_graph(tensors):
        raise ModelFormatError("the ONNX graph has a cycle")
    order = list(nx.topological_sort(tensors))
    if (
        order[0] != source
        or order[-1] != target
        or len(order) != len(operators) + 1
        or not nx.is_simple_path(tensors, order)
    ):
        raise ModelFormatError("the ONNX graph is not a single chain from its input to its output")
    return [tensors.edges[edge]["node"] for edge in pairwise(order)]


def _attributes(node: onnx.NodeProto, defaults: dict[str, object]) -> dict[str, object]:
    """Attribute values of ``node`` over ``defaults``; an attribute not listed is refused."""
    values = dict(defaults)
    for attribute in node.attribute:
        if attribute.name not in defaults:
            raise ModelFormatError(f"{node.op_type} attribute {attribute.name!r} is not supported")
        value = helper.get_attribute_value(attribute)
        values[attribute.name] = value.decode() if isinstance(value, bytes) else value
    return values


def _matrix(node: onnx.NodeProto, constants: dict[str, np.ndarray], data: str) -> np.ndarray:
    """The constant second operand of a ``Gemm``/``MatMul`` whose first operand is the data."""
    operands_fit = len(node.input) >= 2 and node.input[0] == data and node.input[1] in constants
    _require(node, operands_fit, "data × constant matrix")
    matrix = constants[node.input[1]]
    _require(node, matrix.ndim == 2, "a 2-D weight matrix")
    return matrix


def _bias(node: onnx.NodeProto, value: np.ndarray, size: int) -> np.ndarray:
    """A constant that broadcasts to one row of length ``size``, as that row."""
    try:
        row = np.broadcast_to(value, (1, size))
    except ValueError:
        row = None
    _require(node, row is not None, f"a bias broadcasting to shape (1, {size})")
    return row[0].copy()


def _gemm(node: onnx.NodeProto, constants: dict[str, np.ndarray], data: str) -> _Linear:
    """Gemm: Y = X·B' + C with B' = Bᵀ if transB, so the layer weight is B' transposed."""
    options = _attributes(node, {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0})
    _require(node, options["alpha"] == 1.0 and options["beta"] == 1.0, "alpha = beta = 1")
    _require(node, options["transA"] == 0, "transA = 0")
    matrix = _matrix(node, constants, data)
    weight = matrix if options["transB"] else matrix.T
    has_bias = len(node.input) > 2 and node.input[2] != ""
    bias = _bias(node, constants[node.input[2]], weight.shape[0]) if has_bias else None
    return _Linear(weight, bias)


def _matmul(node: onnx.NodeProto, constants: dict[str, np.ndarray], data: str) -> _Linear:
    """MatMul: Y = X·B, so the layer weight is Bᵀ."""
    _attributes(node, {})
    return _Linear(_matrix(node, constants, data).T)


def _prelu_slope(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> float:
    _attributes(node, {})
    slope = constants.get(node.input[1]) if len(node.input) == 2 else None
    _require(
        node,
        slope is not None and slope.size > 0 and np.all(slope == slope.flat[0]),
        "one constant slope shared by all neurons",
    )
    return float(slope.flat[0])


def _gelu_spec(node: onnx.NodeProto) -> str:
    approximate = _attributes(node, {"approximate": "none"})["approximate"]
    _require(node, approximate == "none", "approximate = 'none' (the exact erf form)")
    return "gelu"


_SpecReader = Callable[[onnx.NodeProto, dict[str, np.ndarray]], str]


def _plain(spec: str) -> _SpecReader:
    """The reader of an activation operator without attributes."""

    def read(node: onnx.NodeProto, _: dict[str, np.ndarray]) -> str:
        _attributes(node, {})
        return spec

    return read


_ACTIVATIONS: dict[str, _SpecReader] = {
    "Relu": _plain("relu"),
    "Tanh": _plain("tanh"),
    "Sigmoid": _plain("sigmoid"),
    "Softplus": _plain("softplus"),
    "LeakyRelu": lambda node, _: f"leaky_relu({_attributes(node, {'alpha': 0.01})['alpha']!r})",
    "PRelu": lambda node, constants: f"leaky_relu({_prelu_slope(node, constants)!r})",
    "Elu": lambda node, _: f"elu({_attributes(node, {'alpha': 1.0})['alpha']!r})",
    "Gelu": lambda node, _: _gelu_spec(node),
}


def _add_bias(
    node: onnx.NodeProto, constants: dict[str, np.ndarray], layers: list[_Linear | str]
) -> None:
    """``Add`` of a constant completes the bias-free ``MatMul`` or ``Gemm`` right before it."""
    _attributes(node, {})
    previous = layers[-1] if layers else None
    addends = [constants[name] for name in node.input if name in constants]
    _require(
        node,
        isinstance(previous, _Linear) and previous.bias is None and len(addends) == 1,
        "Add of one constant right after a bias-free MatMul or Gemm",
    )
    previous.bias = _bias(node, addends[0], previous.weight.shape[0])


def _layers(chain: list[onnx.NodeProto], constants: dict[str, np.ndarray]) -> list[_Linear | str]:
    """Linear layers and activation specs, in the order of the chain."""
    layers: list[_Linear | str] = []
    for node in chain:
        data = _data_input(node, constants)
        if node.op_type == "Gemm":
            layers.append(_gemm(node, constants, data))
        elif node.op_type == "MatMul":
            layers.append(_matmul(node, constants, data))
        elif node.op_type == "Add":
            _add_bias(node, constants, layers)
        elif node.op_type == "Identity":
            _attributes(node, {})
        elif node.op_type in _ACTIVATIONS:
            layers.append(_ACTIVATIONS[node.op_type](node, constants))
        else:
            raise ModelFormatError(f"unsupported ONNX operator {node.op_type!r}")
    return layers


def load(path: Path, options: LoadOptions) -> Network:
    """The network computed by the ONNX graph in ``path``."""
    model = _read(path)
    graph = model.graph
    _check_operators(graph, _opset(model))
    constants = _constants(graph, path.parent)
    chain = _chain(graph, constants)
    layers = _layers(chain, constants)
    linear = [layer for layer in layers if isinstance(layer, _Linear)]
    if len(linear) < 2:
        raise layer_count_error(len(linear))
    alternating = all(isinstance(layer, _Linear) == (i % 2 == 0) for i, layer in enumerate(layers))
    if len(layers) != 2 * len(linear) - 1 or not alternating:
        operators = ", ".join(node.op_type for node in chain)
        raise ModelFormatError(f"expected linear, activation, linear, …, linear; got {operators}")
    return network_from_layers(
        [layer.weight for layer in linear],
        [layer.bias for layer in linear],
        settle_activation(options.activation, one_activation(layers[1::2])),
    )


def _activation_node(
    activation: Activation, source: str, target: str
) -> tuple[onnx.NodeProto, list[onnx.TensorProto]]:
    """source → target, with any initializer it needs.  Leaky ReLU becomes ``PRelu`` with a
    float64 slope, because ``LeakyRelu``'s alpha attribute is float32 and would round it."""
    name, parameter = activation.name, activation.parameter
    plain = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "gelu": "Gelu"}
    if name in plain or (name == "softplus" and parameter is None):
        return helper.make_node(plain.get(name, "Softplus"), [source], [target]), []
    if name == "leaky_relu":
        slope = numpy_helper.from_array(np.array([parameter], dtype=np.float64), f"{target}_slope")
        return helper.make_node("PRelu", [source, slope.name], [target]), [slope]
    alpha = 1.0 if parameter is None else parameter
    if name == "elu" and float(np.float32(alpha)) == alpha:
        return helper.make_node("Elu", [source], [target], alpha=alpha), []
    raise ModelFormatError(f"activation {activation_text(activation)!r} has no exact ONNX operator")


def _graph_body(net: Network) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """Nodes and initializers: Gemm (weight ``W<l>``, bias ``b<l>``, transB = 1) into
    ``hidden<l>``, the activation into ``activated<l>``, …, the last Gemm into ``output``."""
    weights, biases = linear_layers(net)
    nodes, initializers, data = [], [], "input"
    for index, (W, b) in enumerate(zip(weights, biases, strict=True), start=1):
        last = index == len(weights)
        hidden = "output" if last else f"hidden{index}"
        initializers += [
            numpy_helper.from_array(W, f"W{index}"),
            numpy_helper.from_array(b, f"b{index}"),
        ]
        nodes.append(helper.make_node("Gemm", [data, f"W{index}", f"b{index}"], [hidden], transB=1))
        if not last:
            data = f"activated{index}"
            node, extra = _activation_node(net.activation, hidden, data)
            nodes.append(node)
            initializers += extra
    return nodes, initializers


def save(net: Network, path: Path) -> None:
    """A float64 opset-20 graph: Gemm → activation → Gemm → … → Gemm."""
    nodes, initializers = _graph_body(net)
    graph = helper.make_graph(
        nodes,
        "network",
        [helper.make_tensor_value_info("input", TensorProto.DOUBLE, ["batch", net.d])],
        [helper.make_tensor_value_info("output", TensorProto.DOUBLE, ["batch", net.m])],
        initializers,
    )
    opsets = [helper.make_opsetid("", _OPSET)]
    model = helper.make_model(
        graph,
        opset_imports=opsets,
        ir_version=helper.find_min_ir_version_for(opsets),
        producer_name="lipcert",
    )
    onnx.save(model, path, format="protobuf")


ONNX = Format(
    name="ONNX",
    suffixes=(".onnx",),
    kinds=frozenset({None}),
    load=load,
    save=save,
)
