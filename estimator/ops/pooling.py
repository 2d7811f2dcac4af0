"""Windowed and global pooling.

Convention (docs/design/cost_model.md): a window of k elements costs k-1 comparisons for a max
and k-1 adds + 1 divide = k FLOPs for an average, per output element. Windows clipped by padding
are counted as full windows (the difference is a border effect and the output shape is exact).
Global pools are the same rule with the window being the whole spatial extent.
"""

from __future__ import annotations

from estimator.ir.graph import Node
from estimator.ir.ops import OpType
from estimator.ops._common import make, out_numel, prod
from estimator.ops.cost import OpCost, register


def _window(node: Node) -> int:
    kernel = node.attrs.get("kernel_shape")
    if kernel:
        return prod(int(k) for k in kernel)
    return prod(node.inputs[0].shape[2:])


@register(OpType.MAX_POOL)
def max_pool(node: Node) -> OpCost:
    return make(node, (_window(node) - 1) * out_numel(node))


@register(OpType.AVERAGE_POOL)
def average_pool(node: Node) -> OpCost:
    return make(node, _window(node) * out_numel(node))


@register(OpType.GLOBAL_MAX_POOL)
def global_max_pool(node: Node) -> OpCost:
    """HW-1 comparisons per channel = input elements - output elements."""
    return make(node, node.inputs[0].numel - out_numel(node))


@register(OpType.GLOBAL_AVERAGE_POOL)
def global_average_pool(node: Node) -> OpCost:
    """HW-1 adds + 1 divide per channel = one FLOP per input element."""
    return make(node, node.inputs[0].numel)
