"""The calibration pipeline as library calls: measure, fit, write, validate, plot.

Each console script of ``estimator/cli/`` (``calibrate-hardware``, ``measure-efficiency``, ...)
parses its flags, calls one function here and renders the typed result. Nothing here prints or
returns an exit status: progress goes to the optional ``progress`` callback (one line a call),
user mistakes raise :class:`~estimator.errors.InputError`.

The steps of :func:`calibrate_device`: export the zoo networks and write the single-kernel sweep
models next to the results store, measure the device's elementary-function table when it has none,
measure every model kernel by kernel (resumable: stored models are reused), fit the efficiency
curves per kernel category, estimate ``device_sigma`` from held-out refits, and write
``efficiency_curves.json`` (atomically, with a backup and an audit entry).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from estimator.errors import InputError
from estimator.registry.models import EfficiencyProfile, Hardware, KernelCategory
from estimator.zoo.family import family_of

if TYPE_CHECKING:
    from estimator.calibration.aggregate import BinStat
    from estimator.calibration.attribute import KernelPoint
    from estimator.calibration.collect import Budget, CollectResult
    from estimator.calibration.dataset import Dataset
    from estimator.calibration.distribution import DistributionStats
    from estimator.calibration.fit import CategoryFit
    from estimator.calibration.validate import Metrics, ModelResult
    from estimator.kernelmodel.model import KernelModel

__all__ = [
    "MIN_HELD_OUT",
    "QUICK_ZOO",
    "RUNTIMES",
    "CalibrationResult",
    "CategorySummary",
    "EfficiencyBins",
    "FittedData",
    "MeasureResult",
    "ThreadCalibration",
    "ValidationRun",
    "aggregate_device",
    "calibrate_device",
    "fit_device",
    "measure_elementary_table",
    "measure_models",
    "plot_device",
    "plot_measured_roofline",
    "residual_distribution",
    "resolve_db",
    "validate_device",
    "whole_statistic",
]

Progress = Callable[[str], None]
#: ``"all"``: every zoo network; a list: those; None: the default (all, or QUICK_ZOO if quick).
ZooChoice = Sequence[str] | Literal["all"] | None

#: Runtime names the kernel-by-kernel calibration accepts (it measures onnxruntime on the CPU).
RUNTIMES = ("onnxruntime", "onnxruntime-cpu", "ort")

#: Fewest networks for which device_sigma comes from held-out refits (one per network) rather
#: than from the in-sample residuals: with two, each refit rests on a single network's run.
MIN_HELD_OUT = 3

#: Seconds of measurement per thread count spent on kernels sampled over the shape space: with
#: the fixed grid and the zoo, calibrating a 2-core CPU at 1 and 2 threads stays near 12 minutes.
DEFAULT_SAMPLE_S = 240.0

#: Networks per block family of the generated calibration corpus measured by a calibration (12
#: families: 48 networks, ~3 minutes at two thread counts).
DEFAULT_CORPUS = 4

#: Networks a quick calibration uses (small, fast to export and measure, varied categories).
QUICK_ZOO = ["mobilenet_v3_small", "squeezenet1_1", "resnet18", "deit_tiny"]


def _say(progress: Progress | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


def resolve_db(db: str | Path | None) -> Path:
    """``db``, or measure-latency's default results store when None."""
    from estimator.measure import default_db_path

    return Path(db) if db else default_db_path()


def _hardware(hw: str | Hardware, registry: str | Path | None) -> Hardware:
    if isinstance(hw, Hardware):
        return hw
    from estimator.registry import load_hardware

    return load_hardware(hw, registry)  # "host" resolves to this machine's entry there


def _zoo_models(zoo: ZooChoice, quick: bool) -> list[str] | None:
    """The zoo networks a choice names; None for every one of them."""
    if zoo == "all":
        return None
    if zoo is None:
        return list(QUICK_ZOO) if quick else None
    return list(zoo)


def whole_statistic(choice: str, threads: int) -> str:
    """'auto': CPU time of the calling thread at one thread (all the work runs there, and it
    excludes time other processes took); the 10th percentile of wall time otherwise."""
    if choice != "auto":
        return choice
    return "cpu" if threads == 1 else "p10"


