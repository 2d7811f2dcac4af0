"""Renderers of the efficiency analyses: text, JSON, CSV, PNG heatmaps and the decision report.

The library computes (:mod:`.report`); this module only formats. Files are written atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from estimator.analysis.efficiency.rank_transfer import RankTransferResult
from estimator.analysis.efficiency.report import Report
from estimator.registry.loader import write_atomic

#: Spearman at or above which a source's ranking is called good enough to skip measuring.
GOOD_RHO = 0.95


def _short(name: str, width: int = 14) -> str:
    return name if len(name) <= width else name[: width - 1] + "~"


def _matrix(title: str, names: tuple[str, ...], m: NDArray[Any], fmt: str) -> list[str]:
    w = max(6, *(len(_short(n)) for n in names))
    lines = [title, " " * (w + 1) + " ".join(f"{_short(n, 7):>7}" for n in names)]
    for n, row in zip(names, m, strict=True):
        lines.append(f"{_short(n):<{w}} " + " ".join(f"{v:>7{fmt}}" for v in row))
    return lines


def text_frm(rep: Report) -> list[str]:
    f = rep.frm
    if f is None:
        return []
    lines = [f"FRM against {_short(f.baseline, 40)}: geometric mean of {', '.join(f.components)}"]
    if f.missing:
        lines.append(
            f"  not in the table (left out of the mean, not taken as 1): {', '.join(f.missing)}"
        )
    if rep.invariance is not None:
        inv = rep.invariance
        verdict = "unchanged" if inv.invariant else "CHANGED"
        lines.append(
            f"  baseline invariance over {len(inv.baselines)} baselines: rankings {verdict} "
            f"(max rank change {inv.max_rank_change:g}, max Spearman change "
            f"{inv.max_spearman_change:.1e})"
        )
    return lines


def text_stability(rep: Report) -> list[str]:
    s = rep.stability
    if s is None:
        return []
    out = ["Stability across devices (mean over device pairs):"]
    for m in (s.latency, s.frm):
        d = m.to_dict()
        out.append(
            f"  {m.metric:<10} Spearman {d['mean_spearman']:.3f}  Kendall {d['mean_kendall']:.3f}"
            f"  CV per model {d['mean_cv']:.2f}"
        )
    for t in (s.rho_test, s.cv_test):
        out.append(f"  Mann-Whitney U ({t.what}, {t.alternative}): U={t.u:g}, p={t.p:.2g}")
    if "flops" in (rep.frm.components if rep.frm else ("flops",)):
        out.append(
            "  note: FRM's FLOPs ratio is the same on every device, so part of its stability "
            "is built in"
        )
    return out


def _tier_lines(r: RankTransferResult) -> list[str]:
    out = [f"  {'tiers':<16} pairs  mean rho  min rho  flips/pairs  top-{r.k}"]
    for t in r.tiers:
        out.append(
            f"  {t.name:<16} {t.pairs:>5}  {t.mean_spearman:>8.3f}  {t.min_spearman:>7.3f}  "
            f"{t.mean_flip_fraction:>11.3f}  {t.mean_top_k:>5.2f}"
        )
    return out


def text_rank_transfer(rep: Report) -> list[str]:
    r = rep.rank_transfer
    if r is None:
        return []
    out = _matrix(
        f"Rank transfer of latency: Spearman, device x device ({len(r.models)} models, "
        f"{r.n_pairs} model pairs)",
        r.devices,
        r.spearman,
        ".3f",
    )
    out += _tier_lines(r)
    if rep.frm_transfer is not None:
        out.append("Rank transfer of FRM, by tiers:")
        out += _tier_lines(rep.frm_transfer)
    out.append("Best source per target (latency Spearman):")
    for j, d in enumerate(r.devices):
        b = r.best_source(j)
        out.append(
            f"  {d:<16} <- {r.devices[b]:<16} rho {r.spearman[b, j]:.3f}, flips {r.flips[b, j]}"
        )
    return out


def text_estimate_transfer(rep: Report) -> list[str]:
    e = rep.estimate_transfer
    if e is None:
        return []
    ks = e.shots
    head = "  ".join(f"est k={k:<3}" for k in ks)
    out = [
        f"Estimate transfer ({e.n_pool} pool, {e.n_query} query models, {e.draws} draws per k>0): "
        "Spearman on the query models",
        f"  {'target':<16} {head}  best source (rho)          median source",
    ]
    for t in e.targets:
        vals = "  ".join(f"{t.estimator_spearman[k]:>9.3f}" for k in ks)
        out.append(
            f"  {t.device:<16} {vals}  {_short(t.best_source):<14} "
            f"({t.source_spearman[t.best_source]:.3f})"
            f"     {t.median_source_spearman:.3f}"
        )
    for k in ks:
        mape = np.mean([t.estimator_mape[k] for t in e.targets])
        line = (
            f"  k={k}: estimator beats the best source on {e.beats(k)}/{len(e.targets)} targets, "
            f"the median source on {e.beats(k, 'median')}; mean MAPE {100 * mape:.1f}%"
        )
        if k:
            sm = np.mean([t.scaled_source_mape[k] for t in e.targets])
            line += f" (best source x k-shot scale: {100 * sm:.1f}%)"
        out.append(line)
    for d, why in e.skipped.items():
        out.append(f"  skipped {d}: {why}")
    return out


def text_disagreements(rep: Report) -> list[str]:
    g = rep.disagreements
    if g is None:
        return []
    d = g.to_dict()
    out = [
        f"FLOPs disagreements (|FLOPs rank - {g.metric} rank| >= {g.min_shift:g}): "
        f"{d['cases']} cases "
        f"on {d['devices_with_cases']}/{d['devices']} devices; slower than FLOPs say "
        f"{d['slower_than_flops']}, faster {d['faster_than_flops']}",
        "  per device: " + ", ".join(f"{k} {v}" for k, v in g.per_device.items()),
    ]
    worst = sorted(g.per_model.items(), key=lambda kv: -kv[1])[:5]
    out.append("  most often: " + ", ".join(f"{_short(m, 40)} ({n})" for m, n in worst))
    for e in g.explanations:
        out.append(f"  {_short(e.model, 60)} on {e.device} ({e.direction}): {e.text()}")
    return out


def text_snr(rep: Report) -> list[str]:
    s = rep.snr
    if s is None:
        return []
    return [
        f"Signal-to-noise: inter-model range {s.inter_range:.2f}x / intra-model range "
        f"{s.intra_range:.2f}x = SNR {s.snr:.2f} (log-sd between {s.sd_between:.3f} / within "
        f"{s.sd_within:.3f} = {s.snr_sd:.2f})"
    ]


def text_pareto(rep: Report) -> list[str]:
    p = rep.pareto
    if p is None:
        return []
    d = p.to_dict()
    out = [
        f"Pareto transfer (latency vs accuracy): mean precision {d['mean_precision']:.2f}, "
        f"recall {d['mean_recall']:.2f}, F1 {d['mean_f1']:.2f} over "
        f"{len(p.devices) * (len(p.devices) - 1)} device pairs",
        f"  {'tiers':<16} pairs  precision  recall    F1",
    ]
    for name, (n, pr, rc, f) in p.tiers().items():
        out.append(f"  {name:<16} {n:>5}  {pr:>9.2f}  {rc:>6.2f}  {f:>4.2f}")
    return out


SECTIONS: tuple[Callable[[Report], list[str]], ...] = (
    text_frm,
    text_stability,
    text_rank_transfer,
    text_estimate_transfer,
    text_disagreements,
    text_snr,
    text_pareto,
)


def to_text(rep: Report) -> str:
    t = rep.table
    lines = [f"{len(t.models)} models x {len(t.devices)} devices from {t.source}"]
    if rep.dropped:
        lines.append(f"left out (no latency on every device): {len(rep.dropped)} models")
    for section in SECTIONS:
        part = section(rep)
        if part:
            lines += ["", *part]
    for name, why in rep.skipped.items():
        lines.append(f"skipped {name}: {why}")
    return "\n".join(lines) + "\n"


def to_json(rep: Report) -> dict[str, Any]:
    t = rep.table
    doc: dict[str, Any] = {
        "source": t.source,
        "models": len(t.models),
        "devices": list(t.devices),
        "dropped_models": list(rep.dropped),
        "skipped": rep.skipped,
    }
    parts = {
        "frm": rep.frm,
        "baseline_invariance": rep.invariance,
        "stability": rep.stability,
        "rank_transfer": rep.rank_transfer,
        "frm_transfer": rep.frm_transfer,
        "estimate_transfer": rep.estimate_transfer,
        "disagreements": rep.disagreements,
        "snr": rep.snr,
        "pareto": rep.pareto,
    }
    for key, value in parts.items():
        if value is not None:
            doc[key] = value.to_dict()
    return doc


# ----------------------------------------------------------------------------- files


def _csv_matrix(names: tuple[str, ...], m: NDArray[Any]) -> str:
    lines = [",".join(["source", *names])]
    lines += [",".join([n, *(f"{v:.6g}" for v in row)]) for n, row in zip(names, m, strict=True)]
    return "\n".join(lines) + "\n"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _heatmap(
    path: Path, title: str, names: tuple[str, ...], m: NDArray[Any], fmt: str, cmap: str
) -> None:
    plt = _plt()
    n = len(names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 0.8 + 0.5 * n))
    im = ax.imshow(m, cmap=cmap)
    ax.set_xticks(range(n), [_short(x) for x in names], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n), [_short(x) for x in names], fontsize=7)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, format(m[i, j], fmt), ha="center", va="center", fontsize=6)
    ax.set_xlabel("target")
    ax.set_ylabel("source")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8)
    _save(fig, path)
    plt.close(fig)


def write_outputs(rep: Report, folder: str | Path) -> list[Path]:
    """report.md, report.json, CSVs and PNGs in ``folder`` (created); the paths written."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, text: str) -> None:
        write_atomic(out / name, text)
        written.append(out / name)

    put("report.json", json.dumps(to_json(rep), indent=1) + "\n")
    pngs: dict[str, str] = {}
    r = rep.rank_transfer
    if r is not None:
        put("rank_transfer_spearman.csv", _csv_matrix(r.devices, r.spearman))
        put("rank_transfer_flips.csv", _csv_matrix(r.devices, r.flips))
        _heatmap(
            out / "rank_transfer.png",
            "latency rank transfer (Spearman)",
            r.devices,
            r.spearman,
            ".2f",
            "viridis",
        )
        pngs["rank transfer"] = "rank_transfer.png"
    g = rep.disagreements
    if g is not None:
        rows = ["model,device,flops_rank,rank,shift"]
        rows += [f'"{c.model}",{c.device},{c.flops_rank:g},{c.rank:g},{c.shift:g}' for c in g.cases]
        put("disagreements.csv", "\n".join(rows) + "\n")
        _bar(
            out / "disagreements.png",
            g.per_device,
            f"FLOPs disagreements per device (shift >= {g.min_shift:g})",
        )
        pngs["disagreements"] = "disagreements.png"
    if rep.frm is not None and rep.table.has("flops") and "flops" in rep.frm.components:
        _scatter(out / "frm_vs_flops.png", rep)
        pngs["FRM against FLOPs"] = "frm_vs_flops.png"
    written += [out / p for p in pngs.values()]
    put("report.md", decision_markdown(rep, pngs))
    return written


