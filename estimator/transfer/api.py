"""Python API of few-shot transfer, for NAS pipelines and ``calibrate_hardware.py``."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from estimator.errors import InputError
from estimator.registry.loader import HARDWARE_FILE, save_profiles
from estimator.registry.models import EfficiencyProfile, Hardware
from estimator.transfer.columns import prior_for
from estimator.transfer.csvio import quantum_of, read_measurements
from estimator.transfer.fewshot import FewShotFit, fit
from estimator.transfer.references import resolve_references


def _pick(n: int, shots: int | None, seed: int) -> NDArray[np.int64]:
    if shots is None:
        return np.arange(n)
    if shots < 0:
        raise InputError(f"shots must be >= 0, got {shots}")
    if shots > n:
        raise InputError(f"shots={shots} but only {n} measurements given")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=shots, replace=False))


def fit_from_latencies(
    hw: str | Hardware,
    refs: Sequence[str],
    latencies_ms: Sequence[float] | NDArray[np.float64],
    *,
    runtime: str,
    batch: int | Sequence[int] = 1,
    shots: int | None = None,
    seed: int = 0,
    quantum_ms: float | None = None,
    semantics: str = "reference",
) -> FewShotFit:
    """Fit ``hw`` to measured latencies of ``refs``; ``shots`` uses a seeded subset of size k.

    ``quantum_ms`` defaults to 1.0 when every latency is a whole number of ms, else None.
    """
    y = np.asarray(latencies_ms, dtype=np.float64).reshape(-1)
    if len(refs) != y.shape[0]:
        raise InputError(f"{len(refs)} model references but {y.shape[0]} latencies")
    batches = [batch] * len(refs) if isinstance(batch, int) else list(batch)
    pick = _pick(len(refs), shots, seed)
    device, prior = prior_for(hw, runtime)
    models = resolve_references(
        [refs[i] for i in pick],
        runtime=prior.runtime,
        batch=[batches[i] for i in pick],
        semantics=semantics,
    )
    q = quantum_ms if quantum_ms is not None else quantum_of(y)
    return fit(device, prior, models, y[pick], quantum_ms=q)


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


def cli_from_latencies(
    hw: str,
    csv_path: str | Path,
    shots: int | None,
    runtime: str,
    out_registry: str | Path | None,
) -> int:
    """``calibrate_hardware.py --from-latencies``: fit, write efficiency_curves.json, report.

    ``out_registry`` None writes next to the device's hardware.json; a folder writes
    ``<folder>/<type>/<id>/`` (hardware.json copied there so the registry finds the profile).
    Input errors print one line and return 2.
    """
    try:
        if shots == 0:
            raise InputError("--shots 0 fits nothing (the prior is used without a file)")
        rows = read_measurements(csv_path)
        f = fit_from_latencies(
            hw,
            [r.ref for r in rows],
            [r.latency_ms for r in rows],
            runtime=runtime,
            batch=[r.batch for r in rows],
            shots=shots,
        )
        fitted = f.to_profile()
        source = f"{fitted.provenance.source}; from {csv_path}"
        profile = fitted.model_copy(
            update={"provenance": fitted.provenance.model_copy(update={"source": source})}
        )
        folder = _target_folder(f.hw, out_registry)
        path = save_profiles(folder, [profile], device=f.hw.id, note=f"from-latencies {csv_path}")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    scales = ", ".join(f"{n}={v:.3g}" for n, v in f.scales.items())
    print(f"fitted {f.hw.id} ({f.runtime}) on k={f.k} measurements: {scales}")
    if f.k:
        print(f"rms log residual {f.rms_log_residual:.3f}; device_sigma {profile.device_sigma:.3f}")
    print(f"wrote {path}")
    return 0


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
