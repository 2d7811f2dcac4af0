"""Miniature ONNX classifiers the calibration and predictor tests measure and estimate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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


def calibration_models(folder: Path, cases: Sequence[str]) -> list[Path]:
    """Sweep models of ``cases`` and three small networks (``zoo__net0..2``) in ``folder``, as
    calibration measures them."""
    from estimator.calibration.collect import write_sweep_model
    from estimator.calibration.sweep import case_by_name

    paths = []
    for name in cases:
        case = case_by_name(name)
        assert case is not None, name
        paths.append(write_sweep_model(case, folder))
    for i, width in enumerate((16, 32, 24)):
        p = folder / f"zoo__net{i}.onnx"
        onnx.save(small_net(f"net{i}", i, width), str(p))
        paths.append(p)
    return paths