def _bar(path: Path, counts: dict[str, int], title: str) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.5 + 0.4 * len(counts), 3))
    ax.bar(range(len(counts)), list(counts.values()), color="#c0504d")
    ax.set_xticks(
        range(len(counts)), [_short(n) for n in counts], rotation=60, ha="right", fontsize=7
    )
    ax.set_ylabel("cases")
    ax.set_title(title, fontsize=9)
    _save(fig, path)
    plt.close(fig)


def _scatter(path: Path, rep: Report) -> None:
    assert rep.frm is not None
    plt = _plt()
    flops = rep.table.column("flops") / flops_base(rep)
    fig, ax = plt.subplots(figsize=(5, 4))
    for j, d in enumerate(rep.frm.devices):
        ax.scatter(flops, rep.frm.frm[:, j], s=6, alpha=0.5, label=_short(d))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"FLOPs / FLOPs of {_short(rep.frm.baseline, 30)}")
    ax.set_ylabel("FRM")
    if len(rep.frm.devices) <= 14:
        ax.legend(fontsize=6, markerscale=2)
    _save(fig, path)
    plt.close(fig)


def flops_base(rep: Report) -> float:
    assert rep.frm is not None
    return float(rep.table.column("flops")[rep.table.models.index(rep.frm.baseline)])


