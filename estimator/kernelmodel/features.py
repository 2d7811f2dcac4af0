"""Shape features of kernels: the inputs of the learned per-kernel correction.

The roofline curves see a kernel through its category, log10 FLOPs and log10 bytes only. The
correction model (:mod:`estimator.kernelmodel.model`) sees the shape as well: groups and channels
per group of a convolution, M/N/K of a GEMM, the contiguous run length of a copy, the row width
of a norm. Features are read from the IR graph: the kernel's anchor node (its first member) and
that node's input/output :class:`TensorInfo` shapes and attributes.

The schema is fixed and versioned: a model file stores ``FEATURE_NAMES`` and ``FEATURE_VERSION``
and refuses to load under a different schema. Change a definition, add or reorder a feature ->
bump ``FEATURE_VERSION`` (and refit). Features that do not apply to a kernel's category are NaN
(the tree evaluator sends a missing value the way its split learned).

Conventions: ``log10_*`` features are ``log10(max(x, 1))`` (0 for 0). Counts are raw numbers
(trees are invariant to monotone transforms, so no scaling is needed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from estimator.ir.graph import Graph, Node
from estimator.ir.ops import OpType
from estimator.ir.tensor import TensorInfo
from estimator.partition.categories import CATEGORY_INDEX
from estimator.partition.kernel import Kernel
from estimator.partition.nchwc import NchwcRules, conv_takes_nchwc
from estimator.registry.models import KernelCategory

#: Bump whenever a feature is added, removed, reordered or redefined.
FEATURE_VERSION = 3
#: Earlier versions whose features are a prefix of these (v3 appended ``conv_nchwc``): their
#: trees read only the columns they knew, so their files stay valid.
PREFIX_VERSIONS: dict[int, int] = {2: 50}

FEATURE_NAMES: tuple[str, ...] = (
    # every kernel
    "log10_flops",  # compute work (Kernel.compute_work: FLOPs or elementary FLOP-equivalents)
    "log10_bytes",  # Kernel.bytes
    "log10_working_set",  # Kernel.working_set_bytes
    "arithmetic_intensity",  # compute work / bytes (NaN when bytes == 0)
    "log10_weight_bytes",  # distinct constant inputs of all member nodes
    "log10_output_elements",  # outputs of the last member node
    "n_ops",  # member nodes, fused-away ones included
    "op_code",  # OP_CODES[anchor op] (0: not in the table)
    "category",  # CATEGORY_INDEX of the kernel's category
    "elem_bytes",  # element size of the anchor's first activation (or output)
    "n_inputs",  # distinct tensors entering the kernel from outside (constants included)
    "n_outputs",  # outputs of the last member node
    # convolution (Conv, ConvTranspose anchors)
    "conv_n",
    "conv_cin",
    "conv_cout",
    "conv_groups",
    "conv_cin_per_group",
    "conv_cout_per_group",
    "conv_kernel_hw",  # product of the kernel's spatial dims
    "conv_stride",  # largest stride
    "conv_dilation",  # largest dilation
    "conv_out_hw",  # product of the output's spatial dims
    "conv_log10_out_hw",
    "conv_is_depthwise",
    "conv_is_pointwise",
    # channel counts' alignment: log2 of the largest power of two dividing them (capped at 6).
    # Runtimes take blocked SIMD paths (onnxruntime's NCHWc: blocks of 8 or 16 channels) only
    # for aligned channel counts; an unaligned depthwise conv can run 10x slower.
    "conv_cin_align",
    "conv_cout_align",
    "conv_group_width_align",  # of channels per group
    "conv_out_w",  # innermost output extent: the vectorized loop of NCHW kernels
    # GEMM / MatMul
    "gemm_m",  # rows of the activation per batch item (all leading dims when B is a 2-D weight)
    "gemm_n",
    "gemm_k",
    "gemm_batch",  # broadcast batch count (1 when A's leading dims are flattened into M)
    "gemm_weight_const",  # 1 when B is a constant initializer
    "gemm_log10_weight_bytes",  # bytes of the B operand
    "gemm_n_align",  # alignment (as for convs) of N and K: packed GEMM panels are 16 wide
    "gemm_k_align",
    # pooling
    "pool_window",  # window elements (global: the whole spatial extent)
    "pool_stride",  # largest stride (NaN for global pools)
    "pool_global",
    # elementwise / broadcast
    "ew_broadcast",  # 1 when an input has fewer elements than the output
    "ew_broadcast_activation",  # 1 when a non-constant input is broadcast (e.g. an SE gate)
    "ew_elements",  # output elements of the anchor
    # data movement
    "dm_n_inputs",  # activation inputs of the anchor
    "dm_n_outputs",  # outputs of the anchor
    "dm_elements_moved",  # output elements of the anchor (all outputs of a Split)
    "dm_contiguous_run",  # innermost contiguous run in elements, where derivable
    "dm_run_align",  # alignment of that run
    # normalization and reduction
    "norm_rows",  # independent rows normalized (or reduced)
    "norm_width",  # elements per row: the normalized / reduced axes' size
    # convolution, the runtime's algorithm (v3): 1 when the conv runs in the blocked NCHWc layout
    # (onnxruntime's NchwcTransformer: dense always, depthwise and grouped only with channels
    # per group that fill whole blocks), 0 when it runs the NCHW im2col path; NaN without a
    # blocked layout. A grouped conv whose group widths miss the block runs 3-10x slower.
    "conv_nchwc",
)

FEATURE_INDEX: dict[str, int] = {n: i for i, n in enumerate(FEATURE_NAMES)}
N_FEATURES = len(FEATURE_NAMES)

#: Stable integer code per anchor op (append only: a code, once given, never changes meaning).
OP_CODES: dict[str, int] = {
    op: i + 1
    for i, op in enumerate(
        (
            "Conv", "ConvTranspose", "Gemm", "MatMul", "Attention", "Einsum",
            "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "Sum", "Mean",
            "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
            "And", "Or", "Xor", "Not", "Where",
            "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Clip", "Sigmoid",
            "HardSigmoid", "HardSwish", "Silu", "Mish", "Gelu", "Erf", "Tanh", "Exp", "Log",
            "Sqrt", "Reciprocal", "Abs", "Neg", "Sin", "Cos", "Floor", "Ceil", "Round", "Sign",
            "Softplus", "Softsign",
            "Softmax", "LogSoftmax",
            "BatchNormalization", "LayerNormalization", "GroupNormalization",
            "InstanceNormalization", "RMSNormalization", "LpNormalization",
            "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
            "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
            "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp", "ArgMax", "ArgMin", "CumSum",
            "TopK",
            "Resize", "DepthToSpace", "SpaceToDepth",
            "Concat", "Split", "Slice", "Gather", "GatherElements", "GatherND", "ScatterND",
            "ScatterElements", "Transpose", "Pad", "Cast", "Expand", "Tile",
            "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout",
            "LSTM", "GRU", "RNN",
            "QuickGelu",
            "ReorderInput", "ReorderOutput",
        )
    )
}  # fmt: skip

_NAN = math.nan
_Put = Callable[[str, float], None]
_CONV = (OpType.CONV, OpType.CONV_TRANSPOSE)
_GEMM = (OpType.GEMM, OpType.MATMUL)
_POOL = (OpType.MAX_POOL, OpType.AVERAGE_POOL)
_GLOBAL_POOL = (OpType.GLOBAL_AVERAGE_POOL, OpType.GLOBAL_MAX_POOL)
_ROW_NORMS = (OpType.LAYER_NORM, OpType.RMS_NORM)
_CHANNEL_NORMS = (OpType.BATCH_NORM, OpType.INSTANCE_NORM)


#: Alignment features stop here: 2^6 = 64 elements is beyond every SIMD block in use.
_ALIGN_CAP = 6


def align(n: float) -> float:
    """log2 of the largest power of two dividing ``n`` (capped at 6); NaN for 0 or non-integers."""
    if n <= 0 or n != int(n):
        return _NAN
    v = int(n)
    return float(min((v & -v).bit_length() - 1, _ALIGN_CAP))


def _log10(x: float) -> float:
    return math.log10(x) if x > 1 else 0.0


def _prod(xs: Iterable[int]) -> int:
    return math.prod(int(x) for x in xs)


def kernel_features(
    graph: Graph,
    kernels: Iterable[Kernel],
    extra: Mapping[str, Node] | None = None,
    layout: NchwcRules | None = None,
) -> NDArray[np.float64]:
    """Feature matrix ``(n_kernels, N_FEATURES)`` (float64, NaN = not applicable) of ``kernels``
    (a ``KernelPlan`` or any sequence of its kernels) of ``graph``; ``extra``: nodes the
    runtime adds that the graph lacks (layout reorders), by name; ``layout``: the blocked
    layout the plan was partitioned for (``conv_nchwc``).

    The columns every kernel has are built for all kernels at once; only the shape features
    that need the kernel's nodes are read kernel by kernel, into sparse per-column lists.
    """
    by_name: dict[str, Node] = {n.name: n for n in graph.nodes}
    if extra:
        by_name.update(extra)
    ks: Sequence[Kernel] = list(kernels)
    n = len(ks)
    out = np.full((n, N_FEATURES), np.nan)
    if n == 0:
        return out
    work = np.fromiter((float(k.compute_work) for k in ks), np.float64, n)
    nbytes = np.fromiter((float(k.bytes) for k in ks), np.float64, n)
    out[:, _I_LOG10_FLOPS] = _log10_all(work)
    out[:, _I_LOG10_BYTES] = _log10_all(nbytes)
    out[:, _I_LOG10_WORKING_SET] = _log10_all(
        np.fromiter((float(k.working_set_bytes) for k in ks), np.float64, n)
    )
    moved = nbytes > 0
    intensity = np.full(n, np.nan)
    np.divide(work, nbytes, out=intensity, where=moved)
    out[:, _I_ARITHMETIC_INTENSITY] = intensity
    out[:, _I_N_OPS] = np.fromiter((len(k.ops) for k in ks), np.float64, n)
    out[:, _I_CATEGORY] = np.fromiter((CATEGORY_INDEX[k.category] for k in ks), np.float64, n)
    common: list[tuple[int, int, int, int, int, int]] = []
    rows: list[list[int]] = [[] for _ in range(N_FEATURES)]
    values: list[list[float]] = [[] for _ in range(N_FEATURES)]
    for i, k in enumerate(ks):
        members = [by_name[name] for name in k.nodes]
        common.append(_shape_features(i, k, members, layout, rows, values))
    cols = np.array(common, dtype=np.float64).reshape(n, 6)
    out[:, _I_LOG10_WEIGHT_BYTES] = _log10_all(cols[:, 0])
    out[:, _I_LOG10_OUTPUT_ELEMENTS] = _log10_all(cols[:, 1])
    out[:, _I_OP_CODE] = cols[:, 2]
    out[:, _I_ELEM_BYTES] = cols[:, 3]
    out[:, _I_N_INPUTS] = cols[:, 4]
    out[:, _I_N_OUTPUTS] = cols[:, 5]
    for j in range(N_FEATURES):
        if rows[j]:
            out[rows[j], j] = values[j]
    return out


_I_LOG10_FLOPS = FEATURE_INDEX["log10_flops"]
_I_LOG10_BYTES = FEATURE_INDEX["log10_bytes"]
_I_LOG10_WORKING_SET = FEATURE_INDEX["log10_working_set"]
_I_ARITHMETIC_INTENSITY = FEATURE_INDEX["arithmetic_intensity"]
_I_LOG10_WEIGHT_BYTES = FEATURE_INDEX["log10_weight_bytes"]
_I_LOG10_OUTPUT_ELEMENTS = FEATURE_INDEX["log10_output_elements"]
_I_N_OPS = FEATURE_INDEX["n_ops"]
_I_CATEGORY = FEATURE_INDEX["category"]
_I_OP_CODE = FEATURE_INDEX["op_code"]
_I_ELEM_BYTES = FEATURE_INDEX["elem_bytes"]
_I_N_INPUTS = FEATURE_INDEX["n_inputs"]
_I_N_OUTPUTS = FEATURE_INDEX["n_outputs"]


def _log10_all(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """:func:`_log10` of every entry, with ``math.log10`` itself (numpy's vectorized log10 may
    differ from it in the last bit) applied once per distinct value."""
    distinct, where = np.unique(x, return_inverse=True)
    logs = np.fromiter((_log10(float(v)) for v in distinct), np.float64, len(distinct))
    return logs[where.reshape(-1)]


def _shape_features(
    i: int,
    k: Kernel,
    members: Sequence[Node],
    layout: NchwcRules | None,
    rows: list[list[int]],
    values: list[list[float]],
) -> tuple[int, int, int, int, int, int]:
    """Append row ``i``'s category features to ``rows``/``values`` (column by column); returns
    the features every row has that need the member nodes: weight bytes and output elements
    (their log10 taken by the caller), op code, element bytes, inputs and outputs."""
    anchor = members[0]
    last = members[-1]

    def put(name: str, value: float) -> None:
        j = FEATURE_INDEX[name]
        rows[j].append(i)
        values[j].append(float(value))

    weights = {t.name: t.nbytes for n in members for t in n.inputs if t.is_const}
    weight_bytes = sum(weights.values())
    produced = {o.name for n in members for o in n.outputs}
    entering = {t.name for n in members for t in n.inputs if t.name not in produced}
    out_elements = sum(o.numel for o in last.outputs)
    activations = anchor.activations
    ref = activations[0] if activations else anchor.outputs[0]

    op = anchor.op
    cat = k.category
    if op in _CONV:
        _conv(anchor, put)
        if layout is not None and op == OpType.CONV:
            put("conv_nchwc", int(conv_takes_nchwc(anchor, layout)[0]))
    elif op in _GEMM:
        _gemm(anchor, put)
    if op in _POOL:
        put("pool_window", _prod(anchor.attrs.get("kernel_shape", ())))
        put("pool_stride", max((int(s) for s in anchor.attrs.get("strides", ())), default=1))
        put("pool_global", 0)
    elif op in _GLOBAL_POOL:
        put("pool_window", _prod(anchor.inputs[0].shape[2:]))
        put("pool_global", 1)
    if cat == KernelCategory.ELEMENTWISE:
        _elementwise(anchor, activations, put)
    elif cat == KernelCategory.DATA_MOVEMENT:
        put("dm_n_inputs", len(activations))
        put("dm_n_outputs", len(anchor.outputs))
        put("dm_elements_moved", sum(o.numel for o in anchor.outputs))
        run = contiguous_run(anchor)
        if run is not None:
            put("dm_contiguous_run", run)
            put("dm_run_align", align(run))
    if cat in (KernelCategory.NORMALIZATION, KernelCategory.REDUCTION):
        rw = rows_width(anchor)
        if rw is not None:
            put("norm_rows", rw[0])
            put("norm_width", rw[1])
    op_code = OP_CODES.get(anchor.op, 0)
    return weight_bytes, out_elements, op_code, ref.dtype.itemsize, len(entering), len(last.outputs)


def _conv(node: Node, put: _Put) -> None:
    x, w = node.inputs[0], node.inputs[1]
    y = node.outputs[0]
    group = int(node.attrs.get("group", 1))
    cin = x.shape[1] if x.rank > 1 else 1
    cout = w.shape[1] * group if node.op == OpType.CONV_TRANSPOSE else w.shape[0]
    kernel = tuple(node.attrs.get("kernel_shape", w.shape[2:]))
    out_hw = _prod(y.shape[2:])
    put("conv_n", x.shape[0])
    put("conv_cin", cin)
    put("conv_cout", cout)
    put("conv_groups", group)
    put("conv_cin_per_group", cin / group)
    put("conv_cout_per_group", cout / group)
    put("conv_kernel_hw", _prod(kernel))
    put("conv_stride", max((int(s) for s in node.attrs.get("strides", ())), default=1))
    put("conv_dilation", max((int(d) for d in node.attrs.get("dilations", ())), default=1))
    put("conv_out_hw", out_hw)
    put("conv_log10_out_hw", _log10(out_hw))
    put("conv_is_depthwise", int(group > 1 and group == cin and cout % cin == 0))
    put("conv_is_pointwise", int(group == 1 and all(int(s) == 1 for s in kernel)))
    put("conv_cin_align", align(cin))
    put("conv_cout_align", align(cout))
    put("conv_group_width_align", align(cin / group))
    put("conv_out_w", y.shape[-1] if y.rank > 2 else 1)


def _gemm(node: Node, put: _Put) -> None:
    a, b = node.inputs[0], node.inputs[1]
    if node.op == OpType.GEMM:
        trans_a = int(node.attrs.get("transA", 0))
        trans_b = int(node.attrs.get("transB", 0))
        k = a.shape[-2] if trans_a else a.shape[-1]
        n = b.shape[0] if trans_b else b.shape[-1]
        m = a.numel // k if k else 0
        batch = 1
    else:
        sa, sb = a.shape, b.shape
        k = sa[-1] if sa else 1
        n = sb[-1] if len(sb) >= 2 else 1
        if len(sb) <= 2:
            # A weight-like 2-D (or 1-D) B: every leading dim of A is a row of one GEMM.
            m = a.numel // k if k else 0
            batch = 1
        else:
            m = sa[-2] if len(sa) >= 2 else 1
            batch = _prod(_broadcast(sa[:-2], sb[:-2]))
    put("gemm_m", m)
    put("gemm_n", n)
    put("gemm_k", k)
    put("gemm_batch", batch)
    put("gemm_weight_const", int(b.is_const))
    put("gemm_log10_weight_bytes", _log10(b.nbytes))
    put("gemm_n_align", align(n))
    put("gemm_k_align", align(k))


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + a
    b = (1,) * (n - len(b)) + b
    return tuple(y if x == 1 else x for x, y in zip(a, b, strict=True))


def _elementwise(node: Node, activations: Sequence[TensorInfo], put: _Put) -> None:
    out = node.outputs[0].numel if node.outputs else 0
    put("ew_elements", out)
    put("ew_broadcast", int(any(t.numel < out for t in node.inputs)))
    put("ew_broadcast_activation", int(any(t.numel < out for t in activations)))


def _squeezed(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(d) for d in shape if d != 1)


def _run_after_first_difference(small: Sequence[int], big: Sequence[int]) -> int:
    """Contiguous run of a copy between a tensor and a sub-box of it (slice, pad): the sub-box's
    extent from the innermost axis whose size differs inward."""
    if len(small) != len(big):
        return _prod(small)
    for j in range(len(small) - 1, -1, -1):
        if small[j] != big[j]:
            return _prod(small[j:])
    return _prod(small)


def contiguous_run(node: Node) -> int | None:
    """Innermost run of consecutive elements a copy moves at once (in elements), or None where
    it is not derivable from shapes and attributes (Resize, scatters, ...)."""
    op = node.op
    ins, outs = node.inputs, node.outputs
    if not outs:
        return None
    y = outs[0]
    if op == OpType.CONCAT:
        axis = int(node.attrs.get("axis", 0))
        # torch.stack (``new_axis``): the inputs lack the axis, the formula is the same
        return min((_prod(t.shape[axis:]) for t in node.activations), default=None)
    if op == OpType.SPLIT:
        axis = int(node.attrs.get("axis", 0))
        return min(_prod(o.shape[axis:]) for o in outs)
    if op == OpType.SLICE:
        x = ins[0]
        if x.rank != y.rank:  # a slice the frontend merged with a squeeze
            return None
        steps = tuple(node.attrs.get("steps", ()) or ())
        axes = tuple(node.attrs.get("axes", ()) or range(len(steps)))
        strided = {int(a) % max(x.rank, 1) for a, s in zip(axes, steps, strict=False) if s != 1}
        for j in range(x.rank - 1, -1, -1):
            if j in strided:
                return _prod(y.shape[j + 1 :])
            if x.shape[j] != y.shape[j]:
                return _prod(y.shape[j:])
        return y.numel
    if op == OpType.PAD:
        return _run_after_first_difference(ins[0].shape, y.shape)
    if op == OpType.TRANSPOSE:
        return _transpose_run(ins[0], tuple(node.attrs.get("perm", ())))
    if op == OpType.GATHER:
        axis = int(node.attrs.get("axis", 0))
        return _prod(ins[0].shape[axis + 1 :])
    if op == OpType.CAST:
        return y.numel
    if op in (OpType.EXPAND, OpType.TILE):
        run = 1
        for a, b in zip(reversed(ins[0].shape), reversed(y.shape), strict=False):
            if a != b:
                break
            run *= b
        return run
    return None


def _transpose_run(x: TensorInfo, perm: tuple[int, ...]) -> int:
    """Elements the output's innermost axes keep contiguous from the input: the longest suffix
    of ``perm`` (size-1 axes ignored) that is the input's own trailing axes in order."""
    shape = x.shape
    if not perm:
        perm = tuple(reversed(range(len(shape))))
    keep = [int(p) for p in perm if shape[int(p)] != 1]
    axes_in = [a for a in range(len(shape)) if shape[a] != 1]
    run = 1
    while keep and axes_in and keep[-1] == axes_in[-1]:
        run *= shape[keep.pop()]
        axes_in.pop()
    return run