def _check_threads(threads: Sequence[int]) -> list[int]:
    out = list(threads)
    if not out or any(t < 1 for t in out):
        raise InputError(f"threads: expected positive integers, got {out}")
    return out


# --------------------------------------------------------------------------- measure


@dataclass(frozen=True, slots=True)
class MeasureResult:
    """What :func:`measure_models` measured, per thread count."""

    db: Path
    models: list[Path]
    per_threads: dict[int, CollectResult]


def measure_models(
    db: str | Path | None,
    threads: Sequence[int] = (1,),
    *,
    quick: bool = False,
    zoo: ZooChoice = "all",
    extra: Sequence[Path] = (),
    budget: Budget | None = None,
    force: bool = False,
    passes: int = 1,
    progress: Progress | None = None,
    progress_bar: bool = False,
) -> MeasureResult:
    """Write the sweep models, export the zoo networks and measure them all kernel by kernel.

    Models already in the store at a thread count are reused unless ``force``. ``progress_bar``
    shows a tqdm bar on stderr while measuring (when stderr is a terminal).
    """
    from estimator.calibration.collect import collect
    from estimator.calibration.dataset import model_files

    path = resolve_db(db)
    ths = _check_threads(threads)
    paths = model_files(
        path, quick=quick, zoo_models=_zoo_models(zoo, quick), extra=extra, log=progress
    )
    per: dict[int, CollectResult] = {}
    for th in ths:
        per[th] = collect(
            paths, path, th, budget=budget, force=force, passes=passes, progress=progress_bar
        )
    return MeasureResult(path, paths, per)


def measure_elementary_table(
    hw: Hardware, quick: bool, out: Path, *, progress: Progress | None = None
) -> Path | None:
    """Measure the device's own elementary-function table once, before the kernels it prices
    are attributed; returns the file written, or None when nothing was measured.

    A device with a table keeps it (rerun ``tools/measure_elementary_work.py --write`` to replace
    it). Only into the device's own folder: the table is read from next to its hardware.json,
    and a calibration told to write elsewhere (``out``) must not touch that folder.
    """
    import onnxruntime as ort

    from estimator.calibration.elementary import RUNTIME, measure_elementary, method
    from estimator.registry.elementary import load_elementary_work, save_elementary_work

    if hw.source_dir is None or load_elementary_work(hw, RUNTIME) is not None:
        return None
    if out.resolve() != Path(hw.source_dir).resolve():
        _say(
            progress,
            f"{hw.id} has no elementary_work.json; the runtime's default table applies (measure "
            f"one with tools/measure_elementary_work.py --hw {hw.id} --write)",
        )
        return None
    repeats, runs = (3, 100) if quick else (11, 300)
    _say(progress, f"measuring elementary-function work on {hw.id} (one thread)")
    m = measure_elementary(hw, repeats, runs)
    source = f"calibrate_hardware.py --hw {hw.id} ({method(repeats, runs, ort.__version__)})"
    path = Path(save_elementary_work(hw.source_dir, hw.id, RUNTIME, m.entry(source)))
    _say(progress, f"wrote {path}")
    return path


# --------------------------------------------------------------------------- fit


@dataclass(frozen=True, slots=True)
class FittedData:
    """A device's stored measurements at one thread count, attributed and fitted."""

    hw: Hardware
    threads: int
    dataset: Dataset
    points: list[KernelPoint]
    fits: dict[KernelCategory, CategoryFit]


def fit_device(
    hw: str | Hardware,
    db: str | Path | None,
    threads: int,
    *,
    registry: str | Path | None = None,
    statistic: str = "median",
) -> FittedData:
    """Load the store's kernels of ``hw`` at ``threads`` and fit every category's curves."""
    from estimator.calibration.dataset import load_dataset
    from estimator.calibration.fit import fit_all

    device = _hardware(hw, registry)
    path = resolve_db(db)
    ds = load_dataset(path, device, threads, statistic=statistic)
    pts = ds.all_points
    if not pts:
        raise InputError(f"no calibration measurements at threads={threads} in {path}")
    return FittedData(device, threads, ds, pts, fit_all(pts))


