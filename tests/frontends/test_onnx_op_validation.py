"""Graphs that ONNX shape inference lets through but no runtime runs are refused, naming the node
and the attribute or operand (issue 15): each was costed as valid, with exit 0."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from estimator.errors import ModelLoadError
from estimator.frontends.onnx_frontend import MAX_TENSOR_BYTES, load_onnx


def _model(nodes: list[onnx.NodeProto], inputs, inits, out_type=TensorProto.FLOAT):  # type: ignore[no-untyped-def]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(nodes[-1].output[0], out_type, None)],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 9
    return m


def _i64(name: str, v: object) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(v, np.int64), name)


def _f32(name: str, v: object) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(v, np.float32), name)


def _range(delta: int) -> onnx.ModelProto:
    nodes = [
        helper.make_node("Range", ["s", "l", "d"], ["r"], name="range0"),
        helper.make_node("Relu", ["r"], ["y"], name="relu0"),
    ]
    return _model(nodes, [], [_i64("s", 0), _i64("l", 10), _i64("d", delta)], TensorProto.INT64)


def _resize(scales: list[float], **attrs: object) -> onnx.ModelProto:
    node = helper.make_node("Resize", ["x", "", "sc"], ["y"], name="resize0", **attrs)  # type: ignore[arg-type]
    return _model([node], [("x", [1, 3, 8, 8])], [_f32("sc", scales)])


def _pool(pads: list[int]) -> onnx.ModelProto:
    node = helper.make_node("MaxPool", ["x"], ["y"], name="pool0", kernel_shape=[2, 2], pads=pads)
    return _model([node], [("x", [1, 3, 8, 8])], [])


def _lstm(input_size: int) -> onnx.ModelProto:
    node = helper.make_node("LSTM", ["x", "w", "r"], ["y"], name="lstm0", hidden_size=8)
    w = _f32("w", np.zeros((1, 32, input_size)))
    return _model([node], [("x", [5, 1, 4])], [w, _f32("r", np.zeros((1, 32, 8)))])


def _refused(model: onnx.ModelProto, *needles: str) -> None:
    with pytest.raises(ModelLoadError) as info:
        load_onnx(model, name="m.onnx")
    msg = str(info.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, msg


def test_range_with_delta_zero_is_refused_and_a_nonzero_delta_loads() -> None:
    _refused(_range(0), "'range0'", "delta")
    assert load_onnx(_range(1), name="m.onnx").nodes


def test_a_tensor_larger_than_any_device_is_refused() -> None:
    nodes = [
        helper.make_node("ConstantOfShape", ["s"], ["c"], name="cs0"),
        helper.make_node("Relu", ["c"], ["y"], name="relu0"),
    ]
    _refused(_model(nodes, [], [_i64("s", [2**40, 2**40])]), "'relu0'", "'c'", "bytes")
    small = _model(nodes, [], [_i64("s", [4, 4])])
    assert all(t.nbytes <= MAX_TENSOR_BYTES for n in load_onnx(small).nodes for t in n.outputs)


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        (_resize([1, 1, 2, 2], mode="bogus"), "mode 'bogus'"),
        (_resize([1, 1, 2, 2], coordinate_transformation_mode="x"), "coordinate_transformation"),
        (_resize([1, 1, 0, 0]), "scales"),
        (_pool([3, 3, 3, 3]), "kernel_shape"),
        (_lstm(5), "W of shape [1, 32, 5]"),
    ],
    ids=["resize-mode", "resize-coords", "resize-scale-0", "pool-pads-vs-kernel", "lstm-W"],
)
def test_invalid_attributes_name_the_node_and_attribute(
    model: onnx.ModelProto, needle: str
) -> None:
    _refused(model, "has invalid attributes", needle)


def test_the_valid_neighbours_still_load() -> None:
    for model in (_resize([1, 1, 2, 2]), _pool([1, 1, 1, 1]), _lstm(4)):
        assert load_onnx(model, name="m.onnx").nodes
