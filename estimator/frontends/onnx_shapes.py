"""Per-node static shape inference for the ONNX frontend.

Shapes are inferred node by node with ONNX's own inference functions, handing them the values of
constant operands, so Reshape/Expand/Slice/... see their (already folded) shape operands. Doing it
per node instead of once per model keeps weights out of the call (a whole-model call serializes
every initializer) and lets the frontend stop at the first node it cannot resolve.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import defs, shape_inference

from estimator.frontends.onnx_types import elem_type_of, static_shape

Shape = tuple[int, ...]

#: Contrib ops (com.microsoft) whose first output has the shape and type of the first input.
_SAME_AS_INPUT0: frozenset[str] = frozenset(
    {
        "Gelu",
        "FastGelu",
        "BiasGelu",
        "QuickGelu",
        "BiasAdd",
        "SkipLayerNormalization",
        "SkipSimplifiedLayerNormalization",
        "SimplifiedLayerNormalization",
        "LayerNormalization",
        "BiasSoftmax",
        "BiasDropout",
        "RotaryEmbedding",
    }
)


#: Default-domain elementwise ops with one input whose one output has that input's shape and
#: element type: ONNX infers them with ``propagateShapeAndTypeFromFirstInput``, so with no
#: attributes and an input type the op's schema accepts, :func:`same_shape_unary` gives ONNX's
#: answer without a call into onnx (tests/frontends/test_onnx_shapes.py checks it agrees).
SAME_SHAPE_UNARY: frozenset[str] = frozenset(
    {
        "Relu",
        "Sigmoid",
        "Tanh",
        "Abs",
        "Neg",
        "Exp",
        "Log",
        "Sqrt",
        "Reciprocal",
        "Floor",
        "Ceil",
        "Round",
        "Sign",
        "Erf",
        "Sin",
        "Cos",
        "Tan",
        "Asin",
        "Acos",
        "Atan",
        "Sinh",
        "Cosh",
        "Asinh",
        "Acosh",
        "Atanh",
        "Softplus",
        "Softsign",
        "Elu",
        "Selu",
        "Celu",
        "LeakyRelu",
        "ThresholdedRelu",
        "HardSigmoid",
        "HardSwish",
        "Mish",
        "Gelu",
    }
)

#: The float element types the fast path takes, as ONNX type constraints spell them.
_FLOAT_TYPE_STRS: dict[int, str] = {
    onnx.TensorProto.FLOAT: "tensor(float)",
    onnx.TensorProto.DOUBLE: "tensor(double)",
    onnx.TensorProto.FLOAT16: "tensor(float16)",
    onnx.TensorProto.BFLOAT16: "tensor(bfloat16)",
}


class ShapeInferenceFailed(Exception):
    """ONNX inference rejected the node (bad operands) or does not know the op."""


def _schema(node: onnx.NodeProto, opsets: Mapping[str, int]) -> defs.OpSchema | None:
    domain = "" if node.domain == "ai.onnx" else node.domain
    version = opsets.get(domain)
    if version is None:
        return None
    return _schema_for(node.op_type, version, domain)


@functools.cache
def _schema_for(op_type: str, version: int, domain: str) -> defs.OpSchema | None:
    try:
        return defs.get_schema(op_type, version, domain)
    except defs.SchemaError:
        return None


@functools.cache
def _accepts_same_shape(op_type: str, version: int, elem_type: int) -> bool:
    """Whether the default-domain schema of ``op_type`` at opset ``version`` exists and types its
    first input and output alike, allowing the float ``elem_type``."""
    type_str = _FLOAT_TYPE_STRS.get(elem_type)
    schema = _schema_for(op_type, version, "")
    if type_str is None or schema is None or not schema.inputs or not schema.outputs:
        return False
    param = schema.inputs[0].type_str
    if schema.outputs[0].type_str != param:
        return False
    allowed = next(
        (c.allowed_type_strs for c in schema.type_constraints if c.type_param_str == param), ()
    )
    return type_str in allowed


def same_shape_unary(
    node: onnx.NodeProto, shape: Shape, elem_type: int, opsets: Mapping[str, int]
) -> list[tuple[Shape | None, int]] | None:
    """What :func:`infer_node` gives for an attribute-free one-input, one-output node of
    :data:`SAME_SHAPE_UNARY` whose input (``shape``, float ``elem_type``) its schema accepts:
    ``[(shape, elem_type)]``; None for any other node (ask :func:`infer_node`)."""
    if (
        node.op_type not in SAME_SHAPE_UNARY
        or node.domain not in ("", "ai.onnx")
        or len(node.attribute)
        or len(node.input) != 1
        or len(node.output) != 1
        or not node.input[0]
    ):
        return None
    version = opsets.get("")
    if version is None or not _accepts_same_shape(node.op_type, version, elem_type):
        return None
    return [(shape, elem_type)]


def opset_versions(opset_imports: Sequence[onnx.OperatorSetIdProto]) -> dict[str, int]:
    """Domain -> opset version (``ai.onnx`` spelled ``""``), as :func:`infer_node` reads them."""
    return {("" if o.domain == "ai.onnx" else o.domain): int(o.version) for o in opset_imports}


def infer_node(
    node: onnx.NodeProto,
    input_types: Mapping[str, onnx.TypeProto],
    input_data: Mapping[str, onnx.TensorProto],
    opset_imports: Sequence[onnx.OperatorSetIdProto],
) -> list[tuple[Shape | None, int]]:
    """(static shape or None, ONNX elem type) of each output of ``node``, in output order."""
    opsets = opset_versions(opset_imports)
    schema = _schema(node, opsets)
    if schema is None:
        return _contrib(node, input_types, input_data, opset_imports)
    try:
        inferred = shape_inference.infer_node_outputs(
            schema,
            node,
            dict(input_types),
            dict(input_data),
            opset_imports=list(opset_imports),
        )
    except Exception as exc:  # onnx raises InferenceError, ValidationError, RuntimeError ...
        raise ShapeInferenceFailed(str(exc).strip().splitlines()[-1] if str(exc) else "") from exc
    out: list[tuple[Shape | None, int]] = []
    for name in node.output:
        tp = inferred.get(name)
        out.append((None, 0) if tp is None else (static_shape(tp), elem_type_of(tp)))
    return out


def _contrib(
    node: onnx.NodeProto,
    input_types: Mapping[str, onnx.TypeProto],
    input_data: Mapping[str, onnx.TensorProto],
    opset_imports: Sequence[onnx.OperatorSetIdProto],
) -> list[tuple[Shape | None, int]]:
    """Shapes for the onnxruntime contrib ops that optimized models use most."""
    out: list[tuple[Shape | None, int]] = [(None, 0)] * len(node.output)
    if node.domain != "com.microsoft" or not node.input:
        return out
    shapes = [static_shape(input_types[i]) if i in input_types else None for i in node.input]
    et = elem_type_of(input_types[node.input[0]]) if node.input[0] in input_types else 0
    op = node.op_type
    if op in _SAME_AS_INPUT0:
        out[0] = (shapes[0], et)
    elif op in _ALIASES:
        return _as_default_op(node, _ALIASES[op], input_types, input_data, opset_imports)
    elif op == "FusedMatMul":
        out[0] = (_fused_matmul(node, shapes), et)
    elif op == "Attention" and len(shapes) > 1 and shapes[0] and shapes[1]:
        # input [B, S, Din], packed QKV weights [Din, 3*D] (or qkv_hidden_sizes [Dq, Dk, Dv])
        sizes = next((tuple(a.ints) for a in node.attribute if a.name == "qkv_hidden_sizes"), ())
        v_hidden = sizes[2] if len(sizes) == 3 else shapes[1][1] // 3
        out[0] = ((*shapes[0][:2], v_hidden), et)
    elif op == "EmbedLayerNormalization" and len(shapes) > 2 and shapes[0] and shapes[2]:
        # input_ids [B, S], segment_ids, word_embedding [V, D] -> [B, S, D], mask_index [B]
        emb_et = elem_type_of(input_types[node.input[2]])
        out[0] = ((*shapes[0], shapes[2][1]), emb_et)
        if len(out) > 1:
            out[1] = ((shapes[0][0],), onnx.TensorProto.INT32)
    return out


#: Contrib ops that are a default-domain op plus an activation: same shapes as that op.
_ALIASES: dict[str, str] = {"FusedConv": "Conv", "FusedGemm": "Gemm"}


def _as_default_op(
    node: onnx.NodeProto,
    op_type: str,
    input_types: Mapping[str, onnx.TypeProto],
    input_data: Mapping[str, onnx.TensorProto],
    opset_imports: Sequence[onnx.OperatorSetIdProto],
) -> list[tuple[Shape | None, int]]:
    plain = onnx.NodeProto()
    plain.CopyFrom(node)
    plain.domain = ""
    plain.op_type = op_type
    plain.ClearField("attribute")
    plain.attribute.extend(a for a in node.attribute if not a.name.startswith("activation"))
    if op_type == "Conv":
        del plain.input[3:]  # FusedConv's optional 4th operand (residual Z) is not Conv's
    result = infer_node(plain, input_types, input_data, opset_imports)
    return result + [(None, 0)] * (len(node.output) - len(result))


def _fused_matmul(node: onnx.NodeProto, shapes: Sequence[Shape | None]) -> Shape | None:
    """MatMul shape after FusedMatMul's optional transposes of the last two dims."""
    if len(shapes) < 2 or shapes[0] is None or shapes[1] is None:
        return None
    attrs = {a.name: a.i for a in node.attribute if a.type == onnx.AttributeProto.INT}
    a, b = list(shapes[0]), list(shapes[1])
    if attrs.get("transA", 0) and len(a) >= 2:
        a[-1], a[-2] = a[-2], a[-1]
    if attrs.get("transB", 0) and len(b) >= 2:
        b[-1], b[-2] = b[-2], b[-1]
    if len(a) < 2 or len(b) < 2:
        return None
    try:
        batch = np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2]))
    except ValueError:
        return None
    return (*batch, a[-2], b[-1])