@dataclass(frozen=True, slots=True)
class EfficiencyBins:
    """Pooled efficiency statistics of one thread count: (category, curve) -> bins."""

    fitted: FittedData
    bins: dict[tuple[KernelCategory, str], list[BinStat]]


def aggregate_device(
    hw: str | Hardware,
    db: str | Path | None,
    threads: Sequence[int] = (1,),
    *,
    registry: str | Path | None = None,
    statistic: str = "median",
    step: float = 0.5,
) -> list[EfficiencyBins]:
    """Efficiency per category and log-size bin (mean, std, n, 95% CI), one entry a thread."""
    from estimator.calibration.aggregate import aggregate, efficiency_points

    out = []
    for th in _check_threads(threads):
        fd = fit_device(hw, db, th, registry=registry, statistic=statistic)
        overhead = {c: f.profile.overhead_us.mean * 1e-6 for c, f in fd.fits.items()}
        stats = aggregate(efficiency_points(fd.points, overhead), step)
        out.append(EfficiencyBins(fd, stats))
    return out


def residual_distribution(
    hw: str | Hardware,
    db: str | Path | None,
    threads: int,
    *,
    registry: str | Path | None = None,
    statistic: str = "median",
) -> list[DistributionStats]:
    """Normality, heteroscedasticity and outliers of the fit residuals per category and curve."""
    import numpy as np

    from estimator.calibration.distribution import analyze

    fd = fit_device(hw, db, threads, registry=registry, statistic=statistic)
    results = []
    for cat, f in fd.fits.items():
        cpts = [q for q in fd.points if q.category == cat and q.t > 0 and (q.flops or q.bytes)]
        for code, name in ((0, "compute"), (1, "memory")):
            sel = f.bound == code
            if int(sel.sum()) == 0:
                continue
            size = np.array([np.log10(max(q.flops if code == 0 else q.bytes, 1.0)) for q in cpts])
            results.append(analyze(f.residuals[sel], size[sel], f"{cat}/{name}"))
    return results


# --------------------------------------------------------------------------- calibrate


@dataclass(frozen=True, slots=True)
class CategorySummary:
    """One category's fit: points, R^2 and the residual sd (log units)."""

    category: KernelCategory
    n_points: int
    r2: float
    resid_std: float


@dataclass(frozen=True, slots=True)
class ThreadCalibration:
    """The fit at one thread count."""

    threads: int
    profile: EfficiencyProfile
    n_kernels: int
    n_networks: int
    match_summary: str
    #: Per-kernel whole-model gap (s); 0 unless fitted (``use_network_fit``).
    gap_s: float
    #: True when device_sigma comes from held-out refits (>= MIN_HELD_OUT networks).
    held_out_sigma: bool
    fits: dict[KernelCategory, CategorySummary]
    #: 90th percentile of compute-bound kernels' speed over the fp32 peak; > 1: peak too low.
    peak_excess: float

    @property
    def device_sigma(self) -> float:
        return self.profile.device_sigma


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """What :func:`calibrate_device` measured, fitted and wrote."""

    device: str
    #: The efficiency_curves.json written.
    path: Path
    profiles: list[EfficiencyProfile]
    per_threads: list[ThreadCalibration]
    #: Models measured / reused from the store per thread count (empty with measure=False).
    measured: dict[int, CollectResult] = field(default_factory=dict)
    #: The elementary-work table measured on the way, if one was.
    elementary_work: Path | None = None
    #: Seconds: "measure" (exports, sweeps, runs), "fit" (fits and held-out refits), "total".
    timings: dict[str, float] = field(default_factory=dict)


def _source(
    hw_name: str, th: int, statistic: str, whole: str, use_network_fit: bool, quick: bool
) -> str:
    return (
        f"calibrate_hardware --hw {hw_name} --threads {th} --kernel-stat {statistic} "
        f"--whole {whole_statistic(whole, th)}{'' if use_network_fit else ' --no-network-fit'}"
        f"{' --quick' if quick else ''}"
        " (onnxruntime CPU, single-kernel sweeps + zoo networks profiled per node)"
    )


