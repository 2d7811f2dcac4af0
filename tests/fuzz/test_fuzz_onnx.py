"""Property-based fuzzing of the ONNX loader (issue 15): mutations of small valid models.

The bases are built at test time (a Conv, a pool, a Gemm, a Resize, a Reshape/Concat graph and
the shipped example). Hypothesis draws a base and a list of mutations: an attribute's value, an
initializer's or input's dim, an op type, a byte flip, a truncation. Every mutant must load and
cost with finite, non-negative counts, or be refused with a one-line InputError.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import onnx
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from estimator.analysis import analyze_graph
from estimator.loading import load_model
from tests.fuzz._outcome import check, fuzz_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiny_convnet.onnx"

#: Values a mutation writes: the edges (0, -1, 1), odd sizes, and sizes no device holds.
INTS = st.sampled_from([-(2**62), -(2**40), -5, -1, 0, 1, 2, 3, 5, 7, 64, 2**31, 2**40, 2**62])
FLOATS = st.sampled_from([0.0, -1.0, 0.5, 2.0, 1e20, float("nan"), float("inf"), -float("inf")])


def _model(nodes, inputs, inits):  # type: ignore[no-untyped-def]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 9
    return m.SerializeToString()


def _w(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.zeros(shape, np.float32), name)


@cache
def bases() -> tuple[bytes, ...]:
    x = [("x", [1, 3, 8, 8])]
    i64 = numpy_helper.from_array
    return (
        _model(
            [
                helper.make_node(
                    "Conv",
                    ["x", "w"],
                    ["y"],
                    name="conv0",
                    pads=[1, 1, 1, 1],
                    group=1,
                    strides=[1, 1],
                    dilations=[1, 1],
                    kernel_shape=[3, 3],
                )
            ],
            x,
            [_w("w", (8, 3, 3, 3))],
        ),
        _model(
            [
                helper.make_node(
                    "MaxPool",
                    ["x"],
                    ["y"],
                    name="pool0",
                    kernel_shape=[2, 2],
                    strides=[2, 2],
                    pads=[0, 0, 0, 0],
                )
            ],
            x,
            [],
        ),
        _model(
            [helper.make_node("Gemm", ["x", "w"], ["y"], name="gemm0", transB=1)],
            [("x", [2, 5])],
            [_w("w", (6, 5))],
        ),
        _model(
            [helper.make_node("Resize", ["x", "", "sc"], ["y"], name="resize0", mode="nearest")],
            x,
            [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "sc")],
        ),
        _model(
            [
                helper.make_node("Reshape", ["x", "s"], ["r"], name="reshape0"),
                helper.make_node("Concat", ["r", "r"], ["c"], name="concat0", axis=1),
                helper.make_node("MatMul", ["c", "m"], ["y"], name="mm0"),
            ],
            x,
            [i64(np.array([1, -1], np.int64), "s"), _w("m", (384, 4))],
        ),
        EXAMPLE.read_bytes(),
    )


@st.composite
def mutation(draw: st.DrawFn) -> tuple:
    kind = draw(st.sampled_from(["attr", "attr", "dims", "input", "op", "flip", "truncate"]))
    return (kind, draw(st.integers(0, 2**16)), draw(INTS), draw(FLOATS))


def _apply(data: bytes, mutations: list[tuple]) -> bytes:
    for kind, where, value, fvalue in mutations:
        if kind == "flip":
            b = bytearray(data)
            if b:
                b[where % len(b)] = value & 0xFF
            data = bytes(b)
            continue
        if kind == "truncate":
            data = data[: where % max(1, len(data))]
            continue
        m = onnx.ModelProto()
        try:
            m.ParseFromString(data)
        except Exception:
            return data  # already garbled by a flip: the loader sees it as is
        g = m.graph
        if kind == "attr" and g.node:
            n = g.node[where % len(g.node)]
            if n.attribute:
                a = n.attribute[where % len(n.attribute)]
                if a.ints:
                    a.ints[where % len(a.ints)] = value
                elif a.type == onnx.AttributeProto.INT:
                    a.i = value
                elif a.type == onnx.AttributeProto.FLOAT:
                    a.f = fvalue
                elif a.type == onnx.AttributeProto.STRING:
                    a.s = [b"BOGUS", b"", b"\xff\xfe", b"linear", b"SAME_UPPER"][where % 5]
        elif kind == "dims" and g.initializer:
            t = g.initializer[where % len(g.initializer)]
            if t.dims:
                t.dims[where % len(t.dims)] = value
        elif kind == "input" and g.input:
            dims = g.input[where % len(g.input)].type.tensor_type.shape.dim
            if dims:
                dims[where % len(dims)].dim_value = max(value, 0)
        elif kind == "op" and g.node:
            ops = ["Conv", "Relu", "MaxPool", "Gemm", "Reshape", "Range", "Resize", "LSTM", "X"]
            g.node[where % len(g.node)].op_type = ops[where % len(ops)]
        data = m.SerializeToString()
    return data


def _load_and_cost(path: Path) -> None:
    cost = analyze_graph(load_model(path))
    for v in (cost.flops, cost.macs, cost.params):
        assert v >= 0 and math.isfinite(v), (path.name, cost.flops, cost.macs, cost.params)


@fuzz_settings(400, 0.4)
@given(base=st.integers(0, 5), mutations=st.lists(mutation(), min_size=1, max_size=4))
def test_mutated_onnx_loads_or_is_refused_in_one_line(
    base: int, mutations: list[tuple], tmp_path_factory
) -> None:  # type: ignore[no-untyped-def]
    data = _apply(bases()[base], mutations)
    path = tmp_path_factory.getbasetemp() / "fuzz_onnx_case.onnx"
    path.write_bytes(data)
    check("onnx", lambda: _load_and_cost(path), what=f"base {base}, mutations {mutations}")
