"""The normalized op vocabulary shared by both frontends.

Names follow ONNX where ONNX has the op, because that spelling is the one most users know. A
frontend maps its native ops onto these names; an op it cannot map keeps its native name and is
then *unknown*: costed as memory traffic only and listed under "unmodeled" in every report.
"""

from __future__ import annotations

from enum import StrEnum


class OpType(StrEnum):
    # dense compute
    CONV = "Conv"
    CONV_TRANSPOSE = "ConvTranspose"
    GEMM = "Gemm"
    MATMUL = "MatMul"
    ATTENTION = "Attention"
    EINSUM = "Einsum"
    # elementwise arithmetic and logic
    ADD = "Add"
    SUB = "Sub"
    MUL = "Mul"
    DIV = "Div"
    POW = "Pow"
    MAX = "Max"
    MIN = "Min"
    MOD = "Mod"
    SUM = "Sum"
    MEAN = "Mean"
    EQUAL = "Equal"
    LESS = "Less"
    LESS_OR_EQUAL = "LessOrEqual"
    GREATER = "Greater"
    GREATER_OR_EQUAL = "GreaterOrEqual"
    AND = "And"
    OR = "Or"
    XOR = "Xor"
    NOT = "Not"
    WHERE = "Where"
    # elementwise unary math and activations
    RELU = "Relu"
    LEAKY_RELU = "LeakyRelu"
    PRELU = "PRelu"
    ELU = "Elu"
    SELU = "Selu"
    CELU = "Celu"
    CLIP = "Clip"
    SIGMOID = "Sigmoid"
    HARD_SIGMOID = "HardSigmoid"
    HARD_SWISH = "HardSwish"
    SILU = "Silu"
    MISH = "Mish"
    GELU = "Gelu"
    ERF = "Erf"
    TANH = "Tanh"
    EXP = "Exp"
    LOG = "Log"
    SQRT = "Sqrt"
    RECIPROCAL = "Reciprocal"
    ABS = "Abs"
    NEG = "Neg"
    SIN = "Sin"
    COS = "Cos"
    FLOOR = "Floor"
    CEIL = "Ceil"
    ROUND = "Round"
    SIGN = "Sign"
    SOFTPLUS = "Softplus"
    SOFTSIGN = "Softsign"
    # softmax family
    SOFTMAX = "Softmax"
    LOG_SOFTMAX = "LogSoftmax"
    # normalization
    BATCH_NORM = "BatchNormalization"
    LAYER_NORM = "LayerNormalization"
    GROUP_NORM = "GroupNormalization"
    INSTANCE_NORM = "InstanceNormalization"
    RMS_NORM = "RMSNormalization"
    LP_NORM = "LpNormalization"
    # pooling
    MAX_POOL = "MaxPool"
    AVERAGE_POOL = "AveragePool"
    GLOBAL_AVERAGE_POOL = "GlobalAveragePool"
    GLOBAL_MAX_POOL = "GlobalMaxPool"
    # reductions
    REDUCE_MEAN = "ReduceMean"
    REDUCE_SUM = "ReduceSum"
    REDUCE_MAX = "ReduceMax"
    REDUCE_MIN = "ReduceMin"
    REDUCE_PROD = "ReduceProd"
    REDUCE_L1 = "ReduceL1"
    REDUCE_L2 = "ReduceL2"
    REDUCE_SUM_SQUARE = "ReduceSumSquare"
    REDUCE_LOG_SUM_EXP = "ReduceLogSumExp"
    ARG_MAX = "ArgMax"
    ARG_MIN = "ArgMin"
    CUM_SUM = "CumSum"
    TOP_K = "TopK"
    # resampling
    RESIZE = "Resize"
    DEPTH_TO_SPACE = "DepthToSpace"
    SPACE_TO_DEPTH = "SpaceToDepth"
    # data movement
    CONCAT = "Concat"
    SPLIT = "Split"
    SLICE = "Slice"
    GATHER = "Gather"
    GATHER_ELEMENTS = "GatherElements"
    GATHER_ND = "GatherND"
    SCATTER_ND = "ScatterND"
    SCATTER_ELEMENTS = "ScatterElements"
    TRANSPOSE = "Transpose"
    PAD = "Pad"
    CAST = "Cast"
    EXPAND = "Expand"
    TILE = "Tile"
    # views: no data is moved
    RESHAPE = "Reshape"
    FLATTEN = "Flatten"
    SQUEEZE = "Squeeze"
    UNSQUEEZE = "Unsqueeze"
    IDENTITY = "Identity"
    DROPOUT = "Dropout"
    # recurrent
    LSTM = "LSTM"
    GRU = "GRU"
    RNN = "RNN"


#: Ops that only reinterpret memory. They cost nothing and their output aliases their input.
VIEW_OPS: frozenset[str] = frozenset(
    {
        OpType.RESHAPE,
        OpType.FLATTEN,
        OpType.SQUEEZE,
        OpType.UNSQUEEZE,
        OpType.IDENTITY,
        OpType.DROPOUT,
    }
)

KNOWN_OPS: frozenset[str] = frozenset(op.value for op in OpType)


def is_known(op: str) -> bool:
    return op in KNOWN_OPS
