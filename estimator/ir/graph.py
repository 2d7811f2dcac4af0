"""The typed graph every downstream stage works on.

Both frontends produce a :class:`Graph`; nothing after them knows whether the model came from ONNX
or torch.fx. Nodes are stored in a valid topological order, which the frontends guarantee and
:meth:`Graph.validate` checks, so passes can walk ``graph.nodes`` front to back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from estimator.ir.ops import VIEW_OPS, is_known
from estimator.ir.tensor import TensorInfo


@dataclass(slots=True)
class Node:
    """One operator instance.

    ``inputs`` keeps the operator's operand order (ONNX order for ops ONNX defines), activations
    and constants alike; ``TensorInfo.is_const`` tells them apart. Absent optional operands are
    dropped, so cost rules must not rely on the position of an optional operand.
    """

    name: str
    op: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    #: Name of the node (or module path / fx node) in the source model, for reports.
    source: str = ""
    #: The source framework's own op name (ONNX op_type, torch target), for reports.
    source_op: str = ""

    @property
    def known(self) -> bool:
        return is_known(self.op)

    @property
    def is_view(self) -> bool:
        return self.op in VIEW_OPS

    @property
    def activations(self) -> tuple[TensorInfo, ...]:
        return tuple(t for t in self.inputs if not t.is_const)

    @property
    def weights(self) -> tuple[TensorInfo, ...]:
        return tuple(t for t in self.inputs if t.is_const)


@dataclass(slots=True)
class Graph:
    name: str
    nodes: list[Node]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    #: Free-form provenance: source format, opset, frontend notes (e.g. folded shape subgraphs).
    metadata: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def producers(self) -> dict[str, Node]:
        """Map tensor name -> the node that writes it."""
        return {t.name: n for n in self.nodes for t in n.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        """Map tensor name -> the nodes that read it, in topological order."""
        out: dict[str, list[Node]] = {}
        for n in self.nodes:
            for t in n.inputs:
                out.setdefault(t.name, []).append(n)
        return out

    def validate(self) -> None:
        """Check the structural invariants downstream passes rely on.

        Raises ``ValueError`` naming the first offending node: a frontend bug, not a user error.
        """
        available = {t.name for t in self.inputs}
        names: set[str] = set()
        for n in self.nodes:
            if n.name in names:
                raise ValueError(f"duplicate node name {n.name!r}")
            names.add(n.name)
            for t in n.inputs:
                if not t.is_const and t.name not in available:
                    raise ValueError(
                        f"node {n.name!r} reads {t.name!r} before any node produces it"
                    )
            for t in n.outputs:
                if t.name in available:
                    raise ValueError(f"tensor {t.name!r} is produced twice (node {n.name!r})")
                available.add(t.name)
        for t in self.outputs:
            if t.name not in available:
                raise ValueError(f"graph output {t.name!r} is never produced")
