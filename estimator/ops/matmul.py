"""Dense contractions: Gemm, MatMul and Einsum.

Every count here is ``MACs = (number of output elements) * (contracted length)``, written from the
operand shapes so that broadcasting and 1-D operands follow numpy's rules exactly.
"""

from __future__ import annotations

from functools import lru_cache

from estimator.errors import InputError
from estimator.ir.graph import Node
from estimator.ir.ops import OpType
from estimator.ir.tensor import TensorInfo
from estimator.ops._common import make, prod
from estimator.ops.cost import OpCost, register
from estimator.ops.params import all_consts, consts_after_first, count, register_params

register_params(OpType.GEMM)(consts_after_first)
register_params(OpType.MATMUL, OpType.EINSUM)(all_consts)


@register(OpType.GEMM)
def gemm(node: Node) -> OpCost:
    """Y = alpha * op(A) @ op(B) + beta * C, A of rank >= 2 (leading dims are batch).

    MACs = rows(A) * K * N. FLOPs = 2*MACs, plus one multiply per output element when
    ``alpha != 1``, one multiply per element of C when ``beta != 1``, and one add per output
    element for the bias C. Params: constant B and constant C.
    """
    a, b = node.inputs[0], node.inputs[1]
    trans_a = int(node.attrs.get("transA", 0))
    trans_b = int(node.attrs.get("transB", 0))
    k = a.shape[-2] if trans_a else a.shape[-1]
    n = b.shape[0] if trans_b else b.shape[1]
    rows = a.numel // k if k else 0
    macs = rows * k * n
    out = rows * n
    flops = 2 * macs
    if float(node.attrs.get("alpha", 1.0)) != 1.0:
        flops += out
    if len(node.inputs) > 2:
        c = node.inputs[2]
        flops += out
        if float(node.attrs.get("beta", 1.0)) != 1.0:
            flops += c.numel
    return make(node, flops, macs, count(consts_after_first(node)))


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """numpy broadcast of two batch shapes (sizes 1 stretch; 0 wins over 1)."""
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + a
    b = (1,) * (n - len(b)) + b
    return tuple(y if x == 1 else x for x, y in zip(a, b, strict=True))


def matmul_macs(a: TensorInfo, b: TensorInfo) -> int:
    """MACs of numpy ``matmul(a, b)``: a 1-D ``a`` is a row ``[1, K]``, a 1-D ``b`` a column."""
    sa, sb = a.shape, b.shape
    k = sa[-1]
    m = sa[-2] if len(sa) >= 2 else 1
    n = sb[-1] if len(sb) >= 2 else 1
    batch = _broadcast(sa[:-2], sb[:-2])
    return prod(batch) * m * n * k


@register(OpType.MATMUL)
def matmul(node: Node) -> OpCost:
    """MACs = prod(broadcast batch) * M * N * K. Params: a constant operand (a weight)."""
    macs = matmul_macs(node.inputs[0], node.inputs[1])
    return make(node, 2 * macs, macs, count(all_consts(node)))


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@lru_cache(maxsize=256)
def parse_einsum(equation: str, ranks: tuple[int, ...]) -> tuple[tuple[str, ...], str]:
    """Split an einsum equation into per-operand label strings and the output labels.

    ``...`` becomes fresh labels (right-aligned, numpy style) and an implicit output is the sorted
    labels that appear exactly once, as numpy defines it.
    """
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise InputError(f"Einsum equation {equation!r}: {len(terms)} operands, got {len(ranks)}")
    used = set(eq) - {".", ",", "-", ">"}
    spare = [c for c in _LETTERS if c not in used]
    n_ell = max(
        (r - (len(t) - 3) for t, r in zip(terms, ranks, strict=True) if "..." in t), default=0
    )
    ell = "".join(spare[:n_ell])
    out_terms = []
    for t, r in zip(terms, ranks, strict=True):
        if "..." in t:
            k = r - (len(t) - 3)
            t = t.replace("...", ell[n_ell - k :] if k else "")
        out_terms.append(t)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts: dict[str, int] = {}
        for t in out_terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, v in counts.items() if v == 1 and c not in ell))
    return tuple(out_terms), out


def einsum_macs(equation: str, shapes: tuple[tuple[int, ...], ...]) -> tuple[int, int]:
    """(MACs, reduction adds) of an einsum contracted pairwise, left to right.

    Each pairwise step costs the product of the sizes of every label either operand carries; the
    intermediate keeps the labels still needed by a later operand or the output. A single operand
    (trace, sum, transpose) has no MACs; summing away labels costs one add per input element.
    """
    terms, out = parse_einsum(equation, tuple(len(s) for s in shapes))
    size: dict[str, int] = {}
    for t, s in zip(terms, shapes, strict=True):
        for c, d in zip(t, s, strict=True):
            if d != 1 or c not in size:
                size[c] = d
    if len(terms) == 1:
        adds = prod(shapes[0]) if set(terms[0]) - set(out) else 0
        return 0, adds
    macs = 0
    cur = terms[0]
    for i in range(1, len(terms)):
        nxt = terms[i]
        labels = set(cur) | set(nxt)
        macs += prod(size[c] for c in labels)
        needed = set(out).union(*terms[i + 1 :])
        cur = "".join(sorted(c for c in labels if c in needed))
    return macs, 0


@register(OpType.EINSUM)
def einsum(node: Node) -> OpCost:
    """Pairwise left-to-right contraction (see :func:`einsum_macs`), FLOPs = 2*MACs (+ adds)."""
    equation = str(node.attrs["equation"])
    macs, adds = einsum_macs(equation, tuple(t.shape for t in node.inputs))
    return make(node, 2 * macs + adds, macs, count(all_consts(node)))
