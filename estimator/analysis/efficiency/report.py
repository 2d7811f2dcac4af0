"""Run the analyses a table supports and bundle their results: what ``analyze-efficiency``
renders. An analysis the table cannot support (no FLOPs, no accuracy, no registry device) is
listed under ``skipped`` with the reason, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from estimator.analysis.efficiency.disagreements import DisagreementResult, disagreements
from estimator.analysis.efficiency.estimate_transfer import (
    EstimateTransferResult,
    estimate_transfer,
)
from estimator.analysis.efficiency.frm import FrmResult, InvarianceResult, baseline_invariance, frm
from estimator.analysis.efficiency.pareto import ParetoTransferResult, pareto_transfer
from estimator.analysis.efficiency.rank_transfer import RankTransferResult, rank_transfer
from estimator.analysis.efficiency.snr import SnrResult, signal_to_noise
from estimator.analysis.efficiency.stability import StabilityResult, stability
from estimator.analysis.efficiency.table import EfficiencyTable
from estimator.errors import InputError

ANALYSES: tuple[str, ...] = (
    "frm",
    "stability",
    "rank-transfer",
    "estimate-transfer",
    "disagreements",
    "snr",
    "pareto",
)
#: Analyses run when none are named: estimate transfer fits k-shot models (seconds per device).
DEFAULT_ANALYSES: tuple[str, ...] = tuple(a for a in ANALYSES if a != "estimate-transfer")
#: Baselines the invariance check tries at most (the first models of the table).
INVARIANCE_BASELINES = 20


@dataclass(frozen=True)
class Options:
    baseline: str | None = None
    top_k: int = 5
    min_shift: float = 2
    explain: int = 3
    metric: str = "latency"
    shots: tuple[int, ...] = (0, 5, 10)
    draws: int = 5
    seed: int = 0
    pool: Sequence[int] | None = None
    query: Sequence[int] | None = None
    runtime: str | None = None


@dataclass
class Report:
    table: EfficiencyTable
    options: Options
    dropped: tuple[str, ...] = ()
    frm: FrmResult | None = None
    invariance: InvarianceResult | None = None
    stability: StabilityResult | None = None
    rank_transfer: RankTransferResult | None = None
    frm_transfer: RankTransferResult | None = None
    estimate_transfer: EstimateTransferResult | None = None
    disagreements: DisagreementResult | None = None
    snr: SnrResult | None = None
    pareto: ParetoTransferResult | None = None
    skipped: dict[str, str] = field(default_factory=dict)


def run(
    table: EfficiencyTable, analyses: Sequence[str] = DEFAULT_ANALYSES, options: Options = Options()
) -> Report:
    """Every analysis of ``analyses`` on the models measured on every device of ``table``."""
    unknown = [a for a in analyses if a not in ANALYSES]
    if unknown:
        raise InputError(f"unknown analysis {unknown[0]!r}; choose from {', '.join(ANALYSES)}")
    full, dropped = table.complete()
    if len(full.models) < 2:
        raise InputError(
            f"{table.source or 'table'}: fewer than two models have a latency on every device"
        )
    o = options
    rep = Report(full, o, dropped)
    want = set(analyses)

    def attempt(name: str, body: object) -> None:
        try:
            body()  # type: ignore[operator]
        except InputError as exc:
            if len(want) == 1:
                raise
            rep.skipped[name] = str(exc)

    if "frm" in want:

        def _frm() -> None:
            rep.frm = frm(full, o.baseline)
            rep.invariance = baseline_invariance(full, full.models[:INVARIANCE_BASELINES])

        attempt("frm", _frm)
    if "stability" in want:
        attempt("stability", lambda: setattr(rep, "stability", stability(full, o.baseline)))
    if "rank-transfer" in want:

        def _rt() -> None:
            rep.rank_transfer = rank_transfer(full, metric="latency", k=o.top_k)
            rep.frm_transfer = rank_transfer(
                full, metric="frm", k=o.top_k, baseline=o.baseline, types=rep.rank_transfer.types
            )

        attempt("rank-transfer", _rt)
    if "estimate-transfer" in want:

        def _et() -> None:
            rep.estimate_transfer = estimate_transfer(
                full, shots=o.shots, draws=o.draws, seed=o.seed, pool=o.pool, query=o.query
            )

        attempt("estimate-transfer", _et)
    if "disagreements" in want:

        def _dg() -> None:
            rep.disagreements = disagreements(
                full,
                metric=o.metric,
                min_shift=o.min_shift,
                baseline=o.baseline,
                explain=o.explain,
                runtime=o.runtime,
            )

        attempt("disagreements", _dg)
    if "snr" in want:
        attempt("snr", lambda: setattr(rep, "snr", signal_to_noise(full)))
    if "pareto" in want:
        attempt("pareto", lambda: setattr(rep, "pareto", pareto_transfer(full)))
    return rep
