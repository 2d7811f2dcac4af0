"""Accuracy on architectures a calibration never saw: leave one family out.

The generated corpus (:mod:`estimator.zoo.corpus`) draws networks from a dozen block families.
Each family in turn is held out whole: none of its networks' kernels or whole runs take part in
the calibration (curves, learned shape correction, gap, device_sigma) that then predicts them.
Zoo networks are labelled with the corpus family they belong to (a ResNet-50 is a bottleneck
network), so holding out "bottleneck" holds those out too.

The baseline is what practitioners use without this project: ``latency = c x MACs`` with ``c``
fitted (least squares in log space) on the same training networks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from estimator.calibration.attribute import KernelPoint
from estimator.calibration.breakdown import FamilyBreakdown, add_refit
from estimator.calibration.calibrate import Calibration, WholeModel
from estimator.calibration.collect import ZOO_PREFIX, models_dir
from estimator.calibration.dataset import CORPUS_PREFIX
from estimator.calibration.fit import FitOptions
from estimator.calibration.validate import Metrics, ModelResult, leave_one_group_out, metrics
from estimator.errors import InputError
from estimator.registry.models import Hardware

if TYPE_CHECKING:
    from estimator.zoo.corpus.generate import CorpusNet
from estimator.zoo.family import ZOO_FAMILY, family_of

__all__ = ["ZOO_FAMILY", "family_of"]


def link_corpus(corpus_dir: str | os.PathLike[str], db: Path) -> list[Path]:
    """Symlink the exported corpus (``tools/corpus.py export``) into the calibration models
    folder as ``zoo__corpus-<family>-<index>-<hash>.onnx`` and return the links.

    A link, not a copy: the corpus is gigabytes, and the store identifies a model by the hash
    of its bytes, not by its path."""
    from estimator.zoo.corpus.exporting import manifest_nets

    nets = manifest_nets(corpus_dir)
    if not nets:
        raise InputError(f"{corpus_dir}: no exported corpus (run tools/corpus.py export)")
    return link_nets(nets, db, CORPUS_PREFIX)


def link_nets(nets: Sequence[tuple[CorpusNet, Path]], db: Path, prefix: str) -> list[Path]:
    """Symlink exported corpus networks into the models folder of ``db`` as
    ``zoo__<prefix><family>-<index>-<hash>.onnx`` (the store's name for them)."""
    folder = models_dir(db)
    out: list[Path] = []
    for net, path in nets:
        index = net.name.rsplit("/", 1)[-1]
        link = folder / f"{ZOO_PREFIX}{prefix}{net.family}-{index}.onnx"
        target = Path(path).resolve()
        if link.is_symlink() and link.resolve() == target:
            out.append(link)
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(target)
        out.append(link)
    return out


@dataclass(frozen=True, slots=True)
class FamilyValidation:
    """Leave-one-family-out results at one thread count."""

    threads: int
    results: list[ModelResult]
    families: list[str]
    #: ``c x MACs`` baseline predictions (ms), fitted without each network's family.
    baseline_ms: list[float]
    #: Per family: its error by kernel category (empty unless asked for).
    breakdown: dict[str, FamilyBreakdown] = field(default_factory=dict)

    def metrics(self, family: str | None = None) -> Metrics:
        return metrics([r for r, f in self._pairs() if family in (None, f)])

    def baseline_metrics(self, family: str | None = None) -> Metrics:
        rows = [
            ModelResult(r.name, r.measured_ms, b, b, b)
            for (r, f), b in zip(self._pairs(), self.baseline_ms, strict=True)
            if family in (None, f)
        ]
        return metrics(rows)

    def _pairs(self) -> list[tuple[ModelResult, str]]:
        return list(zip(self.results, self.families, strict=True))


def macs_baseline(
    macs: Sequence[float], measured_ms: Sequence[float], groups: Sequence[str]
) -> list[float]:
    """``c x MACs`` per network with ``c`` the geometric-mean ratio over the other groups."""
    m = np.asarray(macs, dtype=np.float64)
    y = np.asarray(measured_ms, dtype=np.float64)
    g = np.asarray(list(groups))
    out = []
    for i in range(len(m)):
        rest = g != g[i]
        c = float(np.exp(np.mean(np.log(y[rest] / m[rest]))))
        out.append(c * float(m[i]))
    return out


def validate_families(
    sweep_points: Sequence[KernelPoint],
    models: Sequence[WholeModel],
    macs: Sequence[float],
    hw: Hardware,
    threads: int,
    *,
    opts: FitOptions | None = None,
    use_network_fit: bool = True,
    kernel_model: bool = True,
    progress: Callable[[str], None] | None = None,
    breakdown: bool = False,
) -> FamilyValidation:
    """Leave-one-family-out predictions of every network in ``models`` and the baseline;
    ``breakdown``: also each family's error by kernel category (:mod:`breakdown`)."""
    fams = [family_of(m.name) for m in models]
    rows: dict[str, FamilyBreakdown] = {}

    def on_refit(cal: Calibration, held: list[int]) -> None:
        add_refit(rows, cal, held, models, fams, hw, threads)

    res = leave_one_group_out(
        sweep_points,
        models,
        fams,
        hw,
        threads,
        opts=opts,
        use_network_fit=use_network_fit,
        kernel_model=kernel_model,
        progress=progress,
        on_refit=on_refit if breakdown else None,
    )
    base = macs_baseline(macs, [m.measured * 1e3 for m in models], fams)
    return FamilyValidation(threads, res, fams, base, rows)
