"""Reductions, arg-reductions, scans and top-k.

Convention (docs/design/cost_model.md): folding n elements into one costs n-1 binary operations,
so a reduction from ``I`` input to ``O`` output elements costs ``I - O`` plus whatever per-element
(``I``) or per-output (``O``) work its formula adds.
"""

from __future__ import annotations

from estimator.ir.graph import Node
from estimator.ir.ops import OpType
from estimator.ops._common import make, out_numel
from estimator.ops.cost import OpCost, register


def _io(node: Node) -> tuple[int, int]:
    return node.inputs[0].numel, out_numel(node)


@register(OpType.REDUCE_SUM, OpType.REDUCE_MAX, OpType.REDUCE_MIN, OpType.REDUCE_PROD)
def fold(node: Node) -> OpCost:
    """I - O binary operations."""
    i, o = _io(node)
    return make(node, i - o)


@register(OpType.REDUCE_MEAN)
def reduce_mean(node: Node) -> OpCost:
    """I - O adds + O divides = I."""
    i, _ = _io(node)
    return make(node, i)


@register(OpType.REDUCE_L1, OpType.REDUCE_SUM_SQUARE)
def reduce_map_fold(node: Node) -> OpCost:
    """|x| or x*x per input element, then I - O adds: 2I - O."""
    i, o = _io(node)
    return make(node, 2 * i - o)


@register(OpType.REDUCE_L2, OpType.REDUCE_LOG_SUM_EXP)
def reduce_map_fold_finish(node: Node) -> OpCost:
    """x*x (or exp) per input, I - O adds, sqrt (or log) per output: 2I."""
    i, _ = _io(node)
    return make(node, 2 * i)


@register(OpType.ARG_MAX, OpType.ARG_MIN)
def arg_reduce(node: Node) -> OpCost:
    """I - O comparisons."""
    i, o = _io(node)
    return make(node, i - o)


@register(OpType.CUM_SUM)
def cum_sum(node: Node) -> OpCost:
    """A running sum along ``axis``: each line of length L costs L-1 adds."""
    x = node.inputs[0]
    axis = int(node.attrs.get("axis", 0))
    length = x.shape[axis] if x.shape else 1
    lines = x.numel // length if length else 0
    return make(node, lines * max(length - 1, 0))


@register(OpType.TOP_K)
def top_k(node: Node) -> OpCost:
    """Heap selection: ceil(log2(k)) comparisons per input element, at least one.

    k is read from the output shape along ``axis``: the K operand's value is not in the IR.
    """
    x = node.inputs[0]
    axis = int(node.attrs.get("axis", x.rank - 1))
    k = node.outputs[0].shape[axis] if node.outputs and x.rank else 1
    per_element = max((k - 1).bit_length(), 1)
    return make(node, per_element * x.numel)
