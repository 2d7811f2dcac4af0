"""A synthetic grouped-conv population with a known efficiency surface (for the model tests)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from estimator.ir import DType, Graph, Node, TensorInfo
from estimator.kernelmodel.features import FEATURE_INDEX, kernel_features
from estimator.partition import partition


def conv_graph(n: int, seed: int) -> Graph:
    """``n`` independent grouped convolutions over a shape space like ResNeXt/RegNet stages."""
    rng = np.random.default_rng(seed)
    nodes: list[Node] = []
    inputs: list[TensorInfo] = []
    outputs: list[TensorInfo] = []
    for i in range(n):
        groups = int(rng.choice([1, 2, 4, 8, 16, 32, 64]))
        cpg = int(rng.choice([1, 2, 4, 8, 16, 32, 64]))
        k = int(rng.choice([1, 3, 5]))
        hw = int(rng.choice([7, 14, 28, 56]))
        stride = int(rng.choice([1, 2]))
        c = groups * cpg
        ho = (hw + 2 * (k // 2) - k) // stride + 1
        x = TensorInfo(f"x{i}", (1, c, hw, hw), DType.FLOAT32)
        w = TensorInfo(f"w{i}", (c, cpg, k, k), DType.FLOAT32, is_const=True)
        y = TensorInfo(f"y{i}", (1, c, ho, ho), DType.FLOAT32)
        p = k // 2
        nodes.append(
            Node(
                f"conv{i}",
                "Conv",
                (x, w),
                (y,),
                {
                    "kernel_shape": (k, k),
                    "strides": (stride, stride),
                    "pads": (p, p, p, p),
                    "dilations": (1, 1),
                    "group": groups,
                },
            )
        )
        inputs.append(x)
        outputs.append(y)
    return Graph("synthetic_convs", nodes, inputs, outputs)


def surface(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """The known log-correction: slow small channel groups, fast 1x1, a group x kernel term."""
    g = x[:, FEATURE_INDEX["conv_groups"]]
    cpg = x[:, FEATURE_INDEX["conv_cin_per_group"]]
    k = x[:, FEATURE_INDEX["conv_kernel_hw"]]
    hw = x[:, FEATURE_INDEX["conv_log10_out_hw"]]
    return (
        0.5 * np.tanh(1.5 - np.log2(cpg) / 2.0)
        - 0.3 * (k == 1)
        + 0.15 * np.log2(g) / 6.0 * np.sqrt(k)
        - 0.2 * (hw - 2.0)
    )


def noise_sd(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Heteroscedastic noise: kernels with tiny channel groups scatter more."""
    cpg = x[:, FEATURE_INDEX["conv_cin_per_group"]]
    return np.where(cpg <= 2, 0.12, 0.05)


def dataset(
    n: int = 3000, seed: int = 0, models: int = 12
) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str], NDArray[np.str_]]:
    """(features, targets y = surface + noise, categories, source-model groups)."""
    g = conv_graph(n, seed)
    plan = partition(g, "onnxruntime-cpu")
    x = kernel_features(g, plan)
    rng = np.random.default_rng(seed + 1)
    y = surface(x) + rng.normal(0.0, 1.0, n) * noise_sd(x)
    cats = [str(k.category) for k in plan]
    groups = np.array([f"model{i % models}" for i in range(n)])
    return x, y, cats, groups
