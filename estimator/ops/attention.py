"""Scaled dot-product attention (projections are separate Gemm/MatMul nodes).

Counting conventions (docs/design/cost_model.md):

* Both products are counted in full, causal or not: MACs = B*H*Lq*Lk*D + B*H*Lq*Lk*Dv. Published
  tables (DeiT-Ti's 1.3 G, fvcore-style multiply-adds) include the full score matrix, and a causal
  kernel that skips masked tiles is an efficiency question for the calibrated profiles, not a
  change in the work the operator defines.
* Per score element: 1 scale multiply, 5 softmax FLOPs (max, subtract, exp, sum, divide), and 1
  add when a mask is applied (an explicit mask operand or ``is_causal``).
* Grouped-query attention (Hkv < H) costs the same as H full heads: each query head still
  multiplies against a full K and V.
* A sliding window (attribute ``window``, the LLM builder's; no ONNX op has it) caps the keys
  each query scores: Lk becomes min(Lk, window), as a windowed kernel skips the rest.
"""

from __future__ import annotations

from estimator.ir.graph import Node
from estimator.ir.ops import OpType
from estimator.ops._common import make, prod
from estimator.ops.cost import OpCost, register

SOFTMAX_FLOPS_PER_ELEMENT = 5
SCALE_FLOPS_PER_SCORE = 1
MASK_FLOPS_PER_SCORE = 1


@register(OpType.ATTENTION)
def attention(node: Node) -> OpCost:
    q, k, v = node.inputs[0], node.inputs[1], node.inputs[2]
    bh = prod(q.shape[:-2])
    lq, d = q.shape[-2], q.shape[-1]
    lk, dv = k.shape[-2], v.shape[-1]
    window = node.attrs.get("window")
    if window is not None:
        lk = min(lk, int(window))
    scores = bh * lq * lk
    macs = scores * d + scores * dv
    per_score = SOFTMAX_FLOPS_PER_ELEMENT + SCALE_FLOPS_PER_SCORE
    if len(node.inputs) > 3 or int(node.attrs.get("is_causal", 0)):
        per_score += MASK_FLOPS_PER_SCORE
    return make(node, 2 * macs + per_score * scores, macs)
