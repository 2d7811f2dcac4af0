"""Ops that move or resample data: copies, layout changes, gathers, views and Resize.

Copies cost no FLOPs; their traffic is every operand read and every output written. Gathers are
the exception: they read only the rows they select, so ``bytes_read`` is the output's bytes plus
the indices' bytes, never the whole table (an embedding lookup would otherwise read the whole
vocabulary per token). Views (``VIEW_OPS``) alias their input: no bytes, no FLOPs.
"""

from __future__ import annotations

from estimator.ir.graph import Node
from estimator.ir.ops import VIEW_OPS, OpType
from estimator.ir.tensor import TensorInfo
from estimator.ops._common import make, nbytes, out_numel
from estimator.ops.cost import OpCost, register
from estimator.ops.params import register_params

COPY_OPS: tuple[str, ...] = (
    OpType.CONCAT,
    OpType.SPLIT,
    OpType.SLICE,
    OpType.TRANSPOSE,
    OpType.PAD,
    OpType.CAST,
    OpType.EXPAND,
    OpType.TILE,
    OpType.DEPTH_TO_SPACE,
    OpType.SPACE_TO_DEPTH,
    OpType.SCATTER_ND,
    OpType.SCATTER_ELEMENTS,
)

GATHER_OPS: tuple[str, ...] = (OpType.GATHER, OpType.GATHER_ELEMENTS, OpType.GATHER_ND)

_ZERO = OpCost(flops=0, macs=0, bytes_read=0, bytes_written=0, params=0)


@register(*COPY_OPS)
def copy(node: Node) -> OpCost:
    return make(node, 0)


@register_params(OpType.GATHER)
def _gather_params(node: Node) -> tuple[TensorInfo, ...]:
    """A constant table (an embedding) is a parameter; a gather from an activation has none."""
    return (node.inputs[0],) if node.inputs[0].is_const else ()


@register(*GATHER_OPS)
def gather(node: Node) -> OpCost:
    written = nbytes(node.outputs)
    read = written + nbytes(node.inputs[1:])
    params = sum(t.numel for t in _gather_params(node)) if node.op == OpType.GATHER else 0
    return OpCost(flops=0, macs=0, bytes_read=read, bytes_written=written, params=params)


@register(*VIEW_OPS)
def view(node: Node) -> OpCost:
    return _ZERO


def _resized_axes(node: Node) -> int:
    x, y = node.inputs[0], node.outputs[0]
    return sum(1 for a, b in zip(x.shape, y.shape, strict=False) if a != b)


@register(OpType.RESIZE)
def resize(node: Node) -> OpCost:
    """Per output element, over the d axes whose size changes: nearest 0; linear a weighted sum
    of 2^d neighbours (2^d multiplies + 2^d - 1 adds); cubic the same over 4^d neighbours.

    Interpolation weights depend on the output coordinate only and are amortized: not counted.
    """
    mode = str(node.attrs.get("mode", "nearest"))
    d = _resized_axes(node)
    if mode.startswith("nearest") or d == 0:
        per = 0
    else:
        taps = (4 if mode == "cubic" else 2) ** d  # any other interpolating mode: as linear
        per = 2 * taps - 1
    return make(node, per * out_numel(node))
