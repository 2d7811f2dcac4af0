"""The calibration data set of one device and thread count: model files in, kernel points out.

Glue between the steps: which models to measure (sweeps, zoo exports, extra ONNX files), and,
once measured, their attributed kernel points and whole-run medians read back from the store.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from estimator.calibration.attribute import Attribution, KernelPoint, attribute
from estimator.calibration.calibrate import WholeModel, whole_model
from estimator.calibration.collect import (
    ZOO_PREFIX,
    Budget,
    CalibrationStore,
    export_zoo_model,
    models_dir,
    write_sweep_model,
)
from estimator.calibration.sweep import sweep_cases
from estimator.errors import InputError
from estimator.registry.loader import load_priors
from estimator.registry.models import Hardware

#: Name prefix (after ``zoo__``) of the generated validation corpus's networks in a store.
CORPUS_PREFIX = "corpus-"
#: Networks of the calibration corpus (another seed of the same generator): calibration networks,
#: measured and fitted like the zoo's.
CALIB_PREFIX = "calib-"


def model_files(
    db: Path,
    *,
    quick: bool = False,
    zoo_models: Sequence[str] | None = None,
    extra: Sequence[Path] = (),
    log: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write sweep models, export zoo models (once) and copy extra ONNX files next to ``db``.

    ``zoo_models=None`` takes every seed model; ``quick`` keeps the reduced sweep grid.
    """
    folder = models_dir(db)
    paths = [write_sweep_model(c, folder) for c in sweep_cases(quick=quick)]
    if zoo_models is None:
        from estimator import zoo

        zoo_models = zoo.names()
    for name in zoo_models:
        if log is not None and not (folder / f"{ZOO_PREFIX}{name}.onnx").is_file():
            log(f"exporting {name} to ONNX")
        paths.append(export_zoo_model(name, folder))
    for p in extra:
        src = Path(p)
        if not src.is_file():
            raise InputError(f"{src}: no such ONNX file")
        dst = folder / f"{ZOO_PREFIX}{src.stem}.onnx"
        if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
            shutil.copy2(src, dst)
        paths.append(dst)
    return paths


def sampled_files(db: Path, hw: Hardware, budget_s: float, seed: int, budget: Budget) -> list[Path]:
    """Write the kernels sampled over each category's shape space (``sampling.sample_all``),
    as many as ``budget_s`` seconds of measurement at ``budget`` allow on ``hw`` (its one-thread
    peak and DRAM bandwidth predict each kernel's run time)."""
    from functools import partial

    from estimator.calibration.sampling import measure_cost_s, sample_all

    cost = partial(
        measure_cost_s,
        warmup=budget.warmup,
        min_time_s=budget.min_time_s,
        min_repeats=budget.min_repeats,
        profile_runs=budget.profile_runs,
        max_profile_runs=budget.max_profile_runs,
        overhead_s=SAMPLE_OVERHEAD_S,
    )
    cases = sample_all(
        budget_s,
        seed,
        peak_flops=hw.peak_flops("fp32", 1),
        bandwidth=hw.dram_bandwidth(1),
        cost_s=cost,
    )
    folder = models_dir(db)
    return [write_sweep_model(c, folder) for c in cases]


#: Seed of the calibration corpus: not the validation corpus's (0), so a network validated on is
#: never one calibrated on.
CALIB_CORPUS_SEED = 1


def corpus_files(db: Path, per_family: int, log: Callable[[str], None] | None = None) -> list[Path]:
    """Export ``per_family`` networks of each block family of the generated corpus (seed
    :data:`CALIB_CORPUS_SEED`) next to ``db``, once, and link them as calibration networks
    (``zoo__calib-<family>-<index>-<hash>.onnx``): whole networks of every family, for the fit
    of what kernels cost inside networks (:mod:`estimator.calibration.network_fit`)."""
    if per_family <= 0:
        return []
    from estimator.calibration.families import link_nets
    from estimator.zoo.corpus import export_corpus, generate_corpus

    nets = generate_corpus(per_family, CALIB_CORPUS_SEED)
    folder = models_dir(db) / "calib-corpus"
    if log is not None and any(not (folder / n.relpath).is_file() for n in nets):
        log(f"exporting {len(nets)} calibration-corpus networks to ONNX")
    paths = export_corpus(nets, folder)
    return link_nets(list(zip(nets, paths, strict=True)), db, CALIB_PREFIX)