def calibrate_device(
    hw: str | Hardware,
    *,
    db: str | Path | None = None,
    threads: Sequence[int] = (1,),
    registry: str | Path | None = None,
    runtime: str = "onnxruntime",
    statistic: str = "median",
    quick: bool = False,
    zoo: ZooChoice = None,
    measure: bool = True,
    whole: str = "median",
    out: str | Path | None = None,
    note: str = "",
    use_network_fit: bool = True,
    passes: int = 1,
    sample_s: float = DEFAULT_SAMPLE_S,
    seed: int = 0,
    progress: Progress | None = None,
    progress_bar: bool = False,
    corpus_per_family: int | None = None,
) -> CalibrationResult:
    """Calibrate ``hw`` on this machine: measure, fit and write its ``efficiency_curves.json``.

    ``db``: the results store (default: measure-latency's). ``zoo``: the networks measured and
    fitted (None: all, or :data:`QUICK_ZOO` with ``quick``; ``"all"``: all). ``measure=False``
    fits what the store already holds. ``whole``: the whole-run statistic of the gap and
    device_sigma (``auto``, ``median``, ``cpu``, ``p10``). ``out``: folder or file written
    (default: the device's registry folder); checked before anything is measured. ``progress``
    receives one line per step; ``progress_bar`` shows tqdm bars while measuring. ``sample_s``:
    seconds of measurement per thread count for kernels sampled over each category's shape space
    (``seed`` draws them; 0: the fixed grid only; ``quick`` uses a fifth). ``corpus_per_family``:
    networks of each block family of the generated calibration corpus measured with the zoo
    (None: :data:`DEFAULT_CORPUS`, none with ``quick``; 0: none). ``use_network_fit``: fit what
    kernels cost inside whole networks (per-category scales and a per-kernel gap) on them.
    """
    from estimator.calibration.calibrate import (
        calibrate,
        held_out_residuals,
        peak_excess,
        scatter_sigma,
    )
    from estimator.calibration.collect import CollectResult, collect
    from estimator.calibration.dataset import (
        SAMPLE_BUDGET,
        corpus_files,
        load_dataset,
        model_files,
        sampled_files,
    )
    from estimator.registry import save_profiles
    from estimator.registry.loader import curves_path

    if runtime not in RUNTIMES:
        raise InputError(f"--runtime: only onnxruntime is calibrated by this tool, got {runtime!r}")
    t0 = time.perf_counter()
    device = _hardware(hw, registry)
    hw_name = hw if isinstance(hw, str) else device.id
    path = resolve_db(db)
    ths = _check_threads(threads)
    models = _zoo_models(zoo, quick)
    folder = (
        Path(out) if out is not None else (Path(device.source_dir) if device.source_dir else None)
    )
    if folder is None:
        raise InputError(f"{device.id}: no folder to write to; give --out")
    target = curves_path(folder)  # fail before minutes of measuring, not after
    measured: dict[int, CollectResult] = {}
    elementary = None
    if measure:
        elementary = measure_elementary_table(device, quick, target.parent, progress=progress)
        paths = model_files(path, quick=quick, zoo_models=models, log=progress)
        n_corpus = (
            (0 if quick else DEFAULT_CORPUS) if corpus_per_family is None else corpus_per_family
        )
        paths += corpus_files(path, n_corpus, log=progress)
        budget_s = sample_s / 5 if quick else sample_s
        sampled = sampled_files(path, device, budget_s, seed, SAMPLE_BUDGET) if budget_s else []
        if sampled:
            _say(progress, f"{len(sampled)} kernels sampled over the shape space (seed {seed})")
        for th in ths:
            res = collect(paths, path, th, passes=passes, progress=progress_bar)
            if sampled:
                more = collect(sampled, path, th, budget=SAMPLE_BUDGET, progress=progress_bar)
                res = CollectResult(
                    res.measured + more.measured,
                    res.skipped + more.skipped,
                    res.seconds + more.seconds,
                )
            measured[th] = res
            _say(progress, f"threads={th}: measured {len(res.measured)}, reused {len(res.skipped)}")
    t1 = time.perf_counter()
    profiles: list[EfficiencyProfile] = []
    per: list[ThreadCalibration] = []
    for th in ths:
        ws = whole_statistic(whole, th)
        ds = load_dataset(path, device, th, statistic=statistic, whole=ws, models=models)
        pts = ds.all_points
        if not pts:
            raise InputError(f"no calibration measurements at threads={th} in {path}")
        summary = ds.match_summary()
        _say(progress, f"threads={th}: {len(pts)} kernels, {len(ds.models)} networks; {summary}")
        cal = calibrate(
            pts,
            ds.models,
            device,
            th,
            use_network_fit=use_network_fit,
            source=_source(hw_name, th, statistic, whole, use_network_fit, quick),
        )
        if cal.kernel_model is not None:
            all_row = cal.kernel_model.heldout.get("all")
            if all_row is not None:
                _say(
                    progress,
                    f"threads={th}: kernel model on {all_row.n} held-out kernels: median "
                    f"|error| {all_row.median_abs_error:.1%} (curves alone, which saw these "
                    f"kernels: {all_row.median_abs_error_base:.1%})",
                )
        held_out = len(ds.models) >= MIN_HELD_OUT
        if held_out:
            _say(progress, f"threads={th}: device_sigma from refits without each family")
            # Held out by block family: the interval is for an architecture the calibration
            # has not seen, and 60-odd networks need a dozen refits, not 60.
            r, rk = held_out_residuals(
                pts,
                ds.models,
                device,
                th,
                use_network_fit=use_network_fit,
                groups=[family_of(m.name) for m in ds.models],
            )
            sigma = scatter_sigma(r, rk, len(r))
            cal.profile = cal.profile.model_copy(update={"device_sigma": sigma})
        if cal.kernel_model is not None:
            cal.profile = _with_kernel_model(cal.profile, cal.kernel_model, target.parent, th)
        profiles.append(cal.profile)
        per.append(
            ThreadCalibration(
                threads=th,
                profile=cal.profile,
                n_kernels=len(pts),
                n_networks=len(ds.models),
                match_summary=summary,
                gap_s=cal.gap,
                held_out_sigma=held_out,
                fits={
                    c: CategorySummary(c, f.n_points, f.r2, f.resid_std)
                    for c, f in cal.fits.items()
                },
                peak_excess=peak_excess(pts),
            )
        )
    written = save_profiles(folder, profiles, device=device.id, note=note or "calibrate_hardware")
    t2 = time.perf_counter()
    return CalibrationResult(
        device=device.id,
        path=Path(written),
        profiles=profiles,
        per_threads=per,
        measured=measured,
        elementary_work=elementary,
        timings={"measure": t1 - t0, "fit": t2 - t1, "total": t2 - t0},
    )


