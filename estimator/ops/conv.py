"""Convolution and transposed convolution (1D, 2D, 3D, grouped, dilated).

Counts read the shapes of the weight and of the tensors, not the attributes: the weight shape
already folds in ``group`` and the kernel size, and the output shape folds in stride, padding
and dilation, so the count cannot disagree with the tensors the graph actually moves.
"""

from __future__ import annotations

from estimator.ir.graph import Node
from estimator.ir.ops import OpType
from estimator.ops._common import make, prod
from estimator.ops.cost import OpCost, register
from estimator.ops.params import consts_after_first, count, register_params

register_params(OpType.CONV, OpType.CONV_TRANSPOSE)(consts_after_first)


@register(OpType.CONV)
def conv(node: Node) -> OpCost:
    """MACs = N*Cout*prod(out) * (Cin/group)*prod(kernel).

    W is ``[Cout, Cin/group, *k]``, so ``prod(W.shape[1:])`` is the per-output dot length and the
    output ``[N, Cout, *out]`` has one dot product per element. A bias adds one FLOP (an add, not a
    MAC) per output element.
    """
    w = node.inputs[1]
    y = node.outputs[0]
    macs = y.numel * prod(w.shape[1:])
    bias_flops = y.numel if len(node.inputs) > 2 else 0
    return make(node, 2 * macs + bias_flops, macs, count(consts_after_first(node)))


@register(OpType.CONV_TRANSPOSE)
def conv_transpose(node: Node) -> OpCost:
    """MACs = N*Cin*prod(in_spatial) * (Cout/group)*prod(kernel).

    Each input element is scattered into ``(Cout/group)*prod(k)`` outputs; W is
    ``[Cin, Cout/group, *k]``. Bias: one add per output element.
    """
    x, w = node.inputs[0], node.inputs[1]
    y = node.outputs[0]
    macs = x.numel * prod(w.shape[1:])
    bias_flops = y.numel if len(node.inputs) > 2 else 0
    return make(node, 2 * macs + bias_flops, macs, count(consts_after_first(node)))
