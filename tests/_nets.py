"""Miniature ONNX classifiers the calibration and predictor tests measure and estimate."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def small_net(name: str, seed: int, width: int, *, elementary: bool = False) -> onnx.ModelProto:
    """Conv3x3 + Relu -> GlobalAveragePool -> Flatten -> MatMul. ``elementary``: the Relu is
    SiLU (x * sigmoid(x)) then Erf instead, kernels an elementary-work table prices."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.standard_normal((width, 8, 3, 3)).astype(np.float32), "w")
    fc = numpy_helper.from_array(rng.standard_normal((width, 10)).astype(np.float32), "fc")
    conv = helper.make_node(
        "Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1] * 4
    )
    if elementary:
        act = [
            helper.make_node("Sigmoid", ["c"], ["s"], name="sig"),
            helper.make_node("Mul", ["c", "s"], ["m"], name="silu"),
            helper.make_node("Erf", ["m"], ["r"], name="erf"),
        ]
    else:
        act = [helper.make_node("Relu", ["c"], ["r"], name="relu")]
    nodes = [
        conv,
        *act,
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("MatMul", ["f", "fc"], ["y"], name="fc"),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        initializer=[w, fc],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model
