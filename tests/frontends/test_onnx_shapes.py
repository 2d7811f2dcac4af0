"""The frontend's shape-inference fast path (issue 15): attribute-free unary float ops get their
input's shape and type without a call into onnx, and that must be exactly what onnx infers."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from estimator.analysis import analyze_graph
from estimator.frontends.onnx_frontend import load_onnx
from estimator.frontends.onnx_shapes import (
    SAME_SHAPE_UNARY,
    ShapeInferenceFailed,
    infer_node,
    same_shape_unary,
)
from estimator.frontends.onnx_types import tensor_type

OPSETS = range(11, 22)
FLOATS = (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16)
SHAPES = ((), (0,), (1, 16), (2, 3, 4, 5))


def _general(
    node: onnx.NodeProto, shape: tuple[int, ...], et: int, opset: int
) -> list[tuple[tuple[int, ...] | None, int]] | None:
    """onnx's own answer, None where onnx refuses the node."""
    types = {name: tensor_type(et, shape) for name in node.input if name}
    try:
        return infer_node(node, types, {}, [helper.make_opsetid("", opset)])
    except ShapeInferenceFailed:
        return None


@pytest.mark.parametrize("op", sorted(SAME_SHAPE_UNARY))
def test_fast_path_agrees_with_onnx_inference(op: str) -> None:
    node = helper.make_node(op, ["x"], ["y"], name="n")
    taken = 0
    for opset in OPSETS:
        for et in (*FLOATS, TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL):
            for shape in SHAPES:
                fast = same_shape_unary(node, shape, et, {"": opset})
                if fast is None:
                    continue
                taken += 1
                assert fast == [(shape, et)]
                assert _general(node, shape, et, opset) == fast, (opset, et, shape)
    # every op listed takes the fast path for float32 at the newest opset it exists in
    assert taken > 0


def test_fast_path_declines_what_it_cannot_answer_exactly() -> None:
    relu = helper.make_node("Relu", ["x"], ["y"])
    assert same_shape_unary(relu, (2, 3), TensorProto.FLOAT, {"": 17}) == [
        ((2, 3), TensorProto.FLOAT)
    ]
    # an integer input (Relu accepts int32 from opset 14 only): onnx decides
    assert same_shape_unary(relu, (2, 3), TensorProto.INT32, {"": 13}) is None
    assert _general(relu, (2, 3), TensorProto.INT32, 13) is None
    # an attribute, two inputs, a second output, a contrib domain, an op missing at the opset
    leaky = helper.make_node("LeakyRelu", ["x"], ["y"], alpha=0.2)
    assert same_shape_unary(leaky, (2, 3), TensorProto.FLOAT, {"": 17}) is None
    two_in = helper.make_node("Relu", ["x", "z"], ["y"])
    assert same_shape_unary(two_in, (2, 3), TensorProto.FLOAT, {"": 17}) is None
    two_out = helper.make_node("Relu", ["x"], ["y", "m"])
    assert same_shape_unary(two_out, (2, 3), TensorProto.FLOAT, {"": 17}) is None
    contrib = helper.make_node("Gelu", ["x"], ["y"], domain="com.microsoft")
    assert same_shape_unary(contrib, (2, 3), TensorProto.FLOAT, {"": 17}) is None
    gelu = helper.make_node("Gelu", ["x"], ["y"])  # ONNX Gelu since opset 20
    assert same_shape_unary(gelu, (2, 3), TensorProto.FLOAT, {"": 17}) is None
    assert same_shape_unary(gelu, (2, 3), TensorProto.FLOAT, {"": 20}) is not None


def test_tiny_chain_shapes_and_flops() -> None:
    # x [2, 3] -> Relu -> Sigmoid -> Tanh -> y: every tensor 2 x 3 = 6 float32 elements;
    # FLOPs 6 x (1 + 4 + 1) = 36 (max; neg, exp, add, div; tanh); bytes 3 x (24 + 24) = 144
    ops = ("Relu", "Sigmoid", "Tanh")
    names = ["x", "a", "b", "y"]
    nodes = [helper.make_node(op, [names[i]], [names[i + 1]], name=op) for i, op in enumerate(ops)]
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    g = load_onnx(model)
    assert [n.op for n in g.nodes] == list(ops)
    for n in g.nodes:
        assert [t.shape for t in n.outputs] == [(2, 3)]
        # the general path (onnx's inference) gives the same outputs
        assert _general(nodes[ops.index(n.op)], (2, 3), TensorProto.FLOAT, 17) == [
            ((2, 3), TensorProto.FLOAT)
        ]
    cost = analyze_graph(g)
    assert cost.flops == 36
    assert [nc.cost.flops for nc in cost.nodes] == [6, 24, 6]
    assert sum(nc.cost.bytes_total for nc in cost.nodes) == 144
