"""Peak activation memory by liveness over the node order.

A tensor is live from the step its producer runs (graph inputs: from the start) to the step of
its last consumer (graph outputs: to the end). At each step a node's inputs and outputs are live
together, which is what an out-of-place kernel needs. Views alias their input: they add no bytes
and extend the life of the tensor they alias. Constants are weights, not activations, and are
left out.
"""

from __future__ import annotations

from estimator.ir.graph import Graph


def peak_activation_bytes(graph: Graph) -> int:
    """Max over steps of the bytes of live activation tensors."""
    return max(live_bytes_per_step(graph), default=0)


def live_bytes_per_step(graph: Graph) -> list[int]:
    """Live activation bytes while each node runs (one linear pass + a prefix sum).

    A graph without nodes has one step: its inputs.
    """
    nodes = graph.nodes
    n = len(nodes)
    base: dict[str, str] = {}  # tensor name -> name of the buffer it aliases
    size: dict[str, int] = {}
    start: dict[str, int] = {}
    last: dict[str, int] = {}
    for t in graph.inputs:
        if not t.is_const:
            base[t.name] = t.name
            size[t.name] = t.nbytes
            start[t.name] = 0
            last[t.name] = 0
    for i, node in enumerate(nodes):
        for t in node.inputs:
            b = base.get(t.name)
            if b is not None:
                last[b] = i
        if node.is_view:
            src = base.get(node.inputs[0].name) if node.inputs else None
            for t in node.outputs:
                if src is not None:
                    base[t.name] = src
            continue
        for t in node.outputs:
            if t.is_const:
                continue
            base[t.name] = t.name
            size[t.name] = t.nbytes
            start[t.name] = i
            last[t.name] = i
    if n == 0:
        return [sum(size.values())]
    for t in graph.outputs:
        b = base.get(t.name)
        if b is not None:
            last[b] = n - 1
    delta = [0] * (n + 1)
    for name, nb in size.items():
        delta[start[name]] += nb
        delta[last[name] + 1] -= nb
    steps = []
    live = 0
    for d in delta[:n]:
        live += d
        steps.append(live)
    return steps
