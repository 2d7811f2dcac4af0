"""Which operands of a node are learnable parameters.

Kept apart from the cost rules so the analysis can deduplicate tied weights by tensor name (an
embedding shared with the LM head is one parameter set, not two) while every rule still reports
its own ``params`` from the same selection.
"""

from __future__ import annotations

from collections.abc import Callable

from estimator.ir.graph import Node
from estimator.ir.tensor import TensorInfo
from estimator.ops._registry import registrar

ParamSelector = Callable[[Node], tuple[TensorInfo, ...]]

_SELECTORS: dict[str, ParamSelector] = {}


#: Decorator: ``@register_params(*ops)``: the function names the learnable operands of each op
#: type in ``ops``.
register_params: Callable[..., Callable[[ParamSelector], ParamSelector]] = registrar(
    _SELECTORS, "parameter selector"
)


def param_tensors(node: Node) -> tuple[TensorInfo, ...]:
    """The learnable parameter tensors ``node`` reads; empty for ops without parameters."""
    selector = _SELECTORS.get(node.op)
    return selector(node) if selector is not None else ()


def count(tensors: tuple[TensorInfo, ...]) -> int:
    return sum(t.numel for t in tensors)


def consts_after_first(node: Node) -> tuple[TensorInfo, ...]:
    """Constant operands other than the data input (weights, bias, scale)."""
    return tuple(t for t in node.inputs[1:] if t.is_const)


def all_consts(node: Node) -> tuple[TensorInfo, ...]:
    return tuple(t for t in node.inputs if t.is_const)