#: Measurement settings of sampled kernels: many cheap measurements (each profiled run gives a
#: per-node time; the per-node median of 7 is stable to a few percent on a quiet core).
SAMPLE_BUDGET = Budget(
    warmup=2, min_time_s=0.05, profile_runs=7, min_repeats=5, max_profile_runs=60
)
#: Seconds per sampled model besides its runs (sessions, file write, attribution): an estimate,
#: from 0.5 s per model at collect's default budget (10 cases in 8.5 s) less its longer runs.
SAMPLE_OVERHEAD_S = 0.3


@dataclass(slots=True)
class Dataset:
    sweeps: list[Attribution]
    models: list[WholeModel]

    @property
    def sweep_points(self) -> list[KernelPoint]:
        return [p for a in self.sweeps for p in a.points]

    @property
    def all_points(self) -> list[KernelPoint]:
        pts = self.sweep_points
        for m in self.models:
            if m.attribution is not None:
                pts.extend(m.attribution.points)
        return pts

    def match_summary(self) -> str:
        atts = [*self.sweeps, *(m.attribution for m in self.models if m.attribution)]
        matched = sum(a.matched_us for a in atts)
        total = matched + sum(a.unmatched_us for a in atts)
        kern = sum(a.n_measured for a in atts)
        nk = sum(a.n_kernels for a in atts)
        ops: dict[str, float] = {}
        for a in atts:
            for op, us in a.unmatched_ops.items():
                ops[op] = ops.get(op, 0.0) + us
        top = ", ".join(
            f"{op} {us / total:.1%}" for op, us in sorted(ops.items(), key=lambda x: -x[1])[:4]
        )
        return (
            f"profiled time matched to kernels: {matched / total:.1%} "
            f"(unmatched: {top or 'none'}); "
            f"kernels with a measurement: {kern}/{nk}"
        )


def load_dataset(
    db: Path,
    hw: Hardware,
    threads: int,
    *,
    statistic: str = "median",
    whole: str = "median",
    models: Sequence[str] | None = None,
    pick: str = "best",
    corpus: bool = False,
) -> Dataset:
    """Attributed sweeps and networks measured at ``threads`` (``models``: zoo names to keep).

    ``statistic`` picks the per-node time over the profiled runs: 'median' (default, the
    statistic estimates predict) or 'p10' (for a loaded machine: a kernel longer than a scheduler
    slice is preempted in most runs there, so its median measures the load; docs/calibration.md).
    ``whole`` picks the whole-run figure ('median', 'p10' or 'cpu', see :func:`whole_model`).
    Networks of the generated validation corpus (``zoo__corpus-*``, ``tools/corpus.py profile``)
    are left out unless ``corpus``: they are there to be predicted, not to calibrate. Networks
    of the calibration corpus (``zoo__calib-*``, :func:`corpus_files`) are always kept."""
    from estimator.calibration.attribute import PARTITION_RUNTIME
    from estimator.device import device_context

    prior = load_priors(hw.type)
    block = device_context(
        hw, runtime=PARTITION_RUNTIME, threads=threads, profile=prior
    ).nchwc_block
    with CalibrationStore(db) as store:
        runs = store.calibration_runs(threads, pick)
    sweeps: list[Attribution] = []
    nets: list[WholeModel] = []
    for run in runs:
        name = run.zoo_name or ""
        if run.is_sweep:
            sweeps.append(attribute(run, hw, prior, threads, statistic=statistic))
        elif name.startswith(CORPUS_PREFIX) and not corpus:
            continue
        elif models is None or name in models or name.startswith(CALIB_PREFIX):
            att = attribute(run, hw, prior, threads, statistic=statistic)
            nets.append(whole_model(run, whole, att, block))
    return Dataset(sweeps, nets)
