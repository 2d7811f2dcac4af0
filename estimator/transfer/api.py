"""Python API of few-shot transfer, for NAS pipelines and ``calibrate-hardware``."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from estimator.device import device_context
from estimator.errors import InputError
from estimator.registry.loader import HARDWARE_FILE, save_profiles
from estimator.registry.models import EfficiencyProfile, Hardware
from estimator.transfer.columns import prior_for
from estimator.transfer.csvio import quantum_of, read_measurement_columns
from estimator.transfer.fewshot import FewShotFit
from estimator.transfer.levels import LEVELS, Level, Select, fit_selected
from estimator.transfer.metaprior import MetaPrior, load_meta_prior
from estimator.transfer.references import is_nb201, resolve_references
from estimator.zoo.nb201_reference import DEFAULT_SEMANTICS, check_semantics

#: Most measurements one fit uses. The fit's least squares grows faster than linearly with the
#: rows (5,000 took 5 s, 20,000 took 61 s on a 2-vCPU VM), so a million-row file would run for
#: hours: a larger set must pick a seeded sample (``shots``) instead.
MAX_FIT_MEASUREMENTS = 5_000


def _too_many(n: int) -> str:
    return (
        f"{n} measurements; a fit uses at most {MAX_FIT_MEASUREMENTS}: pass shots "
        f"(--shots k, k <= {MAX_FIT_MEASUREMENTS}) to fit a seeded sample of them"
    )


def _pick(n: int, shots: int | None, seed: int) -> NDArray[np.int64]:
    if shots is None:
        if n > MAX_FIT_MEASUREMENTS:
            raise InputError(_too_many(n))
        return np.arange(n)
    if shots < 0:
        raise InputError(f"shots must be >= 0, got {shots}")
    if shots > n:
        raise InputError(f"shots={shots} but only {n} measurements given")
    if shots > MAX_FIT_MEASUREMENTS:
        raise InputError(f"shots={shots}: a fit uses at most {MAX_FIT_MEASUREMENTS} measurements")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=shots, replace=False))


def fit_from_latencies(
    hw: str | Hardware,
    refs: Sequence[str],
    latencies_ms: Sequence[float] | NDArray[np.float64],
    *,
    runtime: str,
    batch: int | Sequence[int] | NDArray[np.int64] = 1,
    shots: int | None = None,
    seed: int = 0,
    quantum_ms: float | None = None,
    semantics: str = DEFAULT_SEMANTICS,
    meta: MetaPrior | str | None = "shipped",
    levels: Sequence[Level] = LEVELS,
    select: Select = "loo",
) -> FewShotFit:
    """Fit ``hw`` to measured latencies of ``refs``; ``shots`` uses a seeded subset of size k.

    The parameter set is chosen per fit among ``levels`` (:func:`fit_selected`), under the
    meta-learned prior of the device's type and runtime: ``meta="shipped"`` reads
    ``hardware_registry/meta_priors/`` (the datasheet prior when none was learned), None uses
    the datasheet prior, a :class:`MetaPrior` is used as given. ``refs``: ONNX paths (weights
    may be stripped), zoo names, NAS-Bench-201 arch strings.
    ``quantum_ms`` defaults to 1.0 when every latency is a whole number of ms, else None.
    """
    y = np.asarray(latencies_ms, dtype=np.float64).reshape(-1)
    if len(refs) != y.shape[0]:
        raise InputError(f"{len(refs)} model references but {y.shape[0]} latencies")
    pick = _pick(len(refs), shots, seed)
    batches = np.full(len(refs), batch) if isinstance(batch, int) else np.asarray(batch)
    if batches.shape != (len(refs),):
        raise InputError(f"{len(refs)} model references but {batches.size} batch sizes")
    device, prior = prior_for(hw, runtime)
    chosen = [refs[i] for i in pick]
    models = resolve_references(
        chosen,
        runtime=prior.runtime,
        batch=[int(batches[i]) for i in pick],
        semantics=semantics,
        ctx=device_context(device, runtime=prior.runtime, profile=prior),
    )
    q = quantum_ms if quantum_ms is not None else quantum_of(y)
    nb = check_semantics(semantics) if any(is_nb201(r) for r in chosen) else None
    if isinstance(meta, str):
        if meta != "shipped":
            raise InputError(f"meta must be 'shipped', None or a MetaPrior, got {meta!r}")
        meta = load_meta_prior(device.type, prior.runtime)
    sel_batch = int(np.median(batches[pick])) if pick.size else 1
    return fit_selected(
        device,
        prior,
        models,
        y[pick],
        levels=levels,
        meta=meta,
        select=select,
        batch=sel_batch,
        quantum_ms=q,
        nb201_semantics=nb,
    ).chosen


def calibrate_from_latencies(
    hw: str | Hardware,
    refs: Sequence[str],
    latencies_ms: Sequence[float] | NDArray[np.float64],
    *,
    runtime: str,
    batch: int | Sequence[int] = 1,
    shots: int | None = None,
    seed: int = 0,
) -> EfficiencyProfile:
    """The fitted efficiency profile (k = 0 or no refs: the prior, uncalibrated)."""
    return fit_from_latencies(
        hw, refs, latencies_ms, runtime=runtime, batch=batch, shots=shots, seed=seed
    ).to_profile()


@dataclass(frozen=True, slots=True)
class LatencyCalibration:
    """What :func:`write_from_latencies` fitted and wrote."""

    fit: FewShotFit
    #: The profile written (its provenance names the CSV file).
    profile: EfficiencyProfile
    #: The efficiency_curves.json written.
    path: Path


def write_from_latencies(
    hw: str | Hardware,
    csv_path: str | Path,
    *,
    runtime: str,
    shots: int | None = None,
    out_registry: str | Path | None = None,
) -> LatencyCalibration:
    """``calibrate-hardware --from-latencies``: fit ``hw`` to a CSV of measured latencies and
    write its efficiency_curves.json.

    ``out_registry`` None writes next to the device's hardware.json; a folder writes
    ``<folder>/<type>/<id>/`` (hardware.json copied there so the registry finds the profile).
    Bad input (file, rows, ``shots``) raises :class:`InputError`.
    """
    if shots == 0:
        raise InputError("--shots 0 fits nothing (the prior is used without a file)")
    rows = read_measurement_columns(csv_path)
    if shots is None and len(rows) > MAX_FIT_MEASUREMENTS:
        raise InputError(f"{csv_path}: {_too_many(len(rows))}")
    f = fit_from_latencies(
        hw, rows.refs, rows.latency_ms, runtime=runtime, batch=rows.batch, shots=shots
    )
    fitted = f.to_profile()
    source = f"{fitted.provenance.source}; from {csv_path}"
    profile = fitted.model_copy(
        update={"provenance": fitted.provenance.model_copy(update={"source": source})}
    )
    folder = _target_folder(f.hw, out_registry)
    path = save_profiles(folder, [profile], device=f.hw.id, note=f"from-latencies {csv_path}")
    return LatencyCalibration(f, profile, Path(path))


def _target_folder(hw: Hardware, out_registry: str | Path | None) -> Path:
    if out_registry is None:
        if hw.source_dir is None:
            raise InputError(f"hardware '{hw.id}' has no registry folder; pass an output registry")
        return Path(hw.source_dir)
    folder = Path(out_registry) / hw.type / hw.id
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / HARDWARE_FILE).exists() and hw.source_dir is not None:
        shutil.copy2(Path(hw.source_dir) / HARDWARE_FILE, folder / HARDWARE_FILE)
    return folder
