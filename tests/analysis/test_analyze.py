"""Graph totals, tied-weight deduplication, liveness and strict mode on hand-built graphs."""

from __future__ import annotations

import time

import pytest

from estimator.analysis import ModelCost, analyze_graph, live_bytes_per_step
from estimator.errors import InputError, UnsupportedOpError
from estimator.ir import DType, Graph, Node, TensorInfo


def t(name: str, *shape: int, dtype: DType = DType.FLOAT32, const: bool = False) -> TensorInfo:
    return TensorInfo(name, tuple(shape), dtype, is_const=const)


def diamond() -> Graph:
    """x -> conv0 -> a -> conv1 -> b ----------------> concat -> d -> flatten -> e (output)
    a -> reshape (view) -> av -> relu -> c -^
    """
    x = t("x", 1, 4, 8, 8)  # 1024 B
    w0 = t("w0", 4, 4, 1, 1, const=True)  # 64 B
    w1 = t("w1", 8, 4, 1, 1, const=True)  # 128 B
    shape = t("shape", 4, dtype=DType.INT64, const=True)  # 32 B
    a, av, c = t("a", 1, 4, 8, 8), t("av", 1, 4, 8, 8), t("c", 1, 4, 8, 8)  # 1024 B each
    b = t("b", 1, 8, 8, 8)  # 2048 B
    d = t("d", 1, 12, 8, 8)  # 3072 B
    e = t("e", 1, 768)
    nodes = [
        Node("conv0", "Conv", (x, w0), (a,)),
        Node("conv1", "Conv", (a, w1), (b,)),
        Node("reshape", "Reshape", (a, shape), (av,)),
        Node("relu", "Relu", (av,), (c,)),
        Node("concat", "Concat", (b, c), (d,), {"axis": 1}),
        Node("flatten", "Flatten", (d,), (e,)),
    ]
    g = Graph("diamond", nodes, [x], [e])
    g.validate()
    return g


def test_totals_on_diamond() -> None:
    m = analyze_graph(diamond())
    assert isinstance(m, ModelCost)
    # conv0: MACs 4*64*4 = 1024; conv1: 8*64*4 = 2048 -> 3072
    # FLOPs: 2048 + 4096 + relu 256 = 6400; params 16 + 32 = 48
    assert (m.name, m.macs, m.flops, m.params) == ("diamond", 3072, 6400, 48)
    # distinct consts: w0 64 + w1 128 + shape 32 = 224
    assert m.weight_bytes == 224
    # x 1024 + a 1024 + b 2048 + c 1024 + d 3072 = 8192 (view outputs av, e not counted)
    assert m.activation_bytes == 8192
    # read: conv0 1024+64, conv1 1024+128, relu 1024, concat 3072 = 6336
    # written: 1024 + 2048 + 1024 + 3072 = 7168
    assert (m.bytes_read, m.bytes_written) == (6336, 7168)
    assert m.unmodeled == {}
    assert [nc.node.name for nc in m.nodes] == [
        "conv0",
        "conv1",
        "reshape",
        "relu",
        "concat",
        "flatten",
    ]
    assert sum(nc.cost.flops for nc in m.nodes) == m.flops


def test_liveness_on_diamond() -> None:
    # step 0 conv0:   x 1024 + a 1024                       = 2048
    # step 1 conv1:   a 1024 + b 2048                       = 3072
    # step 2 reshape: a (aliased by av, read at step 3) + b = 3072
    # step 3 relu:    a 1024 + b 2048 + c 1024              = 4096
    # step 4 concat:  b 2048 + c 1024 + d 3072              = 6144
    # step 5 flatten: d (aliased by the graph output e)     = 3072
    g = diamond()
    assert live_bytes_per_step(g) == [2048, 3072, 3072, 4096, 6144, 3072]
    assert analyze_graph(g).peak_activation_bytes == 6144


def test_unconsumed_output_lives_only_at_its_step() -> None:
    # x (40 B) -> relu -> y (40 B, never read, not an output); x -> sigmoid -> z (output)
    x, y, z = t("x", 10), t("y", 10), t("z", 10)
    g = Graph("g", [Node("r", "Relu", (x,), (y,)), Node("s", "Sigmoid", (x,), (z,))], [x], [z])
    # step 0: x + y = 80; step 1: x + z = 80
    assert live_bytes_per_step(g) == [80, 80]


