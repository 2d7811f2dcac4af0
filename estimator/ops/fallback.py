"""The cost of an op no rule knows: memory traffic only, flagged as unmodeled.

Never zero: a missing rule must show up as time (its bytes) and as a name in every report, not
silently vanish from the estimate.
"""

from __future__ import annotations

from estimator.ir.graph import Node
from estimator.ops._common import traffic
from estimator.ops.cost import OpCost


def fallback_cost(node: Node) -> OpCost:
    read, written = traffic(node)
    return OpCost(flops=0, macs=0, bytes_read=read, bytes_written=written, params=0, modeled=False)
