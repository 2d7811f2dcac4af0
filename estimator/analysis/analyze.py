"""Whole-graph totals: FLOPs, MACs, params, bytes and peak activation memory.

One pass over the nodes with the per-op rules of :mod:`estimator.ops`; the per-node costs are kept
so the partitioner and the reports never recompute them.
"""

from __future__ import annotations

from dataclasses import dataclass

from estimator.analysis.liveness import peak_activation_bytes
from estimator.errors import UnsupportedOpError
from estimator.gcpause import with_gc_paused
from estimator.ir.graph import Graph, Node
from estimator.ops import OpCost, cost_of, param_tensors


@dataclass(frozen=True, slots=True)
class NodeCost:
    node: Node
    cost: OpCost


@dataclass(frozen=True, slots=True)
class ModelCost:
    name: str
    flops: int
    macs: int
    #: Learnable parameters, each constant tensor counted once however many nodes read it.
    params: int
    #: Bytes of every distinct constant tensor (weights, buffers, shape operands).
    weight_bytes: int
    #: Bytes of every activation the graph materializes: graph inputs and non-view outputs.
    activation_bytes: int
    bytes_read: int
    bytes_written: int
    peak_activation_bytes: int
    #: Op type -> number of nodes costed as memory traffic only.
    unmodeled: dict[str, int]
    nodes: list[NodeCost]


@with_gc_paused
def analyze_graph(graph: Graph, *, strict: bool = False) -> ModelCost:
    """Cost every node and total the graph.

    ``strict=True`` refuses a graph with ops no rule knows (``UnsupportedOpError`` naming them
    with their counts) instead of costing them as memory traffic only.
    """
    flops = macs = params = read = written = 0
    weight_bytes = 0
    activation_bytes = sum(t.nbytes for t in graph.inputs if not t.is_const)
    consts: set[str] = set()
    # Constants the frontend computed from other constants (a gathered bias table) are not
    # stored parameters; seeding them as counted keeps them out of the total.
    counted: set[str] = set(graph.metadata.get("folded_constants", ()))
    unmodeled: dict[str, int] = {}
    nodes: list[NodeCost] = []
    for node in graph.nodes:
        c = cost_of(node)
        nodes.append(NodeCost(node, c))
        flops += c.flops
        macs += c.macs
        read += c.bytes_read
        written += c.bytes_written
        if not c.modeled:
            unmodeled[node.op] = unmodeled.get(node.op, 0) + 1
        for t in param_tensors(node):
            if t.name not in counted:
                counted.add(t.name)
                params += t.numel
        for t in node.inputs:
            if t.is_const and t.name not in consts:
                consts.add(t.name)
                weight_bytes += t.nbytes
        if not node.is_view:
            for t in node.outputs:
                if not t.is_const:
                    activation_bytes += t.nbytes
    if strict and unmodeled:
        listed = ", ".join(
            f"{op} x{n}" for op, n in sorted(unmodeled.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        raise UnsupportedOpError(f"graph {graph.name!r}: unsupported ops: {listed}")
    return ModelCost(
        name=graph.name,
        flops=flops,
        macs=macs,
        params=params,
        weight_bytes=weight_bytes,
        activation_bytes=activation_bytes,
        bytes_read=read,
        bytes_written=written,
        peak_activation_bytes=peak_activation_bytes(graph),
        unmodeled=unmodeled,
        nodes=nodes,
    )
