"""The cross-network node memo of the ONNX frontend (issue 20): exact, keyed by what a node's
shapes and attributes depend on (never names), and reused across networks of one space."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from estimator.estimate import clear_caches, estimate, estimate_many, prepare
from estimator.frontends import onnx_memo
from estimator.frontends.onnx_frontend import load_onnx
from estimator.transfer import resolve_references
from estimator.zoo.mbspace import write_space


@pytest.fixture(autouse=True)
def _fresh_memo() -> None:
    onnx_memo.clear()
    clear_caches()


def _conv_net(name: str, *, pads: int = 1, x: str = "x", w: str = "w") -> onnx.ModelProto:
    """x [1, 4, 8, 8] -> Conv 3x3 (8 out) -> Relu -> Reshape to [1, -1]."""
    nodes = [
        helper.make_node("Conv", [x, w], ["c"], name="conv", pads=[pads] * 4),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Reshape", ["r", "shape"], ["y"], name="flat"),
    ]
    inits = [
        helper.make_tensor(w, TensorProto.FLOAT, [8, 4, 3, 3], np.zeros(288, np.float32)),
        helper.make_tensor("shape", TensorProto.INT64, [2], [1, -1]),
    ]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_second_identical_network_adds_nothing_and_names_do_not_matter() -> None:
    load_onnx(_conv_net("a"))
    held = onnx_memo.size()
    # conv and reshape: one shape entry and one attribute entry each; relu takes the unary
    # fast path, which keys neither its shapes nor its attributes (issue 15)
    assert held == 4
    g = load_onnx(_conv_net("b", x="input", w="weight"))  # renamed tensors: same nodes
    assert onnx_memo.size() == held
    assert [t.shape for t in g.outputs] == [(1, 8 * 8 * 8)]


def test_different_attributes_are_different_nodes() -> None:
    a = load_onnx(_conv_net("a", pads=1))
    held = onnx_memo.size()
    b = load_onnx(_conv_net("b", pads=0))
    # conv (shapes, attributes) and the nodes after it see other shapes: 6x6 instead of 8x8
    assert onnx_memo.size() > held
    assert a.outputs[0].shape == (1, 512)
    assert b.outputs[0].shape == (1, 8 * 6 * 6)
    assert b.nodes[0].attrs["pads"] == (0, 0, 0, 0)


def test_constant_values_are_part_of_the_key() -> None:
    one = _conv_net("a")
    other = _conv_net("b")
    other.graph.initializer[1].CopyFrom(
        helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 8])
    )
    assert load_onnx(one).outputs[0].shape == (1, 512)
    assert load_onnx(other).outputs[0].shape == (64, 8)


def test_a_big_known_constant_is_not_keyed() -> None:
    class Big:
        shape: tuple[int, ...] = (5000,)
        elem_type: int = int(TensorProto.FLOAT)
        is_const = True

        def array(self) -> np.ndarray:
            return np.zeros(5000, np.float32)

        def data_proto(self) -> None:
            return None

    node = helper.make_node("Relu", ["a"], ["b"])
    assert onnx_memo.node_key(node, [Big()], 17, (("", 17),), frozenset()) is None
    Big.shape = (4,)
    Big.array = lambda self: np.zeros(4, np.float32)  # type: ignore[method-assign]
    assert onnx_memo.node_key(node, [Big()], 17, (("", 17),), frozenset()) is not None
    assert onnx_memo.node_key(node, [Big()], 17, (("", 17),), frozenset({"Relu"})) is None


def _plain(paths: list[str], runtime: str) -> list[float]:
    with onnx_memo.disabled():
        clear_caches()
        return [estimate(p, "i7-12700K", runtime=runtime).latency_ms for p in paths]


@pytest.mark.parametrize("runtime", ["onnxruntime-cpu", "pytorch-eager"])
def test_cached_batch_equals_per_network_estimates(tmp_path: Path, runtime: str) -> None:
    paths = [str(p) for _, p in write_space(tmp_path, 6, seed=2, weights=False)]
    batch = estimate_many(paths, "i7-12700K", runtime=runtime)
    assert onnx_memo.size() > 0
    with onnx_memo.disabled():
        clear_caches()
        uncached = estimate_many(paths, "i7-12700K", runtime=runtime)
    # bit for bit against the uncached batch; against one estimate() per network up to the
    # order the engine sums kernel times in (one model at a time vs all models at once)
    np.testing.assert_array_equal(batch.latency_ms, uncached.latency_ms)
    np.testing.assert_array_equal(batch.ci95_high_ms, uncached.ci95_high_ms)
    np.testing.assert_allclose(batch.latency_ms, _plain(paths, runtime), rtol=1e-13, atol=0)
    # the plans themselves, kernel by kernel
    clear_caches()
    cached = [prepare(p, runtime=runtime).plan for p in paths]
    with onnx_memo.disabled():
        clear_caches()
        fresh = [prepare(p, runtime=runtime).plan for p in paths]
    for c, f in zip(cached, fresh, strict=True):
        assert c.kernels == f.kernels
        np.testing.assert_array_equal(c.features, f.features)


def test_few_shot_kernel_sets_equal_uncached(tmp_path: Path) -> None:
    paths = [str(p) for _, p in write_space(tmp_path, 4, seed=5, weights=False)]
    a = resolve_references(paths, runtime="onnxruntime-cpu")
    with onnx_memo.disabled():
        clear_caches()
        b = resolve_references(paths, runtime="onnxruntime-cpu")
    assert (a.counts != b.counts).nnz == 0
    np.testing.assert_array_equal(a.kernels.flops, b.kernels.flops)
    np.testing.assert_array_equal(a.kernels.bytes, b.kernels.bytes)
