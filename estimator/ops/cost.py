"""Per-op cost records and the registry that maps an op type to its cost rule.

A rule is a pure function ``Node -> OpCost``; op families register theirs in their own module
(``estimator/ops/conv.py``, ``matmul.py``, ...), in the spirit of fvcore's handle tables. Counting
conventions (documented in docs/design/cost_model.md):

* 1 MAC = 2 FLOPs. ``macs`` counts only the multiply-accumulates of Conv, ConvTranspose, Gemm,
  MatMul, Einsum, Attention and recurrent cells, the quantity published model tables report.
* ``bytes_read`` counts every operand once (activations and constants); ``bytes_written`` every
  output once. Views read and write nothing.
* ``params`` counts learnable parameters only (BatchNorm running statistics are buffers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from estimator.ir.graph import Node
from estimator.ops._registry import registrar


@dataclass(frozen=True, slots=True)
class OpCost:
    flops: int
    macs: int
    bytes_read: int
    bytes_written: int
    params: int
    #: False when no rule knows the op: the cost is memory traffic only and the op is reported
    #: under "unmodeled".
    modeled: bool = True

    @property
    def bytes_total(self) -> int:
        return self.bytes_read + self.bytes_written


CostRule = Callable[[Node], OpCost]

_RULES: dict[str, CostRule] = {}


#: Decorator: ``@register(*ops)`` makes the function the cost rule of each op type in ``ops``.
register: Callable[..., Callable[[CostRule], CostRule]] = registrar(_RULES, "cost rule")


def rule_for(op: str) -> CostRule | None:
    return _RULES.get(op)


def registered_ops() -> frozenset[str]:
    return frozenset(_RULES)