def rows_width(node: Node) -> tuple[int, int] | None:
    """(rows, width) of a norm or reduction: width = elements of one normalized/reduced row."""
    if not node.inputs:
        return None
    x = node.inputs[0]
    n = x.numel
    op = node.op
    rank = x.rank
    if op in _ROW_NORMS:
        width = _prod(x.shape[int(node.attrs.get("axis", -1)) % max(rank, 1) :])
    elif op in _CHANNEL_NORMS:
        width = _prod(x.shape[2:])
    elif op == OpType.GROUP_NORM:
        groups = int(node.attrs.get("num_groups", 1))
        width = n // (x.shape[0] * groups) if x.shape and groups else 0
    elif op in (OpType.LP_NORM, OpType.SOFTMAX, OpType.LOG_SOFTMAX, OpType.CUM_SUM, OpType.TOP_K):
        width = x.shape[int(node.attrs.get("axis", -1)) % max(rank, 1)] if rank else 1
    elif "axes" in node.attrs:
        axes = tuple(int(a) % max(rank, 1) for a in node.attrs["axes"]) or tuple(range(rank))
        width = _prod(x.shape[a] for a in axes)
    else:
        return None
    if width <= 0:
        return None
    return n // width, width


__all__ = [
    "FEATURE_INDEX",
    "FEATURE_NAMES",
    "FEATURE_VERSION",
    "N_FEATURES",
    "OP_CODES",
    "contiguous_run",
    "feature_column",
    "kernel_features",
    "rows_width",
]


def feature_column(x: NDArray[np.float64], name: str) -> NDArray[np.float64]:
    """Column ``name`` of a feature matrix."""
    return x[:, FEATURE_INDEX[name]]
