"""A mutation corpus of broken ONNX files, generated at test time from two small valid models.

Byte flips, truncations and field mutations (dims, attributes, input sizes, op types) of a conv
model and the shipped example. Every mutant either loads and costs with non-negative counts, or
is refused with an :class:`InputError`; any other exception is a bug. The corpus is seeded, so
a failure names a case that reproduces.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from estimator.analysis import analyze_graph
from estimator.errors import InputError
from estimator.loading import load_model

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiny_convnet.onnx"
N_CASES = 1000
SEEDS = range(4)


def _conv_model() -> bytes:
    w = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(("flip", "truncate", "field"))
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    m = onnx.ModelProto()
    m.ParseFromString(data)
    g = m.graph
    field = rng.choice(("dims", "attr", "input", "op"))
    big = (-(2**40), -5, -1, 0, 1, 3, 7, 2**31, 2**40)
    if field == "dims" and g.initializer:
        t = rng.choice(g.initializer)
        if t.dims:
            t.dims[rng.randrange(len(t.dims))] = rng.choice(big)
    elif field == "attr" and g.node:
        n = rng.choice(g.node)
        if n.attribute:
            a = rng.choice(n.attribute)
            if a.ints:
                a.ints[rng.randrange(len(a.ints))] = rng.choice(big)
            elif a.type == onnx.AttributeProto.INT:
                a.i = rng.choice(big)
    elif field == "input" and g.input:
        dims = rng.choice(g.input).type.tensor_type.shape.dim
        if dims:
            dims[rng.randrange(len(dims))].dim_value = rng.choice((0, 1, 5, 2**31, 2**40))
    elif field == "op" and g.node:
        rng.choice(g.node).op_type = rng.choice(("Conv", "Relu", "MaxPool", "Gemm", "Reshape", "X"))
    return m.SerializeToString()


@pytest.mark.parametrize("seed", SEEDS)
def test_mutants_load_or_are_refused_in_one_line(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    bases = [_conv_model(), EXAMPLE.read_bytes()]
    refused = loaded = 0
    for i in range(N_CASES // len(SEEDS)):
        data = _mutate(rng.choice(bases), rng)
        path = tmp_path / f"mutant_{seed}_{i}.onnx"
        path.write_bytes(data)
        try:
            cost = analyze_graph(load_model(path))
        except InputError as exc:
            assert "\n" not in str(exc) and str(exc).strip(), f"case {seed}/{i}: {exc!r}"
            refused += 1
            continue
        assert cost.flops >= 0 and cost.macs >= 0 and cost.params >= 0, f"case {seed}/{i}"
        loaded += 1
        path.unlink()
    # the corpus exercises both outcomes, not only the protobuf parser
    assert refused > 0 and loaded > 0
