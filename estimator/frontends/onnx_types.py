"""ONNX element types and value types mapped onto the IR vocabulary.

The IR has fewer element types than ONNX. Types without an exact IR twin map onto the IR type of
the same size (``uint32`` -> ``int32``), because costs depend on bytes moved, not on signedness.
"""

from __future__ import annotations

import onnx
from onnx import TensorProto

from estimator.ir.dtypes import DType

_ONNX_TO_DTYPE: dict[int, DType] = {
    TensorProto.FLOAT: DType.FLOAT32,
    TensorProto.DOUBLE: DType.FLOAT64,
    TensorProto.FLOAT16: DType.FLOAT16,
    TensorProto.BFLOAT16: DType.BFLOAT16,
    TensorProto.INT64: DType.INT64,
    TensorProto.INT32: DType.INT32,
    TensorProto.INT16: DType.INT16,
    TensorProto.INT8: DType.INT8,
    TensorProto.UINT8: DType.UINT8,
    TensorProto.BOOL: DType.BOOL,
    TensorProto.COMPLEX64: DType.COMPLEX64,
    TensorProto.STRING: DType.STRING,
    # same-size stand-ins (the IR has no unsigned wide or 8-bit float types)
    TensorProto.UINT16: DType.INT16,
    TensorProto.UINT32: DType.INT32,
    TensorProto.UINT64: DType.INT64,
    TensorProto.FLOAT8E4M3FN: DType.UINT8,
    TensorProto.FLOAT8E4M3FNUZ: DType.UINT8,
    TensorProto.FLOAT8E5M2: DType.UINT8,
    TensorProto.FLOAT8E5M2FNUZ: DType.UINT8,
    # 4-bit types are stored packed; one byte per element over-counts them by 2x
    TensorProto.INT4: DType.INT8,
    TensorProto.UINT4: DType.UINT8,
}


def to_dtype(elem_type: int) -> DType:
    """IR dtype of an ONNX element type; unknown or undefined types count as float32."""
    return _ONNX_TO_DTYPE.get(elem_type, DType.FLOAT32)


def tensor_type(elem_type: int, shape: tuple[int, ...] | None) -> onnx.TypeProto:
    """A TypeProto for shape inference; ``shape=None`` leaves the rank unknown."""
    tp = onnx.TypeProto()
    tt = tp.tensor_type
    tt.elem_type = elem_type
    if shape is not None:
        tt.shape.SetInParent()
        for d in shape:
            tt.shape.dim.add().dim_value = d
    return tp


def static_shape(tp: onnx.TypeProto) -> tuple[int, ...] | None:
    """The shape of a tensor TypeProto if every dimension is a known value, else None."""
    if not tp.HasField("tensor_type"):
        return None
    tt = tp.tensor_type
    if not tt.HasField("shape"):
        return None
    dims: list[int] = []
    for d in tt.shape.dim:
        if not d.HasField("dim_value") or d.dim_value < 0:
            return None
        dims.append(int(d.dim_value))
    return tuple(dims)


def elem_type_of(tp: onnx.TypeProto) -> int:
    """Element type of a tensor TypeProto (0 = undefined, also for sequences and maps)."""
    return int(tp.tensor_type.elem_type) if tp.HasField("tensor_type") else 0
