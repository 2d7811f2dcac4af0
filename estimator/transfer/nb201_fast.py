"""NAS-Bench-201 networks as the published latency tables measured them, and a fast batch path.

Two semantics exist for a cell with ``none`` edges:

* ``"pruned"`` (:func:`estimator.zoo.nb201.nb201_graph`): dead edges removed, what a deployment
  that cleans the graph runs (HW-NAS-Bench's TFLite export constant-folds them: its ``pixel3``
  column reports ~0 ms for networks whose cells output zeros).
* ``"reference"`` (here): the NAS-Bench-201 reference code (``xautodl`` ``InferCell``) run as is,
  which is what HELP timed for its GPU, CPU and phone columns: every edge runs, ``none`` is
  ``x.mul(0.)`` (one kernel), ``skip_connect`` is the identity (no kernel), and node j is
  ``sum(edge outputs)``; Python's ``sum`` starts from ``0``, so node j costs one ``Add`` per
  incoming edge (``0 + y1`` launches a kernel too). A linear fit of the HELP columns on edge-op
  counts gives every ``none`` edge a positive cost (~0.77 ms on the 1080 Ti at batch 1,
  docs/transfer.md), which only the reference semantics explains.

Fast path: in the reference semantics every node depends only on its position (cell, edge, op),
never on the rest of the architecture, so with a runtime that fuses nothing (``pytorch-eager``)
each position's kernels are the same in every network. :func:`nb201_kernel_set` therefore
partitions each (cell, edge, op) block once and describes all 15,625 networks as a sparse count
matrix over ~1,400 unique kernels; the engine runs once on the unique kernels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

import numpy as np
import scipy.sparse as sp

from estimator.engine.pack import KernelArrays
from estimator.errors import InputError
from estimator.ir.dtypes import DType
from estimator.ir.graph import Graph, Node
from estimator.ir.tensor import TensorInfo
from estimator.partition import load_rules, partition
from estimator.transfer.kernel_set import KernelSet, kernel_set_from_arrays
from estimator.zoo.nb201_ir import (
    CELLS_PER_STAGE,
    EDGES,
    OPS,
    REDUCTION_CELLS,
    block_cache,
    nb201_all_archs,
    parse_arch,
    pool_attrs,
)

Semantics = Literal["reference", "pruned"]
SEMANTICS: tuple[str, ...] = ("reference", "pruned")

_F32 = DType.FLOAT32
_N_CELLS = 3 * CELLS_PER_STAGE + 2


class _Builder:
    """Node blocks of the reference network for one batch size; every block is position-keyed.

    The stem, the reduction blocks, the head and the Relu-Conv-BN primitives are the zoo
    builder's (:func:`estimator.zoo.nb201_ir.block_cache`); only the cells differ: every edge runs
    and each node is Python's ``sum()`` of its edges.
    """

    def __init__(self, batch: int) -> None:
        self.blocks = block_cache(batch)
        self.input = self.blocks.input
        self.scalar = TensorInfo("scalar_zero", (), _F32, is_const=True)
        self.fixed: list[list[Node]] = []  # stem, reductions, head (arch-independent)
        self.edge_blocks: dict[tuple[int, int, str], list[Node]] = {}
        self.fixed.append(list(self.blocks.stem_nodes))
        x = self.blocks.stem_out
        for cell in range(_N_CELLS):
            if cell in REDUCTION_CELLS:
                nodes, x = self.blocks.reduction(cell, x)
                self.fixed.append(list(nodes))
            else:
                x = self._cell(cell, x)
        head, self.logits = self.blocks.head(x)
        self.fixed.append(list(head))

    def _cell(self, cell: int, x: TensorInfo) -> TensorInfo:
        """Each edge block ends with its own term of the node sum, so blocks stay position-keyed."""
        c = x.shape[1]
        values: list[TensorInfo] = [x]
        for j in (1, 2, 3):
            acc: TensorInfo | None = None
            for e, (jj, i) in enumerate(EDGES):
                if jj != j:
                    continue
                src = f"cells.{cell}.edges.{j}<-{i}"
                edge_out = self.blocks.act(f"{src}.out", c, x.shape[2])
                add_name = f"cells.{cell}.nodes.{j}.add{i}"
                for op in OPS:
                    nodes = self._edge(src, op, values[i], edge_out)
                    y = values[i] if op == "skip_connect" else edge_out
                    # sum() starts at int 0: the first term is an Add with a scalar too
                    a, b = (y, self.scalar) if acc is None else (acc, y)
                    add, out = self.blocks.add(add_name, a, b)
                    self.edge_blocks[(cell, e, op)] = [*nodes, add]
                acc = out
            assert acc is not None
            values.append(acc)
        return values[3]

    def _edge(self, src: str, op: str, x: TensorInfo, out: TensorInfo) -> list[Node]:
        """Nodes of one edge writing ``out`` (its name is fixed by position, whatever the op)."""
        if op == "skip_connect":
            return []
        if op == "none":
            return [Node(f"{src}.zero", "Mul", (x, self.scalar), (out,), {}, src, "mul")]
        if op == "avg_pool_3x3":
            attrs = pool_attrs(3, 1, 1, 0)
            return [Node(f"{src}.op", "AveragePool", (x,), (out,), attrs, src, "pool")]
        k = 3 if op == "nor_conv_3x3" else 1
        built, _ = self.blocks.relu_conv_bn(src, x, x.shape[1], k, 1, x.shape[2])
        nodes = list(built)
        last = nodes[-1]
        nodes[-1] = Node(last.name, last.op, last.inputs, (out,), last.attrs, last.source, "bn")
        return nodes

    def nodes(self, ops: Sequence[str]) -> list[Node]:
        """All nodes of the network with cell ``ops``, in a valid topological order."""
        fixed = iter(self.fixed)
        out: list[Node] = list(next(fixed))
        for cell in range(_N_CELLS):
            if cell in REDUCTION_CELLS:
                out.extend(next(fixed))
                continue
            for e in range(len(EDGES)):
                out.extend(self.edge_blocks[(cell, e, ops[e])])
        out.extend(next(fixed))
        return out


@lru_cache(maxsize=None, typed=True)  # typed: batch=True must reach block_cache's check, not hit 1
def _builder(batch: int) -> _Builder:
    return _Builder(batch)


def nb201_reference_graph(arch: str, batch: int = 1) -> Graph:
    """The IR of ``arch`` as the NAS-Bench-201 reference code runs it (see module docstring)."""
    ops = parse_arch(arch)
    b = _builder(batch)
    return Graph(
        name=f"nb201:{arch}",
        nodes=b.nodes(ops),
        inputs=[b.input],
        outputs=[b.logits],
        metadata={"source": "nb201", "arch": arch, "batch": batch, "semantics": "reference"},
    )


def nb201_graph_for(arch: str, batch: int = 1, semantics: str = "reference") -> Graph:
    """The IR of ``arch`` under ``semantics`` (``reference`` or ``pruned``)."""
    if semantics == "reference":
        return nb201_reference_graph(arch, batch)
    if semantics == "pruned":
        from estimator.zoo.nb201 import nb201_graph

        return nb201_graph(arch, batch)
    raise InputError(
        f"unknown NAS-Bench-201 semantics {semantics!r}; valid: {', '.join(SEMANTICS)}"
    )


# --------------------------------------------------------------------------- kernel sets


@dataclass(frozen=True, slots=True)
class _Table:
    """Unique reference-semantics kernels of one (batch, runtime) and where each block sits."""

    kernels: KernelArrays
    fixed: np.ndarray  # unique-kernel counts of the arch-independent part
    edge: dict[tuple[int, str], np.ndarray]  # (edge, op) -> counts summed over the 15 cells


@cache
def _table(batch: int, runtime: str) -> _Table:
    b = _builder(batch)
    blocks: list[list[Node]] = list(b.fixed)
    keys: list[tuple[int, str] | None] = [None] * len(blocks)
    for (_cell, e, op), nodes in b.edge_blocks.items():
        blocks.append(nodes)
        keys.append((e, op))
    parts = [_block_arrays(nodes, runtime, b) for nodes in blocks]
    ks = kernel_set_from_arrays([str(i) for i in range(len(parts))], parts)
    dense = ks.counts.toarray()
    fixed = np.zeros(dense.shape[1])
    edge: dict[tuple[int, str], np.ndarray] = {
        (e, op): np.zeros(dense.shape[1]) for e in range(len(EDGES)) for op in OPS
    }
    for row, key in enumerate(keys):
        if key is None:
            fixed += dense[row]
        else:
            edge[key] += dense[row]
    return _Table(ks.kernels, fixed, edge)


def _block_arrays(nodes: list[Node], runtime: str, b: _Builder) -> KernelArrays:
    if not nodes:
        return KernelArrays.build([], [], [], [], [])
    g = Graph("block", list(nodes), [b.input], list(nodes[-1].outputs))
    return partition(g, runtime).arrays


def fuses_nothing(runtime: str) -> bool:
    """True when ``runtime`` runs every non-view node as its own kernel (no fusion rules)."""
    r = load_rules(runtime)
    return not r.absorb and not r.patterns and not r.elementwise_chains


def nb201_kernel_set(
    archs: Sequence[str] | None = None,
    *,
    batch: int = 1,
    runtime: str = "pytorch-eager",
    semantics: str = "reference",
) -> KernelSet:
    """KernelSet of NAS-Bench-201 networks (all 15,625 when ``archs`` is None).

    Fast (block table) for the reference semantics on runtimes without fusion; otherwise each
    network is built and partitioned whole, since fusion can cross block boundaries.
    """
    block_cache(batch)  # validates batch before any work
    canon = load_rules(runtime).runtime
    if archs is None:
        archs = nb201_all_archs()
    parsed = [parse_arch(a) for a in archs]
    if semantics == "reference" and fuses_nothing(canon):
        return _fast_set(list(archs), parsed, batch, canon)
    parts = [partition(nb201_graph_for(a, batch, semantics), canon).arrays for a in archs]
    return kernel_set_from_arrays(list(archs), parts)


def _fast_set(
    archs: list[str], parsed: Sequence[Sequence[str]], batch: int, runtime: str
) -> KernelSet:
    t = _table(batch, runtime)
    op_index = {op: i for i, op in enumerate(OPS)}
    # edge_mat[e * 5 + o] = counts of op o on edge e; an arch's row = fixed + sum of 6 rows
    edge_mat = np.stack([t.edge[(e, op)] for e in range(len(EDGES)) for op in OPS])
    codes = np.array([[op_index[o] for o in ops] for ops in parsed], dtype=np.int64)
    codes = codes.reshape(-1, len(EDGES))
    sel = codes + np.arange(len(EDGES)) * len(OPS)
    onehot = sp.csr_matrix(
        (
            np.ones(sel.size),
            (np.repeat(np.arange(len(archs)), len(EDGES)), sel.reshape(-1)),
        ),
        shape=(len(archs), edge_mat.shape[0]),
    )
    # few unique kernels (~30), so the dense (archs x kernels) product is small
    dense = np.asarray((onehot @ sp.csr_matrix(edge_mat)).todense()) + t.fixed[None, :]
    return KernelSet(tuple(archs), t.kernels, sp.csr_matrix(dense))
