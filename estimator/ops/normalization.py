"""Softmax family and normalization layers (inference form).

Counting conventions (docs/design/cost_model.md), per element of the data tensor:

* Softmax, LogSoftmax: 5 (max, subtract, exp, sum, divide or subtract-log). Per-row terms (the log
  of LogSoftmax) are O(rows) and left out.
* BatchNormalization (inference): 2. The running statistics fold into one scale and one shift,
  which is what every inference runtime executes.
* LayerNormalization, GroupNormalization, InstanceNormalization: 5 for the statistics and the
  normalization (add for the mean, subtract, square, add for the variance, multiply by the
  reciprocal std) + 1 for a scale + 1 for a bias. Per-group terms (divide, eps, sqrt) are left out.
* RMSNormalization: 3 (square, add, multiply by reciprocal RMS) + 1 scale + 1 bias.
* LpNormalization: 3 (|x| or x^2, add, divide).
"""

from __future__ import annotations

from estimator.ir.graph import Node
from estimator.ir.ops import OpType
from estimator.ir.tensor import TensorInfo
from estimator.ops._common import make
from estimator.ops.cost import OpCost, register
from estimator.ops.params import consts_after_first, count, register_params

SOFTMAX_FLOPS = 5
BATCH_NORM_FLOPS = 2
NORM_STATS_FLOPS = 5
RMS_STATS_FLOPS = 3
AFFINE_FLOPS = 1  # per element, for each of scale and bias that is present
LP_NORM_FLOPS = 3

register_params(OpType.LAYER_NORM, OpType.GROUP_NORM, OpType.INSTANCE_NORM, OpType.RMS_NORM)(
    consts_after_first
)


@register_params(OpType.BATCH_NORM)
def _bn_params(node: Node) -> tuple[TensorInfo, ...]:
    """Scale and bias (inputs 1 and 2); running mean and variance are buffers."""
    return tuple(t for t in node.inputs[1:3] if t.is_const)


@register(OpType.SOFTMAX, OpType.LOG_SOFTMAX)
def softmax(node: Node) -> OpCost:
    return make(node, SOFTMAX_FLOPS * node.inputs[0].numel)


@register(OpType.BATCH_NORM)
def batch_norm(node: Node) -> OpCost:
    return make(node, BATCH_NORM_FLOPS * node.inputs[0].numel, params=count(_bn_params(node)))


def _affine_norm(node: Node, stats_flops: int) -> OpCost:
    """Stats + one FLOP per element for each of scale and bias the node carries."""
    per_element = stats_flops + AFFINE_FLOPS * (len(node.inputs) - 1)
    return make(node, per_element * node.inputs[0].numel, params=count(consts_after_first(node)))


@register(OpType.LAYER_NORM, OpType.GROUP_NORM, OpType.INSTANCE_NORM)
def layer_norm(node: Node) -> OpCost:
    return _affine_norm(node, NORM_STATS_FLOPS)


@register(OpType.RMS_NORM)
def rms_norm(node: Node) -> OpCost:
    return _affine_norm(node, RMS_STATS_FLOPS)


@register(OpType.LP_NORM)
def lp_norm(node: Node) -> OpCost:
    return make(node, LP_NORM_FLOPS * node.inputs[0].numel)
