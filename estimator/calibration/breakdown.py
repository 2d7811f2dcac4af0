"""Where a held-out family's error comes from: per kernel category, and between kernels and runs.

A leave-one-family-out error (:mod:`families`) is one number per network. To say why a family
misses, each refit that predicted it is asked, per kernel category, what it predicts for the
family's kernels against what the profiler measured for them, and how far the profiled kernels
add up to the measured whole run. A category priced wrong shows up as its own ratio far from 1;
a run that costs more (or less) than its kernels shows up in ``run / profiled``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from estimator.calibration.calibrate import PROFILE_RUNTIME, Calibration, WholeModel
from estimator.device import device_context
from estimator.engine.layout import CATEGORIES
from estimator.predictor import predict_kernels
from estimator.registry.models import Hardware


@dataclass(slots=True)
class CategoryRow:
    """Sums over a family's networks (s)."""

    #: Predicted time of every kernel of the category.
    predicted: float = 0.0
    #: Predicted and profiled time of the kernels the profiler measured.
    predicted_measured: float = 0.0
    profiled: float = 0.0
    kernels: int = 0

    @property
    def ratio(self) -> float:
        """Predicted / profiled over the measured kernels (NaN when none were measured)."""
        return self.predicted_measured / self.profiled if self.profiled > 0 else float("nan")


@dataclass(slots=True)
class FamilyBreakdown:
    family: str
    networks: int = 0
    #: Sums over the family's networks (s): measured whole runs, profiled kernels, prediction.
    measured: float = 0.0
    profiled: float = 0.0
    predicted: float = 0.0
    categories: dict[str, CategoryRow] = field(default_factory=dict)
    #: The refit's whole-network category scales (1 where it has none).
    scales: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "family": self.family,
            "networks": self.networks,
            "measured_ms": self.measured * 1e3,
            "profiled_ms": self.profiled * 1e3,
            "predicted_ms": self.predicted * 1e3,
            "categories": {
                c: {
                    "kernels": r.kernels,
                    "predicted_ms": r.predicted * 1e3,
                    "predicted_measured_ms": r.predicted_measured * 1e3,
                    "profiled_ms": r.profiled * 1e3,
                    "ratio": r.ratio,
                    "network_scale": self.scales.get(c, 1.0),
                }
                for c, r in sorted(self.categories.items())
            },
        }


def add_refit(
    out: dict[str, FamilyBreakdown],
    cal: Calibration,
    held: Sequence[int],
    models: Sequence[WholeModel],
    families: Sequence[str],
    hw: Hardware,
    threads: int,
) -> None:
    """Add the networks ``held`` (indices into ``models``), predicted by refit ``cal``, to their
    families' rows in ``out``."""
    ctx = device_context(
        hw,
        runtime=PROFILE_RUNTIME,
        threads=threads,
        profile=cal.profile,
        kernel_model=cal.kernel_model,
    )
    net = cal.profile.network_fit
    for i in held:
        m = models[i]
        fam = out.setdefault(families[i], FamilyBreakdown(families[i]))
        if net is not None:
            fam.scales = {str(c): float(v) for c, v in net.scales.items()}
        kt = predict_kernels(m.plan, ctx)
        measured = (
            {p.kernel: p.t for p in m.attribution.points} if m.attribution is not None else {}
        )
        fam.networks += 1
        fam.measured += m.measured
        fam.predicted += float(np.sum(kt.time))
        for k, t, ci in zip(m.plan.kernels, kt.time, kt.arrays.category, strict=True):
            row = fam.categories.setdefault(str(CATEGORIES[int(ci)]), CategoryRow())
            row.kernels += 1
            row.predicted += float(t)
            tm = measured.get(k.name)
            if tm is not None:
                row.predicted_measured += float(t)
                row.profiled += tm
                fam.profiled += tm


def format_breakdown(rows: Sequence[FamilyBreakdown]) -> str:
    """One markdown table per family: each category's share and predicted / profiled ratio."""
    lines: list[str] = []
    for b in rows:
        if b.networks == 0:
            continue
        lines.append(
            f"**{b.family}** ({b.networks} networks): predicted / measured run "
            f"{b.predicted / b.measured:.2f}, profiled kernels / measured run "
            f"{b.profiled / b.measured:.2f}"
        )
        lines.append("")
        lines.append("| category | kernels | share of prediction | predicted / profiled | "
                     "network scale |")  # fmt: skip
        lines.append("|---|---|---|---|---|")
        for c, r in sorted(b.categories.items(), key=lambda kv: -kv[1].predicted):
            share = r.predicted / b.predicted if b.predicted > 0 else float("nan")
            lines.append(
                f"| {c} | {r.kernels} | {100 * share:.1f}% | {r.ratio:.2f} | "
                f"{b.scales.get(c, 1.0):.2f} |"
            )
        lines.append("")
    return "\n".join(lines)
