"""PNG plots of a calibration: measured efficiency points against the fitted curves, and a
roofline chart of one model's kernels. matplotlib with the Agg backend (no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from estimator.calibration.aggregate import COMPUTE, EffPoint
from estimator.calibration.attribute import KernelPoint
from estimator.registry.models import EfficiencyCurve, EfficiencyProfile, KernelCategory


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _band(ax: Any, curve: EfficiencyCurve, color: str, label: str) -> None:
    x = np.asarray(curve.knots_log10)
    m = np.asarray(curve.mean)
    s = np.asarray(curve.std)
    ax.plot(x, m, "-", color=color, label=label)
    ax.fill_between(x, np.maximum(m - 1.96 * s, 1e-6), m + 1.96 * s, color=color, alpha=0.2)


def plot_curves(
    points: Sequence[EffPoint],
    profile: EfficiencyProfile,
    out_dir: str | Path,
    *,
    prior: EfficiencyProfile | None = None,
) -> list[Path]:
    """One PNG per category: points, fitted curve with its 95% predictive band, the prior."""
    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for cat, prof in profile.categories.items():
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for ax, kind in zip(axes, (COMPUTE, "memory"), strict=True):
            sel = [p for p in points if p.category == cat and p.curve == kind]
            if sel:
                ax.scatter([p.x for p in sel], [p.efficiency for p in sel], s=10, alpha=0.6,
                           label=f"measured (n={len(sel)})")  # fmt: skip
            _band(ax, getattr(prof, kind), "C1", "fitted, 95% band")
            if prior is not None and cat in prior.categories:
                pc = getattr(prior.categories[KernelCategory(cat)], kind)
                ax.plot(pc.knots_log10, pc.mean, "--", color="gray", label="prior")
            ax.set_yscale("log")
            ax.set_xlabel("log10 FLOPs" if kind == COMPUTE else "log10 bytes")
            ax.set_ylabel(f"{kind} efficiency")
            ax.set_title(f"{cat} / {kind}")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
        fig.suptitle(
            f"{profile.runtime} {profile.dtype} threads={profile.threads}; overhead "
            f"{prof.overhead_us.mean:.1f} +- {prof.overhead_us.std:.1f} us"
        )
        fig.tight_layout()
        path = out / f"efficiency_{cat}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def plot_roofline(
    points: Sequence[KernelPoint],
    peak_flops: float,
    bandwidths: dict[str, float],
    path: str | Path,
    *,
    title: str = "",
    ceilings: dict[str, float] | None = None,
) -> Path:
    """Achieved FLOP/s against arithmetic intensity for each kernel, under the device's roofs.

    ``ceilings``: further compute ceilings (name -> FLOP/s, e.g. a measured GEMM under the FMA
    peak) drawn as dotted lines below ``peak_flops``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 5))
    pts = [p for p in points if p.flops > 0 and p.bytes > 0 and p.t > 0]
    ai = np.array([p.flops / p.bytes for p in pts])
    perf = np.array([p.flops / p.t for p in pts])
    cats = sorted({str(p.category) for p in pts})
    for i, c in enumerate(cats):
        sel = np.array([str(p.category) == c for p in pts])
        ax.scatter(ai[sel], perf[sel], s=14, color=f"C{i % 10}", label=c, alpha=0.7)
    lo = min(float(ai.min()) if ai.size else 0.1, 0.1)
    hi = max(float(ai.max()) if ai.size else 100.0, 100.0)
    x = np.logspace(np.log10(lo), np.log10(hi), 200)
    for j, (name, bw) in enumerate(bandwidths.items()):
        ax.plot(x, np.minimum(peak_flops, bw * x), "--", color=f"C{(j + 5) % 10}", lw=1,
                label=f"roof {name} ({bw / 1e9:.0f} GB/s)")  # fmt: skip
    ax.axhline(peak_flops, color="k", lw=1)
    for j, (name, flops) in enumerate((ceilings or {}).items()):
        ax.axhline(flops, color=f"C{(j + 8) % 10}", lw=1, ls=":",
                   label=f"{name} ({flops / 1e9:,.0f} GFLOP/s)")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("achieved FLOP/s")
    ax.set_title(title or "roofline")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
