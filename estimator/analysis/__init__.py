"""Graph-level cost analysis: totals, parameters, and peak activation memory."""

from estimator.analysis.analyze import ModelCost, NodeCost, analyze_graph
from estimator.analysis.liveness import live_bytes_per_step, peak_activation_bytes

__all__ = ["ModelCost", "NodeCost", "analyze_graph", "live_bytes_per_step", "peak_activation_bytes"]
