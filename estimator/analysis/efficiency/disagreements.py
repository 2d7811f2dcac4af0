"""FLOPs disagreements (seed 000, analysis 4): models whose FLOPs rank and latency (or FRM) rank
on a device differ by at least ``min_shift`` positions, counted per device and per model, with
the kernels that explain them.

The explanation is the estimator's view of the model on that device (:func:`estimator.estimate`,
per-kernel bound and share): the kernel groups (bound x category) whose share of the time most
exceeds their share of the FLOPs when the model is slower than its FLOPs say (memory-bound
attention, depthwise convolutions, overhead-bound small kernels), or most falls short of it when
the model is faster (compute-bound dense convolutions running near peak).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from estimator.analysis.efficiency.frm import frm
from estimator.analysis.efficiency.ranks import ranks, spearman
from estimator.analysis.efficiency.table import EfficiencyTable
from estimator.errors import InputError


@dataclass(frozen=True)
class KernelGroup:
    """Kernels of one model on one device that share a bound and a category."""

    bound: str
    category: str
    kernels: int
    time_share: float
    flops_share: float

    @property
    def label(self) -> str:
        if self.bound == "overhead":
            return f"overhead-bound small {self.category} kernels"
        if self.category == "conv_depthwise":
            return f"{self.bound}-bound depthwise convolutions"
        return f"{self.bound}-bound {self.category}"

    def describe(self) -> str:
        return (
            f"{self.label} ({self.kernels} kernels): {100 * self.time_share:.0f}% of the time, "
            f"{100 * self.flops_share:.0f}% of the FLOPs"
        )


@dataclass(frozen=True)
class Explanation:
    model: str
    device: str
    #: "slower" (FLOPs rank better than measured) or "faster".
    direction: str
    groups: tuple[KernelGroup, ...] = ()
    #: Why there is no kernel breakdown (device not in the registry, model not loadable).
    unavailable: str = ""

    def text(self) -> str:
        if self.unavailable:
            return f"no kernel breakdown: {self.unavailable}"
        return "; ".join(g.describe() for g in self.groups)


@dataclass(frozen=True)
class Disagreement:
    model: str
    device: str
    flops_rank: float
    rank: float

    @property
    def shift(self) -> float:
        """Positive: the model ranks worse than its FLOPs say (FLOPs flatter it)."""
        return self.rank - self.flops_rank


@dataclass(frozen=True)
class DisagreementResult:
    metric: str
    min_shift: float
    models: tuple[str, ...]
    devices: tuple[str, ...]
    cases: tuple[Disagreement, ...]
    #: Per device, per model counts of cases.
    per_device: dict[str, int]
    per_model: dict[str, int]
    #: Spearman of FLOPs against the metric on each device.
    flops_spearman: NDArray[np.float64]
    explanations: tuple[Explanation, ...] = field(default=())

    @property
    def slower(self) -> int:
        return sum(1 for c in self.cases if c.shift > 0)

    def to_dict(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "min_shift": self.min_shift,
            "cases": len(self.cases),
            "devices_with_cases": sum(1 for v in self.per_device.values() if v),
            "devices": len(self.devices),
            "slower_than_flops": self.slower,
            "faster_than_flops": len(self.cases) - self.slower,
            "per_device": self.per_device,
            "per_model": self.per_model,
            "flops_spearman": dict(zip(self.devices, self.flops_spearman.tolist(), strict=True)),
            "explanations": [
                {
                    "model": e.model,
                    "device": e.device,
                    "direction": e.direction,
                    "explanation": e.text(),
                }
                for e in self.explanations
            ],
        }


def disagreements(
    table: EfficiencyTable,
    *,
    metric: str = "latency",
    min_shift: float = 2,
    baseline: str | None = None,
    explain: int = 0,
    runtime: str | None = None,
) -> DisagreementResult:
    """``explain``: kernel explanations for the models with the most cases (their largest-shift
    device each). ``runtime``: for models that are not NAS-Bench-201 strings (None: the device's
    usual runtime)."""
    if not table.has("flops") or not np.all(np.isfinite(table.column("flops"))):
        raise InputError("FLOPs disagreements need a FLOPs value for every model")
    if metric not in ("latency", "frm"):
        raise InputError(f"disagreement metric must be latency or frm, got {metric!r}")
    values = table.latency_ms if metric == "latency" else frm(table, baseline).frm
    flops = table.column("flops")
    fr = ranks(flops)
    cases: list[Disagreement] = []
    per_device = dict.fromkeys(table.devices, 0)
    per_model = dict.fromkeys(table.models, 0)
    rho = np.empty(len(table.devices))

    for j, dev in enumerate(table.devices):
        r = ranks(values[:, j])
        rho[j] = spearman(flops, values[:, j])
        for i in np.flatnonzero(np.abs(r - fr) >= min_shift):
            cases.append(Disagreement(table.models[i], dev, float(fr[i]), float(r[i])))
            per_device[dev] += 1
            per_model[table.models[i]] += 1
    top = sorted(per_model, key=lambda m: -per_model[m])[:explain]
    expl = []
    for m in top:
        if not per_model[m]:
            continue
        case = max((c for c in cases if c.model == m), key=lambda c: abs(c.shift))
        expl.append(explain_case(case, runtime=runtime))
    return DisagreementResult(
        metric,
        min_shift,
        table.models,
        table.devices,
        tuple(cases),
        per_device,
        per_model,
        rho,
        tuple(expl),
    )


def explain_case(case: Disagreement, *, runtime: str | None = None, top: int = 2) -> Explanation:
    """The kernel groups behind one disagreement, from the estimate of the model on the device."""
    from estimator.estimate import estimate
    from estimator.transfer import column_setup

    direction = "slower" if case.shift > 0 else "faster"
    try:
        setup = column_setup(case.device)
        nb = case.model.startswith("|")
        est = estimate(
            case.model,
            setup.hardware,
            runtime=setup.runtime if nb else runtime,
            batch=setup.batch,
            semantics=setup.semantics,
        )
    except InputError as exc:
        return Explanation(case.model, case.device, direction, unavailable=str(exc))
    groups = kernel_groups([(k.bound, k.category, k.time_ms, k.flops) for k in est.kernels])
    sign = 1.0 if direction == "slower" else -1.0
    ordered = sorted(groups, key=lambda g: -sign * (g.time_share - g.flops_share))
    return Explanation(case.model, case.device, direction, tuple(ordered[:top]))


def kernel_groups(kernels: Sequence[tuple[str, str, float, float]]) -> list[KernelGroup]:
    """(bound, category, time, flops) per kernel -> one group per (bound, category)."""
    total_t = sum(k[2] for k in kernels) or 1.0
    total_f = sum(k[3] for k in kernels) or 1.0
    acc: dict[tuple[str, str], list[float]] = {}
    for bound, cat, t, f in kernels:
        g = acc.setdefault((bound, cat), [0, 0.0, 0.0])
        g[0] += 1
        g[1] += t
        g[2] += f
    return [
        KernelGroup(b, c, int(n), t / total_t, f / total_f) for (b, c), (n, t, f) in acc.items()
    ]
