"""Small helpers every rule module shares.

Kept free of any op knowledge so each family module reads as its counting convention and nothing
else. All counts are Python ints: a float would round a 10**12-FLOP model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from estimator.ir.graph import Node
from estimator.ir.tensor import TensorInfo
from estimator.ops.cost import OpCost

prod = math.prod


def nbytes(tensors: Iterable[TensorInfo]) -> int:
    return sum(t.nbytes for t in tensors)


def numel(tensors: Iterable[TensorInfo]) -> int:
    return sum(t.numel for t in tensors)


def traffic(node: Node) -> tuple[int, int]:
    """(bytes read, bytes written) under the default convention: every operand, every output."""
    return nbytes(node.inputs), nbytes(node.outputs)


def out_numel(node: Node) -> int:
    """Elements of the first output, the one every elementwise convention is counted on."""
    return node.outputs[0].numel if node.outputs else 0


def const_numel(tensors: Iterable[TensorInfo]) -> int:
    """Elements of the constant tensors among ``tensors``: the learnable parameters."""
    return sum(t.numel for t in tensors if t.is_const)


def make(node: Node, flops: int, macs: int = 0, params: int = 0) -> OpCost:
    """An :class:`OpCost` with the default traffic convention."""
    read, written = traffic(node)
    return OpCost(flops=flops, macs=macs, bytes_read=read, bytes_written=written, params=params)
