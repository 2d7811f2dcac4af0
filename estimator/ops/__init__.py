"""Per-op cost rules (FLOPs, MACs, bytes, params) for the IR op vocabulary.

Importing this package imports every rule module, which registers its rules; :func:`cost_of` is
then the one entry point. Conventions: docs/design/cost_model.md.
"""

from __future__ import annotations

from estimator.ir.graph import Node
from estimator.ops import (  # noqa: F401  (imported for their registrations)
    attention,
    conv,
    data_movement,
    elementwise,
    matmul,
    normalization,
    pooling,
    recurrent,
    reduction,
)
from estimator.ops.cost import OpCost, register, registered_ops, rule_for
from estimator.ops.fallback import fallback_cost
from estimator.ops.params import param_tensors

__all__ = [
    "OpCost",
    "cost_of",
    "param_tensors",
    "register",
    "registered_ops",
    "rule_for",
]


def cost_of(node: Node) -> OpCost:
    """The cost of one node; an op without a rule is memory traffic only (``modeled=False``)."""
    rule = rule_for(node.op)
    if rule is None:
        return fallback_cost(node)
    return rule(node)
