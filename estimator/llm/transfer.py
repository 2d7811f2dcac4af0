"""Fit a new device from k measured generations: a prefill (compute) and a decode (bandwidth)
scale, MAP with the registry prior (shared/seeds/003, E3).

The uncalibrated estimate of each measured row (:func:`estimator.llm.estimate_generation` on the
device's registry entry) gives its TTFT ``T`` and mean TPOT ``D``. The device is then::

    TTFT = exp(a_c) * T          TPOT = exp(a_b) * D          E2E = TTFT + (G - 1) * TPOT

``a_c`` moves what the prefill's compute-bound GEMMs and attention achieve, ``a_b`` what the
decode's weight and cache streaming achieves. The MAP estimate minimises::

    sum_rows sum_{measured m} (log m_pred - log m)^2 / sigma^2 + (a_c / tau_c)^2 + (a_b / tau_b)^2

with ``tau`` the prior's own spread (:func:`estimator.transfer.fewshot.prior_widths`: the
relative std of its GEMM/attention compute curves and of its memory curves) and ``sigma`` the
device's ``device_sigma`` (the dispersion an estimate claims): data, not code. A row may give
TTFT, TPOT, or only the end-to-end latency of ``generate`` tokens; an end-to-end figure moves
both scales in proportion to their share of it, so even k = 1 moves both. A per-step overhead
is not a third parameter: rows at one prompt length (the published ones) cannot tell it from
the bandwidth scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from estimator.errors import InputError
from estimator.registry.models import KernelCategory
from estimator.safe_read import csv_rows

#: Columns of a measurement CSV; ``model``, ``prompt`` and ``batch`` required, and at least one
#: of the three latencies per row (``e2e_ms`` needs ``generate``).
COLUMNS = (
    "model", "hardware", "prompt", "generate", "batch", "dtype", "ttft_ms", "tpot_ms", "e2e_ms",
)  # fmt: skip
METRICS = ("ttft_ms", "tpot_ms", "e2e_ms")


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measured generation (a CSV row: ``row`` is its line number)."""

    model: str
    prompt: int
    batch: int
    generate: int | None = None
    hardware: str | None = None
    dtype: str = "fp16"
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None
    row: int = 0

    def measured(self) -> dict[str, float]:
        return {m: v for m in METRICS if (v := getattr(self, m)) is not None}


@dataclass(frozen=True, slots=True)
class Base:
    """The prior (uncalibrated) estimate of a measurement: TTFT, mean TPOT, generated tokens."""

    ttft_ms: float
    tpot_ms: float
    generate: int


def predict(base: Base, a_c: float, a_b: float) -> dict[str, float]:
    """TTFT, TPOT and end to end of ``base`` on a device of log-scales (a_c, a_b)."""
    ttft = math.exp(a_c) * base.ttft_ms
    tpot = math.exp(a_b) * base.tpot_ms
    return {"ttft_ms": ttft, "tpot_ms": tpot, "e2e_ms": ttft + (base.generate - 1) * tpot}


@dataclass(frozen=True, slots=True)
class DeviceFit:
    """The fitted log-scales, their prior widths and the noise the fit assumed."""

    a_compute: float
    a_bandwidth: float
    tau_compute: float
    tau_bandwidth: float
    sigma: float
    k: int

    @property
    def compute_scale(self) -> float:
        """What multiplies the prior's TTFT (> 1: the device prefills slower than the prior)."""
        return math.exp(self.a_compute)

    @property
    def bandwidth_scale(self) -> float:
        """What multiplies the prior's TPOT."""
        return math.exp(self.a_bandwidth)

    def predict(self, base: Base) -> dict[str, float]:
        return predict(base, self.a_compute, self.a_bandwidth)


def fit(
    pairs: Sequence[tuple[Measurement, Base]], taus: tuple[float, float], sigma: float
) -> DeviceFit:
    """MAP log-scales from measured rows and their prior estimates (k = 0: the prior)."""
    tau_c, tau_b = taus
    for name, v in (("tau_compute", tau_c), ("tau_bandwidth", tau_b), ("sigma", sigma)):
        if not (math.isfinite(v) and v > 0):
            raise InputError(f"transfer fit: {name} must be a positive number, got {v}")
    if not pairs:
        return DeviceFit(0.0, 0.0, tau_c, tau_b, sigma, 0)

    def residuals(x: NDArray[np.float64]) -> NDArray[np.float64]:
        out: list[float] = []
        for meas, base in pairs:
            pred = predict(base, float(x[0]), float(x[1]))
            out += [(math.log(pred[m]) - math.log(v)) / sigma for m, v in meas.measured().items()]
        out += [float(x[0]) / tau_c, float(x[1]) / tau_b]
        return np.asarray(out)

    sol = least_squares(residuals, np.zeros(2), method="lm", xtol=1e-12, ftol=1e-12)
    return DeviceFit(float(sol.x[0]), float(sol.x[1]), tau_c, tau_b, sigma, len(pairs))


# ------------------------------------------------------------------------------- CSV input


