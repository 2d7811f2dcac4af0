"""Efficiency analyses of seeds 000 and 001 over one tidy table of measured or estimated
latencies: FRM and its baseline invariance, stability, rank transfer, estimate transfer, FLOPs
disagreements with kernel explanations, signal-to-noise and Pareto transfer
(docs/efficiency_analyses.md).

Each analysis is a function returning a typed result; :mod:`.render` turns results into text,
JSON, CSV, PNG heatmaps and the decision report. ``analyze-efficiency`` is the command line.
"""

from estimator.analysis.efficiency.disagreements import (
    DisagreementResult,
    Explanation,
    disagreements,
    explain_case,
)
from estimator.analysis.efficiency.estimate_transfer import (
    EstimateTransferResult,
    estimate_transfer,
)
from estimator.analysis.efficiency.frm import FrmResult, InvarianceResult, baseline_invariance, frm
from estimator.analysis.efficiency.pareto import ParetoTransferResult, pareto_set, pareto_transfer
from estimator.analysis.efficiency.rank_transfer import RankTransferResult, rank_transfer
from estimator.analysis.efficiency.ranks import flips, top_k_overlap
from estimator.analysis.efficiency.snr import SnrResult, signal_to_noise
from estimator.analysis.efficiency.sources import (
    device_type,
    estimated_table,
    from_store,
    nb201_costs,
    with_nb201_costs,
)
from estimator.analysis.efficiency.stability import StabilityResult, stability
from estimator.analysis.efficiency.table import EfficiencyTable, Row, from_rows, read_csv

__all__ = [
    "DisagreementResult",
    "EfficiencyTable",
    "EstimateTransferResult",
    "Explanation",
    "FrmResult",
    "InvarianceResult",
    "ParetoTransferResult",
    "RankTransferResult",
    "Row",
    "SnrResult",
    "StabilityResult",
    "baseline_invariance",
    "device_type",
    "disagreements",
    "estimate_transfer",
    "estimated_table",
    "explain_case",
    "flips",
    "frm",
    "from_rows",
    "from_store",
    "nb201_costs",
    "pareto_set",
    "pareto_transfer",
    "rank_transfer",
    "read_csv",
    "signal_to_noise",
    "stability",
    "top_k_overlap",
    "with_nb201_costs",
]
