"""NAS-Bench-201 networks under the two meanings of a cell with ``none`` edges.

* ``"reference"`` (the default everywhere an arch string is accepted): the NAS-Bench-201
  reference code (``xautodl`` ``InferCell``) run as is, which is what the published latency
  tables (HELP's GPU, CPU and phone columns, ../shared/data/nasbench201) timed: every edge runs,
  ``none`` is ``x.mul(0.)`` (one kernel), ``skip_connect`` is the identity (no kernel), and node
  j is ``sum(edge outputs)``; Python's ``sum`` starts from ``0``, so node j costs one ``Add`` per
  incoming edge (``0 + y1`` launches a kernel too). A linear fit of the HELP columns on edge-op
  counts gives every ``none`` edge a positive cost (~0.77 ms on the 1080 Ti at batch 1,
  docs/transfer.md), which only the reference semantics explains.
* ``"pruned"`` (:func:`estimator.zoo.nb201_ir.nb201_graph`): dead edges removed, what a
  deployment that cleans the graph runs (HW-NAS-Bench's TFLite export constant-folds them: its
  ``pixel3`` column reports ~0 ms for networks whose cells output zeros).

The default is ``reference`` because the latencies people compare against were measured that
way, and few-shot profiles fitted on them record the semantics they were fitted for.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from estimator.errors import InputError
from estimator.ir.dtypes import DType
from estimator.ir.graph import Graph, Node
from estimator.ir.tensor import TensorInfo
from estimator.zoo.nb201_ir import (
    CELLS_PER_STAGE,
    EDGES,
    OPS,
    REDUCTION_CELLS,
    block_cache,
    nb201_graph,
    parse_arch,
    pool_attrs,
)

Semantics = Literal["reference", "pruned"]
SEMANTICS: tuple[str, ...] = ("reference", "pruned")
#: What an NAS-Bench-201 arch string means when the caller does not say.
DEFAULT_SEMANTICS = "reference"

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


def check_semantics(semantics: str) -> Semantics:
    """``semantics`` if valid, else an InputError listing the valid ones."""
    if semantics == "reference":
        return "reference"
    if semantics == "pruned":
        return "pruned"
    raise InputError(
        f"unknown NAS-Bench-201 semantics {semantics!r}; valid: {', '.join(SEMANTICS)}"
    )


def nb201_graph_for(arch: str, batch: int = 1, semantics: str = DEFAULT_SEMANTICS) -> Graph:
    """The IR of ``arch`` under ``semantics`` (``reference`` or ``pruned``)."""
    if check_semantics(semantics) == "reference":
        return nb201_reference_graph(arch, batch)
    return nb201_graph(arch, batch)
