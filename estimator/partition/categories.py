"""Which efficiency curve a kernel uses: its category.

Categories group kernels that reach similar fractions of peak (a depthwise conv is memory-bound
where a dense conv of the same FLOPs is not, shared/seeds/000). The rules are structural (op type
and conv geometry), so they are code; the efficiencies per category are data.
"""

from __future__ import annotations

from estimator.engine.layout import CATEGORIES, CATEGORY_INDEX, DTYPE_INDEX, DTYPE_KEYS
from estimator.ir.dtypes import DType
from estimator.ir.graph import Node
from estimator.ir.ops import OpType
from estimator.registry.models import KernelCategory

#: IR element type -> the peak that bounds its arithmetic. Integer index math, booleans and
#: float64 are bounded by the fp32 vector units here (a documented approximation).
_IR_DTYPE_KEY: dict[DType, str] = {
    DType.FLOAT16: "fp16",
    DType.BFLOAT16: "bf16",
    DType.INT8: "int8",
    DType.UINT8: "int8",
}

_O = OpType
_BY_OP: dict[str, KernelCategory] = {
    **{op: KernelCategory.GEMM for op in (_O.GEMM, _O.MATMUL, _O.EINSUM, _O.LSTM, _O.GRU, _O.RNN)},
    _O.ATTENTION: KernelCategory.ATTENTION,
    **{
        op: KernelCategory.NORMALIZATION
        for op in (
            _O.BATCH_NORM,
            _O.LAYER_NORM,
            _O.GROUP_NORM,
            _O.INSTANCE_NORM,
            _O.RMS_NORM,
            _O.LP_NORM,
        )
    },
    **{
        op: KernelCategory.POOLING
        for op in (_O.MAX_POOL, _O.AVERAGE_POOL, _O.GLOBAL_AVERAGE_POOL, _O.GLOBAL_MAX_POOL)
    },
    **{
        op: KernelCategory.REDUCTION
        for op in (
            _O.REDUCE_MEAN,
            _O.REDUCE_SUM,
            _O.REDUCE_MAX,
            _O.REDUCE_MIN,
            _O.REDUCE_PROD,
            _O.REDUCE_L1,
            _O.REDUCE_L2,
            _O.REDUCE_SUM_SQUARE,
            _O.REDUCE_LOG_SUM_EXP,
            _O.ARG_MAX,
            _O.ARG_MIN,
            _O.CUM_SUM,
            _O.TOP_K,
            _O.SOFTMAX,
            _O.LOG_SOFTMAX,
        )
    },
    **{
        op: KernelCategory.DATA_MOVEMENT
        for op in (
            _O.RESIZE,
            _O.DEPTH_TO_SPACE,
            _O.SPACE_TO_DEPTH,
            _O.CONCAT,
            _O.SPLIT,
            _O.SLICE,
            _O.GATHER,
            _O.GATHER_ELEMENTS,
            _O.GATHER_ND,
            _O.SCATTER_ND,
            _O.SCATTER_ELEMENTS,
            _O.TRANSPOSE,
            _O.PAD,
            _O.CAST,
            _O.EXPAND,
            _O.TILE,
            _O.RESHAPE,
            _O.FLATTEN,
            _O.SQUEEZE,
            _O.UNSQUEEZE,
            _O.IDENTITY,
            _O.DROPOUT,
        )
    },
}


def conv_category(node: Node) -> KernelCategory:
    """Dense, depthwise, pointwise or grouped, from the weight shape and ``group``.

    Depthwise: one filter group per input channel (``group == Cin`` and Cout a multiple of Cin,
    the usual ``group == Cin == Cout``). Pointwise: all kernel dims 1 and ``group == 1``.
    """
    group = int(node.attrs.get("group", 1))
    x, w = node.inputs[0], node.inputs[1]
    transpose = node.op == OpType.CONV_TRANSPOSE
    cin = x.shape[1] if x.rank > 1 else 1
    cout = (w.shape[1] * group) if transpose else w.shape[0]
    kernel = tuple(node.attrs.get("kernel_shape", w.shape[2:]))
    if group > 1 and group == cin and cout % cin == 0:
        return KernelCategory.CONV_DEPTHWISE
    if group > 1:
        return KernelCategory.CONV_GROUPED
    if all(k == 1 for k in kernel):
        return KernelCategory.CONV_POINTWISE
    return KernelCategory.CONV_DENSE


def classify(node: Node) -> KernelCategory:
    """Category of a kernel whose main (anchor) node is ``node``; unknown ops -> ``other``."""
    if node.op in (OpType.CONV, OpType.CONV_TRANSPOSE):
        return conv_category(node)
    cat = _BY_OP.get(node.op)
    if cat is not None:
        return cat
    if node.known:
        # Every remaining IR op is elementwise arithmetic, logic or an activation.
        return KernelCategory.ELEMENTWISE
    return KernelCategory.OTHER


def dtype_key(dtype: DType) -> str:
    return _IR_DTYPE_KEY.get(dtype, "fp32")


__all__ = ["CATEGORIES", "CATEGORY_INDEX", "DTYPE_INDEX", "DTYPE_KEYS", "classify", "dtype_key"]
