"""Run-to-run dispersion: how far a network's 90th and 99th percentile runs sit above its median.

Estimates predict the median warm run (the figure ``measure-latency`` reports); seed 004's
practitioners also ask for P95/P99. On one device and thread count, the relative spread of a
network's runs depends mostly on how long a run is (a 1 ms run loses a larger share to one
preemption or cache flush than a 30 ms run), so the fit is one line per percentile in log space
over the calibration networks' timed runs: ``log(p / median) = a + b * log10(median_ms)``,
weighted by the runs behind each percentile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from estimator.registry.models import Dispersion, PercentileCurve

#: Fewest networks with timed runs for a dispersion fit (two parameters per line).
MIN_NETWORKS = 4


class TimedRuns(Protocol):
    """What a measured network tells about its timed runs (seconds)."""

    @property
    def median(self) -> float: ...
    @property
    def p90(self) -> float: ...
    @property
    def p99(self) -> float: ...
    @property
    def runs(self) -> int: ...


def _line(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> PercentileCurve:
    xm = float(np.average(x, weights=w))
    ym = float(np.average(y, weights=w))
    sxx = float(np.average((x - xm) ** 2, weights=w))
    b = float(np.average((x - xm) * (y - ym), weights=w)) / sxx if sxx > 0 else 0.0
    a = ym - b * xm
    resid = y - (a + b * x)
    return PercentileCurve(a=a, b=b, resid_sd=float(np.sqrt(np.average(resid**2, weights=w))))


def fit_dispersion(models: Sequence[TimedRuns]) -> Dispersion | None:
    """Dispersion of the networks' timed runs (``WholeModel.median``/``p90``/``p99``/``runs``);
    None with fewer than :data:`MIN_NETWORKS` networks that have runs."""
    rows = [
        (m.median, m.p90, m.p99, m.runs) for m in models if m.runs >= 2 and math.isfinite(m.median)
    ]
    rows = [r for r in rows if r[0] > 0 and r[1] >= r[0] and r[2] >= r[1]]
    if len(rows) < MIN_NETWORKS:
        return None
    med = np.array([r[0] for r in rows])
    x = np.log10(med * 1e3)
    runs = np.array([r[3] for r in rows], dtype=np.float64)
    # a percentile from n runs rests on its ~n(1-q) largest samples
    p90 = _line(x, np.log(np.array([r[1] for r in rows]) / med), np.maximum(runs * 0.1, 1.0))
    p99 = _line(x, np.log(np.array([r[2] for r in rows]) / med), np.maximum(runs * 0.01, 1.0))
    return Dispersion(p90=p90, p99=p99, n_networks=len(rows), min_runs=int(runs.min()))