def _with_kernel_model(
    profile: EfficiencyProfile, model: KernelModel, folder: Path, threads: int
) -> EfficiencyProfile:
    """Write ``model`` next to the profile's file and make the profile name it (and its
    sha256): the curves were fitted to be corrected by exactly this model."""
    from estimator.kernelmodel.io import file_sha256, kernel_model_file, save_kernel_model

    path = save_kernel_model(model, folder / kernel_model_file(profile.runtime, threads))
    pv = profile.provenance.model_copy(
        update={"kernel_model": path.name, "kernel_model_sha256": file_sha256(path)}
    )
    return profile.model_copy(update={"provenance": pv})


# --------------------------------------------------------------------------- validate


@dataclass(frozen=True, slots=True)
class ValidationRun:
    """Leave-one-model-out results at one thread count."""

    hw: Hardware
    threads: int
    results: list[ModelResult]
    metrics: Metrics


def validate_device(
    hw: str | Hardware,
    db: str | Path | None,
    threads: Sequence[int] = (1,),
    *,
    registry: str | Path | None = None,
    statistic: str = "median",
    whole: str = "median",
    models: Sequence[str] | None = None,
    use_network_fit: bool = True,
) -> list[ValidationRun]:
    """Leave-one-model-out accuracy over the measured networks (``models``: None for all)."""
    from estimator.calibration.dataset import load_dataset
    from estimator.calibration.validate import leave_one_out, metrics

    device = _hardware(hw, registry)
    path = resolve_db(db)
    out = []
    for th in _check_threads(threads):
        ds = load_dataset(path, device, th, statistic=statistic, whole=whole, models=models)
        if len(ds.models) < 2:
            raise InputError(f"need >= 2 measured networks at threads={th} in {path}")
        res = list(
            leave_one_out(ds.sweep_points, ds.models, device, th, use_network_fit=use_network_fit)
        )
        out.append(ValidationRun(device, th, res, metrics(res)))
    return out