def _number(text: str, column: str, where: str, integer: bool) -> float | int:
    try:
        value: float | int = int(text) if integer else float(text)
    except ValueError:
        kind = "a positive integer" if integer else "a positive number"
        raise InputError(f"{where}: {column} must be {kind}, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        kind = "a positive integer" if integer else "a positive number"
        raise InputError(f"{where}: {column} must be {kind}, got {text!r}")
    return value


def read_measurements(path: str | Path) -> list[Measurement]:
    """The rows of a measurement CSV (:data:`COLUMNS`); one line naming the row for bad input.

    ``model``: a ``config.json`` path (relative paths from the CSV's folder) or a preset name.
    """
    p = Path(path)
    lines = csv_rows(p, what="measurement CSV")
    _, header = next(lines)
    header = [c.strip() for c in header]
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise InputError(f"{p}: unknown column {unknown[0]!r}; columns: {', '.join(COLUMNS)}")
    for c in ("model", "prompt", "batch"):
        if c not in header:
            raise InputError(f"{p}: missing column {c!r}")
    out: list[Measurement] = []
    for i, fields in lines:
        where = f"{p}: row {i}"
        if len(fields) > len(header):
            raise InputError(f"{where}: more fields than the header's {len(header)}")
        cell = {k: v.strip() for k, v in zip(header, fields, strict=False)}
        model = cell["model"]
        if not model:
            raise InputError(f"{where}: model is empty")
        if model.endswith(".json") and not Path(model).is_absolute():
            model = str(p.parent / model)
        vals: dict[str, Any] = {}
        for c in ("prompt", "batch", "generate"):
            if cell.get(c):
                vals[c] = _number(cell[c], c, where, integer=True)
        for c in METRICS:
            if cell.get(c):
                vals[c] = _number(cell[c], c, where, integer=False)
        if "prompt" not in vals or "batch" not in vals:
            raise InputError(f"{where}: prompt and batch are required")
        if not any(c in vals for c in METRICS):
            raise InputError(f"{where}: no measured latency (ttft_ms, tpot_ms or e2e_ms)")
        if ("e2e_ms" in vals or "tpot_ms" in vals) and vals.get("generate", 2) < 2:
            raise InputError(f"{where}: tpot_ms and e2e_ms need generate >= 2")
        if "e2e_ms" in vals and "generate" not in vals:
            raise InputError(f"{where}: e2e_ms needs generate (tokens generated)")
        out.append(
            Measurement(
                model=model,
                hardware=cell.get("hardware") or None,
                dtype=cell.get("dtype") or "fp16",
                row=i,
                **vals,
            )
        )
    if not out:
        raise InputError(f"{p}: no rows")
    return out


# ------------------------------------------------------------------------ prior and base


def prior_taus(
    hw: str, runtime: str | None, dtype: str, registry: Any = None
) -> tuple[float, float, float]:
    """(tau_compute, tau_bandwidth, sigma) of the device's prior, read off its registry entry."""
    from estimator.llm.generation import llm_context
    from estimator.transfer.fewshot import ParamSpec, prior_widths

    ctx, _ = llm_context(hw, runtime, dtype, None, registry)
    cats = (KernelCategory.GEMM, KernelCategory.ATTENTION)
    taus = prior_widths(
        ctx.profile, [ParamSpec("compute", "compute", cats), ParamSpec("memory", "memory")]
    )
    return float(taus[0]), float(taus[1]), float(ctx.device_sigma)


def base_estimate(m: Measurement, hw: str, runtime: str | None, registry: Any = None) -> Base:
    """The prior estimate of measurement ``m`` on ``hw`` (errors name the CSV row)."""
    from estimator.llm.generation import estimate_generation

    generate = m.generate if m.generate is not None else 2
    try:
        g = estimate_generation(
            m.model, hw, prompt=m.prompt, generate=generate, batch=m.batch, dtype=m.dtype,
            runtime=runtime, registry=registry,
        )  # fmt: skip
    except InputError as exc:
        raise InputError(f"row {m.row}: {exc}") from None
    return Base(g.ttft_ms, g.tpot_mean_ms, generate)


@dataclass(frozen=True, slots=True)
class Score:
    """Median |relative error| per metric for one k over held-out rows (None: not measured)."""

    k: int
    fits: int
    median_abs: dict[str, float | None]
    #: Every held-out |relative error| per metric (for pooling over devices).
    errors: dict[str, list[float]]


def leave_one_out(
    pairs: Sequence[tuple[Measurement, Base]],
    taus: tuple[float, float],
    sigma: float,
    ks: Sequence[int],
    subsets: Callable[[Sequence[int], int], list[tuple[int, ...]]],
) -> list[Score]:
    """For each held-out row and each k: fit on every k-subset of the other rows
    (``subsets(others, k)``), predict the held-out row; median |error| per metric."""
    out: list[Score] = []
    for k in ks:
        errs: dict[str, list[float]] = {m: [] for m in METRICS}
        fits = 0
        for i, (meas, base) in enumerate(pairs):
            others = [j for j in range(len(pairs)) if j != i]
            if k > len(others):
                continue
            for sub in subsets(others, k):
                f = fit([pairs[j] for j in sub], taus, sigma)
                fits += 1
                pred = f.predict(base)
                for m, v in meas.measured().items():
                    errs[m].append(abs(pred[m] / v - 1))
        if fits:
            med = {m: (float(np.median(e)) if e else None) for m, e in errs.items()}
            out.append(Score(k, fits, med, errs))
    return out
