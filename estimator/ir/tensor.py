"""Static tensor descriptions carried on IR edges."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from estimator.ir.dtypes import DType


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """A tensor with a fully static shape.

    Frontends must resolve every dimension before building the IR: a symbolic dimension that
    reaches the cost model would silently turn into a wrong count, so it is an input error instead.
    """

    name: str
    shape: tuple[int, ...]
    dtype: DType = DType.FLOAT32
    #: Stored in the model (ONNX initializer, torch parameter or buffer) rather than computed at
    #: run time. Constants are read from memory by the kernel that uses them but never allocated
    #: as activations, so liveness and activation bytes skip them.
    is_const: bool = False
    #: Element count and bytes, worked out once here: every pass (costs, partition, features,
    #: liveness) asks for them, some several times per node. Not part of equality or repr.
    _numel: int = field(init=False, repr=False, compare=False)
    _nbytes: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for d in self.shape:
            if not isinstance(d, int) or d < 0:
                raise ValueError(f"tensor {self.name!r}: dimension {d!r} is not a static size")
        numel = math.prod(self.shape)
        object.__setattr__(self, "_numel", numel)
        object.__setattr__(self, "_nbytes", numel * self.dtype.itemsize)

    @property
    def numel(self) -> int:
        return self._numel

    @property
    def nbytes(self) -> int:
        return self._nbytes

    @property
    def rank(self) -> int:
        return len(self.shape)
