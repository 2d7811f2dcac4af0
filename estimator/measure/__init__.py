"""Latency measurement on real runtimes: runners, statistics, fingerprint, results store.

Public API: :func:`measure` -> :class:`Measurement`; :class:`ResultsStore` to keep runs.
See docs/design/measurement.md.
"""

from estimator.host import fingerprint_hash, machine_fingerprint
from estimator.measure.api import RUNTIMES, Measurement, measure
from estimator.measure.profile import KernelTime, node_times
from estimator.measure.stats import LatencySummary, median_ci, repeats_for_precision, summarize
from estimator.measure.store import ResultsStore, RunRecord, default_db_path

__all__ = [
    "RUNTIMES",
    "KernelTime",
    "LatencySummary",
    "Measurement",
    "ResultsStore",
    "RunRecord",
    "default_db_path",
    "fingerprint_hash",
    "machine_fingerprint",
    "measure",
    "median_ci",
    "node_times",
    "repeats_for_precision",
    "summarize",
]