def decision_markdown(rep: Report, pngs: dict[str, str]) -> str:
    """One page: the figures, then a guide read off the numbers (when FLOPs suffice, when to
    measure, which source transfers best to which targets)."""
    t = rep.table
    lines = [
        "# Efficiency decision report",
        "",
        f"{len(t.models)} models x {len(t.devices)} devices from {t.source}.",
        "",
    ]
    for title, png in pngs.items():
        lines += [f"![{title}]({png})", ""]
    lines += ["## Numbers", "", "```text", to_text(rep).rstrip(), "```", "", "## Guide", ""]
    lines += guide(rep)
    return "\n".join(lines) + "\n"


def guide(rep: Report) -> list[str]:
    out: list[str] = []
    g = rep.disagreements
    if g is not None:
        rho = g.flops_spearman
        ok = [d for d, r in zip(g.devices, rho, strict=True) if r >= GOOD_RHO]
        out.append(
            f"- **FLOPs**: Spearman of FLOPs with {g.metric} is "
            f"{np.min(rho):.2f}-{np.max(rho):.2f} "
            f"across devices; FLOPs rank well enough (>= {GOOD_RHO}) on "
            f"{len(ok)}/{len(g.devices)} devices"
            + (f" ({', '.join(ok)})" if ok else "")
            + f". {len(g.cases)} model-device cases move >= {g.min_shift:g} positions."
        )
    r = rep.rank_transfer
    if r is not None:
        weak = [t for t in r.tiers if t.mean_spearman < GOOD_RHO]
        out.append(
            "- **Measure** where rank transfer is weak (mean Spearman < "
            f"{GOOD_RHO}): "
            + (", ".join(f"{t.name} ({t.mean_spearman:.2f})" for t in weak) or "no tier pair")
            + "."
        )
        best = [
            f"{d} <- {r.devices[r.best_source(j)]} ({r.spearman[r.best_source(j), j]:.2f})"
            for j, d in enumerate(r.devices)
        ]
        out.append("- **Best source per target**: " + "; ".join(best) + ".")
    e = rep.estimate_transfer
    if e is not None:
        for k in e.shots:
            out.append(
                f"- **Estimator at k={k}** ranks better than the best single source on "
                f"{e.beats(k)}/{len(e.targets)} targets and better than the median source on "
                f"{e.beats(k, 'median')}/{len(e.targets)}."
            )
    if rep.snr is not None:
        out.append(
            f"- **Signal-to-noise** {rep.snr.snr:.2f}: "
            + (
                "architecture differences dominate device differences, so rankings mostly hold."
                if rep.snr.snr > 1
                else "device differences are as large as model differences."
            )
        )
    return out or ["- (no analysis produced numbers to decide on)"]
