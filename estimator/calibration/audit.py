"""Compare two efficiency_curves.json files: which categories moved, by how much, and why.

A recalibration should be reviewed like a code change. For each profile (runtime, dtype, threads)
present in either file, each category's compute and memory curves are evaluated on a common grid
of log sizes (the union of both files' knots, so no change between knots is missed), and the
largest relative change of the mean is reported with the overhead change and both provenances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from estimator.registry.loader import read_efficiency_file
from estimator.registry.models import EfficiencyCurve, EfficiencyFile, EfficiencyProfile

Key = tuple[str, str, int | None]


@dataclass(frozen=True, slots=True)
class CurveChange:
    category: str
    curve: str
    #: Largest |new/old - 1| of the mean over the common grid, and where (log10 size).
    max_rel_change: float
    at_log10: float
    #: Mean relative change over the grid (signed): overall direction of the move.
    mean_rel_change: float


@dataclass(frozen=True, slots=True)
class ProfileDiff:
    key: Key
    status: str  # "changed", "added", "removed"
    curves: list[CurveChange]
    overhead: dict[str, tuple[float, float]]
    old_provenance: dict[str, object] | None
    new_provenance: dict[str, object] | None
    categories_added: list[str]
    categories_removed: list[str]

    def moved(self, threshold: float) -> list[CurveChange]:
        return [c for c in self.curves if c.max_rel_change >= threshold]


def _key(p: EfficiencyProfile) -> Key:
    return p.runtime, p.dtype, p.threads


def curve_change(old: EfficiencyCurve, new: EfficiencyCurve) -> tuple[float, float, float]:
    """(max |relative change|, where, mean signed relative change) on the union of knots."""
    grid = np.union1d(np.asarray(old.knots_log10), np.asarray(new.knots_log10))
    a, _ = old.evaluate(grid)
    b, _ = new.evaluate(grid)
    rel = np.asarray(b) / np.asarray(a) - 1.0
    i = int(np.argmax(np.abs(rel)))
    return float(abs(rel[i])), float(grid[i]), float(np.mean(rel))


def _prov(p: EfficiencyProfile) -> dict[str, object]:
    pv = p.provenance
    return {
        "date": pv.date,
        "tool_version": pv.tool_version,
        "source": pv.source,
        "n_measurements": pv.n_measurements,
        "device_sigma": p.device_sigma,
        "calibrated": p.calibrated,
    }


def diff_files(old: EfficiencyFile, new: EfficiencyFile) -> list[ProfileDiff]:
    olds = {_key(p): p for p in old.profiles}
    news = {_key(p): p for p in new.profiles}
    out: list[ProfileDiff] = []
    for key in sorted(set(olds) | set(news), key=lambda k: (k[0], k[1], k[2] or 0)):
        a, b = olds.get(key), news.get(key)
        if a is None or b is None:
            status = "added" if a is None else "removed"
            one = b if b is not None else a
            assert one is not None
            out.append(
                ProfileDiff(
                    key,
                    status,
                    [],
                    {},
                    None if a is None else _prov(a),
                    None if b is None else _prov(b),
                    [str(c) for c in one.categories] if a is None else [],
                    [str(c) for c in one.categories] if b is None else [],
                )
            )
            continue
        changes: list[CurveChange] = []
        overhead: dict[str, tuple[float, float]] = {}
        common = [c for c in a.categories if c in b.categories]
        for cat in common:
            ca, cb = a.categories[cat], b.categories[cat]
            for name in ("compute", "memory"):
                mx, at, mean = curve_change(getattr(ca, name), getattr(cb, name))
                changes.append(CurveChange(str(cat), name, mx, at, mean))
            overhead[str(cat)] = (ca.overhead_us.mean, cb.overhead_us.mean)
        out.append(
            ProfileDiff(
                key,
                "changed",
                changes,
                overhead,
                _prov(a),
                _prov(b),
                [str(c) for c in b.categories if c not in a.categories],
                [str(c) for c in a.categories if c not in b.categories],
            )
        )
    return out


def diff_paths(old: str | Path, new: str | Path) -> list[ProfileDiff]:
    return diff_files(read_efficiency_file(old), read_efficiency_file(new))


def format_report(diffs: Sequence[ProfileDiff], threshold: float = 0.05) -> str:
    lines: list[str] = []
    for d in diffs:
        rt, dt, th = d.key
        head = f"profile {rt}/{dt}/threads={th}: {d.status}"
        lines.append(head)
        for label, prov in (("old", d.old_provenance), ("new", d.new_provenance)):
            if prov is not None:
                lines.append(
                    f"  {label}: {prov['date']} tool {prov['tool_version']} "
                    f"n={prov['n_measurements']} "
                    f"device_sigma={float(str(prov['device_sigma'])):.3f} "
                    f"source: {prov['source']}"
                )
        if d.categories_added:
            lines.append(f"  categories added: {', '.join(d.categories_added)}")
        if d.categories_removed:
            lines.append(f"  categories removed: {', '.join(d.categories_removed)}")
        moved = d.moved(threshold)
        if d.status == "changed":
            lines.append(
                f"  {len(moved)} of {len(d.curves)} curves moved by >= {threshold:.0%} somewhere"
            )
        for c in sorted(moved, key=lambda c: -c.max_rel_change):
            o_old, o_new = d.overhead.get(c.category, (math.nan, math.nan))
            lines.append(
                f"    {c.category:<15} {c.curve:<8} max {c.max_rel_change:+.1%} "
                f"at 10^{c.at_log10:.1f}"
                f"  mean {c.mean_rel_change:+.1%}  overhead {o_old:.2f} -> {o_new:.2f} us"
            )
    return "\n".join(lines)