# --------------------------------------------------------------------------- plots


def plot_device(
    hw: str | Hardware,
    db: str | Path | None,
    threads: int,
    out: str | Path,
    *,
    registry: str | Path | None = None,
    statistic: str = "median",
    model: str | None = None,
) -> list[Path]:
    """PNG plots under ``<out>/threads<N>/``: measured points vs fitted curves per category, and
    a roofline of one network (``model``, default the first measured); returns the files."""
    from estimator.calibration.aggregate import efficiency_points
    from estimator.calibration.attribute import roofs
    from estimator.calibration.calibrate import calibrate
    from estimator.calibration.plots import plot_curves, plot_roofline
    from estimator.registry.loader import load_priors

    fd = fit_device(hw, db, threads, registry=registry, statistic=statistic)
    device, ds, pts = fd.hw, fd.dataset, fd.points
    cal = calibrate(pts, ds.models, device, threads)
    overhead = {c: f.profile.overhead_us.mean * 1e-6 for c, f in cal.fits.items()}
    folder = Path(out) / f"threads{threads}"
    prior = load_priors(device.type)
    files = plot_curves(efficiency_points(pts, overhead), cal.profile, folder, prior=prior)
    nets = [m for m in ds.models if model in (None, m.name)]
    if model and not nets:
        raise InputError(f"--model {model}: not measured at threads={threads}")
    if nets and nets[0].attribution is not None:
        peak, dev = roofs(device, prior, threads)
        bws = {f"L{i + 1}": float(b) for i, b in enumerate(dev.level_bw)}
        bws["DRAM"] = dev.dram_bw
        files.append(
            plot_roofline(
                nets[0].attribution.points,
                peak,
                bws,
                folder / f"roofline_{nets[0].name}.png",
                title=f"{nets[0].name} on {device.id}, {threads} thread(s)",
            )
        )
    return files


@dataclass(frozen=True, slots=True)
class RooflinePlot:
    """What :func:`plot_measured_roofline` drew."""

    path: Path
    #: Calibration kernels of the store drawn as points (0: none measured at that thread count).
    n_points: int


def plot_measured_roofline(
    hw: str | Hardware,
    db: str | Path | None,
    threads: int,
    out: str | Path,
    *,
    registry: str | Path | None = None,
    statistic: str = "median",
) -> RooflinePlot:
    """``<out>/threads<N>/roofline_measured.png``: the device's measured roofline at ``threads``
    (each compute ceiling ``probe-hardware`` measured, a bandwidth slope per memory level) with
    the store's calibration kernels of that thread count as points."""
    from estimator.calibration.dataset import load_dataset
    from estimator.calibration.plots import plot_roofline

    device = _hardware(hw, registry)
    m = device.measured
    if m is None:
        raise InputError(f"{device.id} has no measured roofline; `probe-hardware` measures one")
    compute = {
        f"{c.dtype} {c.method.replace('_', ' ')}": c.gflops * 1e9
        for c in m.compute
        if c.threads == threads and c.dtype == "fp32"
    }
    if not compute:
        raise InputError(
            f"--threads {threads}: {device.id}'s roofline was measured at threads {m.threads}"
        )
    peak = max(compute.values())
    bandwidths: dict[str, float] = {
        str(b.level): b.gbs * 1e9
        for b in sorted(m.bandwidth, key=lambda b: -b.gbs)
        if b.threads == threads
    }
    points = load_dataset(resolve_db(db), device, threads, statistic=statistic).all_points
    path = plot_roofline(
        points,
        peak,
        bandwidths,
        Path(out) / f"threads{threads}" / "roofline_measured.png",
        title=f"{device.id}, {threads} thread(s): measured roofline, {len(points)} kernels",
        ceilings=compute,
    )
    return RooflinePlot(path, len(points))