def test_tied_weights_counted_once() -> None:
    # embedding E [100,8] used by Gather and by the LM head Gemm (transB): 800 params, not 1600
    e = t("E", 100, 8, const=True)  # 3200 B
    ids = t("ids", 4, dtype=DType.INT64)
    h, h2, logits = t("h", 4, 8), t("h2", 4, 8), t("logits", 4, 100)
    nodes = [
        Node("embed", "Gather", (e, ids), (h,), {"axis": 0}),
        Node("act", "Relu", (h,), (h2,)),
        Node("head", "Gemm", (h2, e), (logits,), {"transB": 1}),
    ]
    m = analyze_graph(Graph("tied", nodes, [ids], [logits]))
    assert sum(nc.cost.params for nc in m.nodes) == 1600
    assert m.params == 800
    assert m.weight_bytes == 3200
    assert m.macs == 4 * 8 * 100


def _unknown_chain() -> Graph:
    x = t("x", 8)
    names = ["Foo", "Foo", "Bar", "Foo"]
    outs = [t(f"y{i}", 8) for i in range(len(names))]
    nodes = [
        Node(f"n{i}", op, ((x,) if i == 0 else (outs[i - 1],)), (outs[i],))
        for i, op in enumerate(names)
    ]
    return Graph("chain", nodes, [x], [outs[-1]])


def test_unmodeled_counts() -> None:
    m = analyze_graph(_unknown_chain())
    assert m.unmodeled == {"Foo": 3, "Bar": 1}
    # still costed as traffic: 4 nodes x (32 B read + 32 B written)
    assert (m.bytes_read, m.bytes_written, m.flops) == (128, 128, 0)


def test_strict_mode_names_unsupported_ops() -> None:
    with pytest.raises(UnsupportedOpError, match=r"unsupported ops: Foo x3, Bar x1") as info:
        analyze_graph(_unknown_chain(), strict=True)
    assert isinstance(info.value, InputError)
    assert "\n" not in str(info.value)
    # strict mode on a fully modeled graph passes
    assert analyze_graph(diamond(), strict=True).flops == 6400


def test_graph_without_nodes() -> None:
    x = t("x", 3, 4)
    m = analyze_graph(Graph("empty", [], [x], [x]))
    assert (m.flops, m.activation_bytes, m.peak_activation_bytes) == (0, 48, 48)


def resnet_like(blocks: int = 21) -> Graph:
    """``blocks`` residual blocks of conv-bn-relu-conv-bn-add-relu (7 nodes each)."""
    c = 64
    x = t("x", 1, c, 56, 56)
    nodes: list[Node] = []
    cur = x
    for i in range(blocks):
        consts = {
            k: t(f"{k}{i}", *((c, c, 3, 3) if k.startswith("w") else (c,)), const=True)
            for k in ("w1", "s1", "b1", "m1", "v1", "w2", "s2", "b2", "m2", "v2")
        }
        ts = [t(f"t{i}_{j}", 1, c, 56, 56) for j in range(7)]
        nodes += [
            Node(f"conv{i}a", "Conv", (cur, consts["w1"]), (ts[0],)),
            Node(
                f"bn{i}a",
                "BatchNormalization",
                (ts[0], *(consts[k] for k in ("s1", "b1", "m1", "v1"))),
                (ts[1],),
            ),
            Node(f"relu{i}a", "Relu", (ts[1],), (ts[2],)),
            Node(f"conv{i}b", "Conv", (ts[2], consts["w2"]), (ts[3],)),
            Node(
                f"bn{i}b",
                "BatchNormalization",
                (ts[3], *(consts[k] for k in ("s2", "b2", "m2", "v2"))),
                (ts[4],),
            ),
            Node(f"add{i}", "Add", (ts[4], cur), (ts[5],)),
            Node(f"relu{i}b", "Relu", (ts[5],), (ts[6],)),
        ]
        cur = ts[6]
    return Graph("resnet_like", nodes, [x], [cur])


def test_resnet_like_totals_and_speed() -> None:
    g = resnet_like()
    g.validate()
    m = analyze_graph(g)
    # per block: 2 convs of 64*3136*64*9 MACs = 2 * 115605504 = 231211008; x21 = 4855431168
    assert m.macs == 21 * 2 * 64 * 3136 * 64 * 9
    # params per block: 2*(36864 + 128) = 73984; x21 = 1553664
    assert m.params == 21 * 2 * (64 * 64 * 9 + 2 * 64)
    # peak: in the add, the block input (kept for the residual), bn output and add output:
    # 3 tensors of 64*3136*4 = 802816 B
    assert m.peak_activation_bytes == 3 * 802816
    best = min(_timed(g) for _ in range(20))
    print(f"analyze_graph: {len(g)} nodes, best of 20: {best * 1e3:.3f} ms")
    # The target is < 2 ms on an idle core; the bound leaves room for a loaded shared CI box.
    assert best < 0.02, f"analyze_graph took {best * 1e3:.2f} ms for {len(g)} nodes"


def _timed(g: Graph) -> float:
    t0 = time.perf_counter()
    analyze_graph(g)
    return time.perf_counter() - t0
