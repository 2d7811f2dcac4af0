"""The IR's own invariants: static shapes, byte sizes, topological validation."""

from __future__ import annotations

import pytest

from estimator.ir import DType, Graph, Node, TensorInfo
from estimator.ir.ops import KNOWN_OPS, VIEW_OPS, OpType, is_known


def _t(name: str, shape: tuple[int, ...], const: bool = False) -> TensorInfo:
    return TensorInfo(name, shape, DType.FLOAT32, is_const=const)


def test_tensor_sizes() -> None:
    t = TensorInfo("x", (2, 3, 4), DType.FLOAT16)
    assert t.numel == 24
    assert t.nbytes == 48  # 24 elements x 2 bytes
    assert t.rank == 3
    assert TensorInfo("s", ()).numel == 1  # a scalar has one element


@pytest.mark.parametrize("bad", [(-1, 3), (None, 3), (2.5,)])
def test_tensor_rejects_non_static_dims(bad: tuple) -> None:
    with pytest.raises(ValueError, match="not a static size"):
        TensorInfo("x", bad)


@pytest.mark.parametrize(
    ("dtype", "size"),
    [(DType.FLOAT64, 8), (DType.FLOAT32, 4), (DType.BFLOAT16, 2), (DType.INT8, 1), (DType.BOOL, 1)],
)
def test_dtype_itemsize(dtype: DType, size: int) -> None:
    assert dtype.itemsize == size


def test_views_are_known_ops() -> None:
    assert VIEW_OPS <= KNOWN_OPS
    assert is_known(OpType.CONV)
    assert not is_known("com.microsoft.FusedConv")


def _chain() -> Graph:
    x, w, y, z = _t("x", (1, 4)), _t("w", (4, 4), True), _t("y", (1, 4)), _t("z", (1, 16))
    n1 = Node("mm", OpType.MATMUL, (x, w), (y,))
    n2 = Node("flat", OpType.RESHAPE, (y,), (z,))
    return Graph("chain", [n1, n2], [x], [z])


def test_graph_maps_and_views() -> None:
    g = _chain()
    g.validate()
    assert g.producers()["y"].name == "mm"
    assert [n.name for n in g.consumers()["y"]] == ["flat"]
    mm, flat = g.nodes
    assert [t.name for t in mm.weights] == ["w"]
    assert [t.name for t in mm.activations] == ["x"]
    assert flat.is_view and not mm.is_view
    assert len(g) == 2


def test_validate_rejects_out_of_order_nodes() -> None:
    g = _chain()
    g.nodes.reverse()
    with pytest.raises(ValueError, match="reads 'y' before"):
        g.validate()


def test_validate_rejects_duplicates_and_missing_outputs() -> None:
    g = _chain()
    g.nodes[1].name = "mm"
    with pytest.raises(ValueError, match="duplicate node name"):
        g.validate()
    g2 = _chain()
    g2.outputs.append(_t("nowhere", (1,)))
    with pytest.raises(ValueError, match="never produced"):
        g2.validate()
