"""Elementwise arithmetic, logic and activations.

Counting convention (a convention like fvcore's, not an efficiency figure): every arithmetic
operation, comparison, select and elementary function (exp, log, tanh, erf, sqrt, ...) costs one
FLOP per element; a composite activation costs the sum of the operations of its defining formula.
The table of constants and their derivations is in docs/design/cost_model.md and is mirrored by
:data:`UNARY_FLOPS` below.
"""

from __future__ import annotations

from estimator.ir.graph import Node
from estimator.ir.ops import OpType
from estimator.ir.tensor import TensorInfo
from estimator.ops._common import make, out_numel
from estimator.ops.cost import OpCost, register
from estimator.ops.params import register_params

#: FLOPs per output element of single-input ops (and of PRelu, whose slope is a parameter).
UNARY_FLOPS: dict[str, int] = {
    OpType.RELU: 1,  # max(x, 0)
    OpType.LEAKY_RELU: 2,  # max(x, a*x): mul, max
    OpType.PRELU: 2,  # same with a learned slope
    OpType.ELU: 4,  # x > 0 ? x : a*(exp(x)-1): compare, exp, sub, mul
    OpType.SELU: 5,  # Elu + scale multiply
    OpType.CELU: 7,  # max(0,x) + min(0, a*(exp(x/a)-1)): div, exp, sub, mul, min, max, add
    OpType.CLIP: 2,  # min, max
    OpType.SIGMOID: 4,  # 1/(1+exp(-x)): neg, exp, add, div
    OpType.HARD_SIGMOID: 4,  # clamp(a*x+b, 0, 1): mul, add, max, min
    OpType.HARD_SWISH: 5,  # x * hardsigmoid(x)
    OpType.SILU: 5,  # x * sigmoid(x)
    OpType.MISH: 5,  # x * tanh(log(1+exp(x))): exp, add, log, tanh, mul
    OpType.ERF: 1,
    OpType.TANH: 1,
    OpType.EXP: 1,
    OpType.LOG: 1,
    OpType.SQRT: 1,
    OpType.RECIPROCAL: 1,
    OpType.ABS: 1,
    OpType.NEG: 1,
    OpType.SIN: 1,
    OpType.COS: 1,
    OpType.FLOOR: 1,
    OpType.CEIL: 1,
    OpType.ROUND: 1,
    OpType.SIGN: 1,
    OpType.NOT: 1,
    OpType.SOFTPLUS: 3,  # log(1+exp(x)): exp, add, log
    OpType.SOFTSIGN: 3,  # x/(1+|x|): abs, add, div
}

#: Gelu: 0.5*x*(1+erf(x/sqrt(2))): mul, erf, add, mul, mul.
GELU_ERF_FLOPS = 5
#: Gelu tanh form: 0.5*x*(1+tanh(c*(x+0.044715*x^3))): 2 mul (cube), mul, add, mul, tanh, add,
#: mul, mul.
GELU_TANH_FLOPS = 9

#: Binary ops: one FLOP per output element (broadcasting counted on the output).
BINARY_OPS: tuple[str, ...] = (
    OpType.ADD,
    OpType.SUB,
    OpType.MUL,
    OpType.DIV,
    OpType.POW,
    OpType.MOD,
    OpType.EQUAL,
    OpType.LESS,
    OpType.LESS_OR_EQUAL,
    OpType.GREATER,
    OpType.GREATER_OR_EQUAL,
    OpType.AND,
    OpType.OR,
    OpType.XOR,
    OpType.WHERE,
)

#: Variadic ops: n inputs fold with n-1 binary operations per output element.
VARIADIC_OPS: tuple[str, ...] = (OpType.SUM, OpType.MAX, OpType.MIN)


@register_params(OpType.PRELU)
def _prelu_params(node: Node) -> tuple[TensorInfo, ...]:
    return tuple(t for t in node.inputs[1:2] if t.is_const)


#: Arithmetic whose stored float operands are learned tensors in exported models: a Linear's bias
#: after MatMul, a position embedding, a layer scale; a class token reaches the graph through
#: Expand/Concat. Scalars (0.5 in GELU, epsilons) are not.
PARAM_ARITHMETIC: tuple[str, ...] = (OpType.ADD, OpType.SUB, OpType.MUL, OpType.DIV)


@register_params(*PARAM_ARITHMETIC, OpType.CONCAT, OpType.EXPAND, OpType.TILE)
def _arith_params(node: Node) -> tuple[TensorInfo, ...]:
    return tuple(t for t in node.inputs if t.is_const and t.dtype.is_float and t.numel > 1)


@register(*BINARY_OPS)
def binary(node: Node) -> OpCost:
    """One FLOP per output element; stored non-scalar float operands count as parameters."""
    params = sum(t.numel for t in _arith_params(node)) if node.op in PARAM_ARITHMETIC else 0
    return make(node, out_numel(node), params=params)


@register(*VARIADIC_OPS)
def variadic(node: Node) -> OpCost:
    return make(node, max(len(node.inputs) - 1, 0) * out_numel(node))


@register(OpType.MEAN)
def mean(node: Node) -> OpCost:
    """n-1 adds and one divide per output element; a single input is a copy."""
    n = len(node.inputs)
    return make(node, (n if n > 1 else 0) * out_numel(node))


def _unary(node: Node) -> OpCost:
    flops = UNARY_FLOPS[node.op] * out_numel(node)
    params = sum(t.numel for t in _prelu_params(node)) if node.op == OpType.PRELU else 0
    return make(node, flops, params=params)


register(*UNARY_FLOPS)(_unary)


@register(OpType.GELU)
def gelu(node: Node) -> OpCost:
    tanh = str(node.attrs.get("approximate", "none")) == "tanh"
    return make(node, (GELU_TANH_FLOPS if tanh else GELU_ERF_FLOPS) * out_numel(node))
