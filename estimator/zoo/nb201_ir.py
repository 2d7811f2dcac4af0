"""NAS-Bench-201 (CIFAR variant) as the IR, built directly without torch.

NAS pipelines score thousands of cells per second, so this builder never traces a network: it
stitches cached :class:`~estimator.ir.Node` objects together. Every node depends only on its
position in the network (cell index, edge, op) and on the tensor it reads, so one cache entry per
(position, input tensor) is shared by every architecture that uses it. Consequence: nodes of the
graphs returned here are shared between graphs and must be treated as read-only.

Semantics (identical to :mod:`estimator.zoo.nb201`'s torch module, so both paths cost the same):

* ``none`` edges contribute nothing. An edge is *dead* when its source node has no live path from
  the cell input or its target node has no path to the cell output (node 3); dead edges emit no
  nodes (the official NAS-Bench-201 code runs them on zero tensors, which is wasted work a real
  deployment removes). ``skip_connect`` is the identity and emits no node.
* A node fed by k live edges is the sum of their outputs: a chain of k-1 ``Add`` nodes in edge
  order.
* A cell whose output node has no live input outputs zeros; both paths compute them as
  ``Sub(x, x)`` on the cell input (one elementwise op, no constant, so FLOPs, bytes and params
  agree between the torch path and this builder). The rest of the network still runs on it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from estimator.errors import InputError
from estimator.ir.dtypes import DType
from estimator.ir.graph import Graph, Node
from estimator.ir.tensor import TensorInfo

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Edges (target, source) in the order of the arch string.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

STEM_CHANNELS = 16
CELLS_PER_STAGE = 5
NUM_CLASSES = 10
RESOLUTION = 32
#: (channels, spatial size) of the three stages.
STAGES: tuple[tuple[int, int], ...] = ((16, 32), (32, 16), (64, 8))
#: Module indices of the 17 entries of ``cells``: 5 cells, reduction, 5 cells, reduction, 5 cells.
REDUCTION_CELLS: frozenset[int] = frozenset({5, 11})

Arch = tuple[str, str, str, str, str, str]


def parse_arch(arch: str) -> Arch:
    """The six edge ops of ``arch`` in the order of :data:`EDGES`.

    Raises :class:`InputError` naming the first token that is not ``op~source`` with a known op
    and the source the canonical format requires.
    """
    if not isinstance(arch, str):
        raise InputError(f"NAS-Bench-201 arch must be a string, got {type(arch).__name__}")
    hit = _canonical().get(arch)
    if hit is not None:  # every valid string is one of the 15,625 canonical ones
        return hit
    nodes = arch.split("+")
    if len(nodes) != 3:
        raise InputError(
            f"NAS-Bench-201 arch {arch!r}: expected 3 '+'-separated nodes, found {len(nodes)}"
        )
    ops: list[str] = []
    for target, node in enumerate(nodes, start=1):
        if len(node) < 2 or not (node.startswith("|") and node.endswith("|")):
            raise InputError(f"NAS-Bench-201 arch {arch!r}: node {node!r} must be |op~i|...|")
        tokens = node[1:-1].split("|")
        if len(tokens) != target:
            raise InputError(
                f"NAS-Bench-201 arch {arch!r}: node {target} needs {target} edges, "
                f"got {len(tokens)} in {node!r}"
            )
        for source, token in enumerate(tokens):
            op, sep, src = token.partition("~")
            if not sep or op not in OPS or src != str(source):
                raise InputError(
                    f"NAS-Bench-201 arch {arch!r}: bad token {token!r} "
                    f"(expected one of {'/'.join(OPS)} followed by ~{source})"
                )
            ops.append(op)
    return (ops[0], ops[1], ops[2], ops[3], ops[4], ops[5])


@cache
def _canonical() -> dict[str, Arch]:
    """Arch string -> its ops, for all 15,625 networks: a NAS loop scoring thousands of strings
    per request pays one dict lookup each instead of tokenising every string."""
    out: dict[str, Arch] = {}
    for a, b, c, d, e, f in itertools.product(OPS, repeat=6):
        out[arch_string((a, b, c, d, e, f))] = (a, b, c, d, e, f)
    return out


def arch_string(ops: Sequence[str]) -> str:
    """Inverse of :func:`parse_arch`."""
    if len(ops) != 6 or any(op not in OPS for op in ops):
        raise InputError(f"NAS-Bench-201 arch needs 6 ops from {OPS}, got {tuple(ops)!r}")
    e = list(ops)
    return f"|{e[0]}~0|+|{e[1]}~0|{e[2]}~1|+|{e[3]}~0|{e[4]}~1|{e[5]}~2|"


def nb201_all_archs() -> list[str]:
    """All 15,625 arch strings in ``itertools.product`` order over :data:`OPS`.

    This is not the official NAS-Bench-201 index order (that order is only stored in the
    benchmark's own files); look indices up by arch string.
    """
    return [arch_string(ops) for ops in itertools.product(OPS, repeat=6)]


def random_archs(n: int, seed: int = 0) -> list[str]:
    """``n`` arch strings drawn uniformly (with replacement), reproducible from ``seed``."""
    rng = random.Random(seed)
    return [arch_string([rng.choice(OPS) for _ in range(6)]) for _ in range(n)]


@dataclass(frozen=True, slots=True)
class CellPlan:
    """The live part of a cell after pruning.

    ``live`` lists the edges (index into :data:`EDGES`) that do work, in arch order;
    ``inputs[j]`` the live edges into node j. ``dead_output`` is True when node 3 gets nothing.
    """

    ops: Arch
    live: tuple[int, ...]
    inputs: tuple[tuple[int, ...], ...]
    dead_output: bool


_PLANS: dict[Arch, CellPlan] = {}


def cell_plan(ops: Arch) -> CellPlan:
    """Prune ``ops`` (see the module docstring); cached, there are only 15,625 cells."""
    plan = _PLANS.get(ops)
    if plan is not None:
        return plan
    present = [op != "none" for op in ops]
    from_input = [True, False, False, False]
    for e, (j, i) in enumerate(EDGES):  # EDGES is sorted by target, so sources are final
        if present[e] and from_input[i]:
            from_input[j] = True
    to_output = [False, False, False, True]
    for e in range(len(EDGES) - 1, -1, -1):
        j, i = EDGES[e]
        if present[e] and to_output[j]:
            to_output[i] = True
    live = tuple(
        e for e, (j, i) in enumerate(EDGES) if present[e] and from_input[i] and to_output[j]
    )
    inputs = tuple(tuple(e for e in live if EDGES[e][0] == j) for j in range(4))
    plan = CellPlan(ops=ops, live=live, inputs=inputs, dead_output=not inputs[3])
    _PLANS[ops] = plan
    return plan


# ---------------------------------------------------------------------------------------------
# IR construction with caches


def _conv_attrs(k: int, stride: int) -> dict[str, Any]:
    p = k // 2
    return {
        "kernel_shape": (k, k),
        "strides": (stride, stride),
        "pads": (p, p, p, p),
        "dilations": (1, 1),
        "group": 1,
    }


def pool_attrs(k: int, stride: int, pad: int, count_include_pad: int) -> dict[str, Any]:
    """AveragePool attributes in the IR's normalized form (square kernel, symmetric pads)."""
    return {
        "kernel_shape": (k, k),
        "strides": (stride, stride),
        "pads": (pad, pad, pad, pad),
        "dilations": (1, 1),
        "ceil_mode": 0,
        "count_include_pad": count_include_pad,
    }


_F32 = DType.FLOAT32
_BN_EPS = 1e-5


class _Cache:
    """Every node and tensor one batch size needs, built on first use."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.consts: dict[tuple[str, tuple[int, ...]], TensorInfo] = {}
        self.blocks: dict[tuple[Any, ...], tuple[tuple[Node, ...], TensorInfo]] = {}
        #: id(block) -> its cost totals, for :func:`nb201_cost`.
        self.costs: dict[int, ArchCost] = {}
        self.input = TensorInfo("input", (batch, 3, RESOLUTION, RESOLUTION), _F32)
        stem, out = self._stem()
        self.stem_nodes = stem
        self.stem_out = out

    # -- primitives -------------------------------------------------------------------------
    def const(self, name: str, shape: tuple[int, ...]) -> TensorInfo:
        # keyed by shape too: a 1x1 and a 3x3 conv on the same edge share a module path
        t = self.consts.get((name, shape))
        if t is None:
            t = TensorInfo(name, shape, _F32, is_const=True)
            self.consts[(name, shape)] = t
        return t

    def act(self, name: str, c: int, hw: int) -> TensorInfo:
        return TensorInfo(name, (self.batch, c, hw, hw), _F32)

    def conv(
        self, src: str, x: TensorInfo, cout: int, k: int, stride: int, hw_out: int
    ) -> tuple[Node, TensorInfo]:
        cin = x.shape[1]
        w = self.const(f"{src}.weight", (cout, cin, k, k))
        y = self.act(f"{src}.out", cout, hw_out)
        return Node(src, "Conv", (x, w), (y,), _conv_attrs(k, stride), src, "Conv2d"), y

    def bn(self, src: str, x: TensorInfo) -> tuple[Node, TensorInfo]:
        c = x.shape[1]
        ins = (
            x,
            self.const(f"{src}.weight", (c,)),
            self.const(f"{src}.bias", (c,)),
            self.const(f"{src}.running_mean", (c,)),
            self.const(f"{src}.running_var", (c,)),
        )
        y = TensorInfo(f"{src}.out", x.shape, _F32)
        attrs = {"epsilon": _BN_EPS}
        return Node(src, "BatchNormalization", ins, (y,), attrs, src, "BatchNorm2d"), y

    def relu(self, src: str, x: TensorInfo) -> tuple[Node, TensorInfo]:
        y = TensorInfo(f"{src}.out", x.shape, _F32)
        return Node(src, "Relu", (x,), (y,), {}, src, "ReLU"), y

    def add(self, src: str, a: TensorInfo, b: TensorInfo) -> tuple[Node, TensorInfo]:
        y = TensorInfo(f"{src}.out", a.shape, _F32)
        return Node(src, "Add", (a, b), (y,), {}, src, "add"), y

    def relu_conv_bn(
        self, src: str, x: TensorInfo, cout: int, k: int, stride: int, hw_out: int
    ) -> tuple[tuple[Node, ...], TensorInfo]:
        n0, t = self.relu(f"{src}.op.0", x)
        n1, t = self.conv(f"{src}.op.1", t, cout, k, stride, hw_out)
        n2, t = self.bn(f"{src}.op.2", t)
        return (n0, n1, n2), t

    # -- blocks -----------------------------------------------------------------------------
    def _stem(self) -> tuple[tuple[Node, ...], TensorInfo]:
        n0, t = self.conv("stem.0", self.input, STEM_CHANNELS, 3, 1, RESOLUTION)
        n1, t = self.bn("stem.1", t)
        return (n0, n1), t

    def edge(
        self, cell: int, e: int, op: str, x: TensorInfo
    ) -> tuple[tuple[Node, ...], TensorInfo]:
        key = (cell, e, op, x.name)
        hit = self.blocks.get(key)
        if hit is not None:
            return hit
        j, i = EDGES[e]
        src = f"cells.{cell}.edges.{j}<-{i}"
        c, hw = x.shape[1], x.shape[2]
        if op == "nor_conv_3x3":
            built = self.relu_conv_bn(src, x, c, 3, 1, hw)
        elif op == "nor_conv_1x1":
            built = self.relu_conv_bn(src, x, c, 1, 1, hw)
        elif op == "avg_pool_3x3":
            name = f"{src}.op"
            y = TensorInfo(f"{name}.out", x.shape, _F32)
            attrs = pool_attrs(3, 1, 1, 0)
            built = (Node(name, "AveragePool", (x,), (y,), attrs, name, "AvgPool2d"),), y
        elif op == "skip_connect":
            built = (), x
        else:  # pragma: no cover - pruned before
            raise AssertionError(f"edge op {op!r} has no nodes")
        self.blocks[key] = built
        return built

    def sum_(
        self, cell: int, node: int, m: int, a: TensorInfo, b: TensorInfo
    ) -> tuple[tuple[Node, ...], TensorInfo]:
        key = ("sum", cell, node, m, a.name, b.name)
        hit = self.blocks.get(key)
        if hit is None:
            n, y = self.add(f"cells.{cell}.nodes.{node}.add{m}", a, b)
            hit = (n,), y
            self.blocks[key] = hit
        return hit

    def zeros(self, cell: int, x: TensorInfo) -> tuple[tuple[Node, ...], TensorInfo]:
        key = ("zeros", cell, x.name)
        hit = self.blocks.get(key)
        if hit is None:
            name = f"cells.{cell}.zeros"
            y = TensorInfo(f"{name}.out", x.shape, _F32)
            hit = (Node(name, "Sub", (x, x), (y,), {}, name, "sub"),), y
            self.blocks[key] = hit
        return hit

    def reduction(self, cell: int, x: TensorInfo) -> tuple[tuple[Node, ...], TensorInfo]:
        key = ("reduction", cell, x.name)
        hit = self.blocks.get(key)
        if hit is not None:
            return hit
        cin, hw = x.shape[1], x.shape[2]
        cout, hw_out = 2 * cin, hw // 2
        src = f"cells.{cell}"
        a_nodes, a = self.relu_conv_bn(f"{src}.conv_a", x, cout, 3, 2, hw_out)
        b_nodes, b = self.relu_conv_bn(f"{src}.conv_b", a, cout, 3, 1, hw_out)
        pool_name = f"{src}.downsample.0"
        pooled = self.act(f"{pool_name}.out", cin, hw_out)
        attrs = pool_attrs(2, 2, 0, 1)
        pool = Node(pool_name, "AveragePool", (x,), (pooled,), attrs, pool_name, "AvgPool2d")
        short, s = self.conv(f"{src}.downsample.1", pooled, cout, 1, 1, hw_out)
        add, y = self.add(f"{src}.add", s, b)
        hit = (*a_nodes, *b_nodes, pool, short, add), y
        self.blocks[key] = hit
        return hit

    def head(self, x: TensorInfo) -> tuple[tuple[Node, ...], TensorInfo]:
        key = ("head", x.name)
        hit = self.blocks.get(key)
        if hit is not None:
            return hit
        c = x.shape[1]
        n0, t = self.bn("lastact.0", x)
        n1, t = self.relu("lastact.1", t)
        pooled = TensorInfo("global_pooling.out", (self.batch, c, 1, 1), _F32)
        n2 = Node(
            "global_pooling",
            "GlobalAveragePool",
            (t,),
            (pooled,),
            {},
            "global_pooling",
            "AdaptiveAvgPool2d",
        )
        flat = TensorInfo("flatten.out", (self.batch, c), _F32)
        n3 = Node("flatten", "Flatten", (pooled,), (flat,), {"axis": 1}, "flatten", "flatten")
        w = self.const("classifier.weight", (NUM_CLASSES, c))
        bias = self.const("classifier.bias", (NUM_CLASSES,))
        logits = TensorInfo("logits", (self.batch, NUM_CLASSES), _F32)
        gemm_attrs = {"transA": 0, "transB": 1, "alpha": 1.0, "beta": 1.0}
        n4 = Node(
            "classifier", "Gemm", (flat, w, bias), (logits,), gemm_attrs, "classifier", "Linear"
        )
        hit = (n0, n1, n2, n3, n4), logits
        self.blocks[key] = hit
        return hit


_CACHES: dict[int, _Cache] = {}


def block_cache(batch: int) -> _Cache:
    """The node/tensor cache of one batch size (shared: its nodes must not be mutated)."""
    # checked before the lookup: True and 1.0 hash like 1 and would return the batch-1 cache
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise InputError(f"NAS-Bench-201 batch must be a positive integer, got {batch!r}")
    c = _CACHES.get(batch)
    if c is None:
        c = _Cache(batch)
        _CACHES[batch] = c
    return c


def _walk(plan: CellPlan, cache: _Cache) -> Iterator[tuple[Node, ...]]:
    """The network's node blocks in topological order; the last block is the head."""
    yield cache.stem_nodes
    x = cache.stem_out
    ops = plan.ops
    for cell in range(3 * CELLS_PER_STAGE + 2):
        if cell in REDUCTION_CELLS:
            block, x = cache.reduction(cell, x)
            yield block
            continue
        if plan.dead_output:
            block, x = cache.zeros(cell, x)
            yield block
            continue
        # nodes without live inputs keep a placeholder: pruning guarantees no live edge reads them
        values: list[TensorInfo] = [x, x, x, x]
        for j in (1, 2, 3):
            acc: TensorInfo | None = None
            for m, e in enumerate(plan.inputs[j]):
                block, y = cache.edge(cell, e, ops[e], values[EDGES[e][1]])
                yield block
                if acc is None:
                    acc = y
                else:
                    block, acc = cache.sum_(cell, j, m, acc, y)
                    yield block
            if acc is not None:
                values[j] = acc
        x = values[3]
    yield cache.head(x)[0]


def nb201_graph(arch: str, batch: int = 1) -> Graph:
    """The IR of the NAS-Bench-201 CIFAR network with cell ``arch`` (input ``batch``x3x32x32).

    Nodes are cached and shared between returned graphs: do not mutate them.
    """
    plan = cell_plan(parse_arch(arch))
    cache = block_cache(batch)
    nodes: list[Node] = []
    extend = nodes.extend
    for block in _walk(plan, cache):
        extend(block)
    return Graph(
        name=f"nb201:{arch}",
        nodes=nodes,
        inputs=[cache.input],
        outputs=list(nodes[-1].outputs),
        metadata={"source": "nb201", "arch": arch, "batch": batch, "semantics": "pruned"},
    )


@dataclass(frozen=True, slots=True)
class ArchCost:
    """Totals of :func:`estimator.ops.cost_of` over every node of one architecture."""

    flops: int
    macs: int
    params: int
    bytes_read: int
    bytes_written: int

    def __add__(self, other: ArchCost) -> ArchCost:
        return ArchCost(
            self.flops + other.flops,
            self.macs + other.macs,
            self.params + other.params,
            self.bytes_read + other.bytes_read,
            self.bytes_written + other.bytes_written,
        )


_ZERO = ArchCost(0, 0, 0, 0, 0)


def nb201_cost(arch: str, batch: int = 1) -> ArchCost:
    """FLOPs, MACs, params and bytes of ``arch`` without building a :class:`Graph`.

    The fast path for NAS loops: each cached block of nodes is costed once with the real cost
    rules (:func:`estimator.ops.cost_of`) and its totals reused by every architecture that
    contains it. Equals summing ``cost_of`` over ``nb201_graph(arch, batch).nodes`` (tested);
    params need no deduplication because no constant is shared between nodes here.
    """
    from estimator.ops import cost_of

    plan = cell_plan(parse_arch(arch))
    cache = block_cache(batch)
    costs = cache.costs
    flops = macs = params = read = written = 0
    for block in _walk(plan, cache):
        c = costs.get(id(block))
        if c is None:
            c = _ZERO
            for node in block:
                oc = cost_of(node)
                c = c + ArchCost(oc.flops, oc.macs, oc.params, oc.bytes_read, oc.bytes_written)
            costs[id(block)] = c  # blocks live in the cache forever, so ids stay unique
        flops += c.flops
        macs += c.macs
        params += c.params
        read += c.bytes_read
        written += c.bytes_written
    return ArchCost(flops, macs, params, read, written)
