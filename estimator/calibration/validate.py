"""Leave-one-model-out validation: does a calibration predict a network it has never seen?

For each network, the curves are fitted on the sweeps and every *other* network's kernels (and the
whole-model gap and ``device_sigma`` on the other networks' whole runs); the held-out network's
total latency is then predicted and compared with its measured median whole-run latency (not the
sum of profiled kernels: profiling adds time and hides the executor's gaps).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from estimator.calibration.attribute import KernelPoint
from estimator.calibration.calibrate import (
    Calibration,
    WholeModel,
    held_out_predictions,
    log_errors,
    scatter_sigma,
)
from estimator.calibration.fit import FitOptions
from estimator.predictor import interval
from estimator.registry.models import Hardware


@dataclass(frozen=True, slots=True)
class ModelResult:
    name: str
    measured_ms: float
    predicted_ms: float
    low_ms: float
    high_ms: float

    @property
    def error(self) -> float:
        """Signed relative error of the prediction: predicted / measured - 1."""
        return self.predicted_ms / self.measured_ms - 1.0

    @property
    def covered(self) -> bool:
        return self.low_ms <= self.measured_ms <= self.high_ms


@dataclass(frozen=True, slots=True)
class Metrics:
    n: int
    mape: float
    median_abs_error: float
    within10: float
    within15: float
    within20: float
    spearman: float
    coverage: float

    def to_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Pass criteria; None skips a check."""

    max_median_abs_error: float | None = None
    min_within15: float | None = None
    min_coverage: float | None = None
    max_mape: float | None = None
    min_within10: float | None = None
    min_within20: float | None = None
    min_spearman: float | None = None


def metrics(results: Sequence[ModelResult]) -> Metrics:
    if not results:
        nan = float("nan")
        return Metrics(0, nan, nan, nan, nan, nan, nan, nan)
    err = np.array([abs(r.error) for r in results])
    meas = np.array([r.measured_ms for r in results])
    pred = np.array([r.predicted_ms for r in results])
    rho = float(sps.spearmanr(meas, pred).statistic) if len(results) > 2 else float("nan")
    return Metrics(
        n=len(results),
        mape=float(err.mean()),
        median_abs_error=float(np.median(err)),
        within10=float(np.mean(err <= 0.10)),
        within15=float(np.mean(err <= 0.15)),
        within20=float(np.mean(err <= 0.20)),
        spearman=rho,
        coverage=float(np.mean([r.covered for r in results])),
    )


def failures(m: Metrics, t: Thresholds) -> list[str]:
    """One line per threshold the metrics miss (empty: pass)."""
    checks: list[tuple[str, float | None, float, bool]] = [
        ("median |error|", t.max_median_abs_error, m.median_abs_error, True),
        ("MAPE", t.max_mape, m.mape, True),
        ("share within 10%", t.min_within10, m.within10, False),
        ("share within 15%", t.min_within15, m.within15, False),
        ("share within 20%", t.min_within20, m.within20, False),
        ("95% interval coverage", t.min_coverage, m.coverage, False),
        ("Spearman", t.min_spearman, m.spearman, False),
    ]
    out = []
    for label, limit, value, is_max in checks:
        if limit is None:
            continue
        bad = (value > limit) if is_max else (value < limit)
        if bad or math.isnan(value):
            op = "<=" if is_max else ">="
            out.append(f"{label} = {value:.3f}, wanted {op} {limit:.3f}")
    return out


def leave_one_out(
    sweep_points: Sequence[KernelPoint],
    models: Sequence[WholeModel],
    hw: Hardware,
    threads: int,
    *,
    opts: FitOptions | None = None,
    use_network_fit: bool = True,
    kernel_model: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[ModelResult]:
    """Predict each model from a calibration that excludes it (kernels and whole run)."""
    return leave_one_group_out(
        sweep_points,
        models,
        [m.name for m in models],
        hw,
        threads,
        opts=opts,
        use_network_fit=use_network_fit,
        kernel_model=kernel_model,
        progress=progress,
    )


def leave_one_group_out(
    sweep_points: Sequence[KernelPoint],
    models: Sequence[WholeModel],
    groups: Sequence[str],
    hw: Hardware,
    threads: int,
    *,
    opts: FitOptions | None = None,
    use_network_fit: bool = True,
    kernel_model: bool = True,
    progress: Callable[[str], None] | None = None,
    on_refit: Callable[[Calibration, list[int]], None] | None = None,
) -> list[ModelResult]:
    """Predict each model from a calibration that excludes its whole group (e.g. its family of
    architectures): none of the group's kernels or whole runs take part in the fit.

    The interval of a model uses a ``device_sigma`` from the held-out errors of the models of
    the *other* groups (as :func:`calibrate.held_out_residuals` gives the shipped profile), so
    neither its centre nor its width has seen its group's measurements."""
    pts = list(sweep_points)
    for m in models:
        if m.attribution is not None:
            pts.extend(m.attribution.points)

    def report(held: WholeModel, t: float) -> None:
        if progress is not None:
            progress(
                f"{held.name}: measured {held.measured * 1e3:.2f} ms, predicted {t * 1e3:.2f} ms"
            )

    total, kv = held_out_predictions(
        pts,
        models,
        hw,
        threads,
        groups=groups,
        opts=opts,
        use_network_fit=use_network_fit,
        kernel_model=kernel_model,
        progress=report,
        on_refit=on_refit,
    )
    r, rel = log_errors(models, total, kv)
    labels = np.asarray(list(groups))
    out: list[ModelResult] = []
    for i, held in enumerate(models):
        rest = labels != labels[i]
        sigma = scatter_sigma(r[rest], rel[rest], int(rest.sum()))
        lo, hi = interval(total[i : i + 1], kv[i : i + 1], sigma)
        out.append(
            ModelResult(
                held.name,
                held.measured * 1e3,
                total[i] * 1e3,
                float(lo[0]) * 1e3,
                float(hi[0]) * 1e3,
            )
        )
    return out


def format_table(results: Sequence[ModelResult]) -> str:
    lines = [
        f"| {'model':<20} | {'measured ms':>11} | {'estimated ms':>12} | {'error %':>8} | "
        f"{'95% interval ms':>21} | covered |",
        f"|{'-' * 22}|{'-' * 13}|{'-' * 14}|{'-' * 10}|{'-' * 23}|---------|",
    ]
    for r in results:
        lines.append(
            f"| {r.name:<20} | {r.measured_ms:>11.2f} | {r.predicted_ms:>12.2f} | "
            f"{100 * r.error:>+8.1f} | {f'[{r.low_ms:.2f}, {r.high_ms:.2f}]':>21} | "
            f"{'yes' if r.covered else 'no':<7} |"
        )
    return "\n".join(lines)


def format_metrics(m: Metrics) -> str:
    return (
        f"n={m.n}  MAPE={100 * m.mape:.1f}%  median |error|={100 * m.median_abs_error:.1f}%  "
        f"within 10%={100 * m.within10:.0f}%  within 15%={100 * m.within15:.0f}%  "
        f"within 20%={100 * m.within20:.0f}%  Spearman={m.spearman:.3f}  "
        f"95% coverage={100 * m.coverage:.0f}%"
    )
