"""Calibrated profiles are written atomically, load back, and audits report what moved."""

from __future__ import annotations

import json
import os
import shutil
from functools import lru_cache
from pathlib import Path

import pytest

from estimator.calibration.audit import curve_change, diff_paths, format_report
from estimator.calibration.calibrate import build_profile
from estimator.calibration.fit import CategoryFit, fit_all
from estimator.registry import load_profile, read_efficiency_file, save_profiles
from estimator.registry.models import EfficiencyCurve, EfficiencyProfile, KernelCategory

from .test_fit import synthetic

REPO = Path(__file__).resolve().parents[2]
HW_DIR = REPO / "hardware_registry" / "cpu" / "epyc-milan-vm-2vcpu"


@lru_cache(maxsize=4)
def _fits(seed: int) -> dict[KernelCategory, CategoryFit]:
    return fit_all(synthetic(120, 0.05, seed))


def _profile(threads: int = 1, seed: int = 0, sigma: float = 0.1) -> EfficiencyProfile:
    fits = _fits(seed)
    return build_profile(
        fits, threads=threads, device_sigma=sigma, gap_us=2.0, n_measurements=120, source="test"
    )


@pytest.fixture()
def registry(tmp_path: Path) -> Path:
    dev = tmp_path / "cpu" / "epyc-milan-vm-2vcpu"
    dev.mkdir(parents=True)
    shutil.copy(HW_DIR / "hardware.json", dev / "hardware.json")
    return tmp_path


def test_profile_round_trips_through_the_registry(registry: Path) -> None:
    prof = _profile()
    save_profiles(registry / "cpu" / "epyc-milan-vm-2vcpu", [prof], device="epyc-milan-vm-2vcpu")
    got = load_profile("epyc-milan-vm-2vcpu", "onnxruntime-cpu", "fp32", 1, registry=registry)
    assert got.calibrated and got.threads_matched
    gemm = got.category(KernelCategory.GEMM)
    assert gemm.compute.mean == prof.categories[KernelCategory.GEMM].compute.mean
    # The whole-model gap (2 us per kernel) is added to the fitted overhead.
    fitted = _fits(0)[KernelCategory.GEMM].profile.overhead_us.mean
    assert gemm.overhead_us.mean == pytest.approx(fitted + 2.0)
    assert got.device_sigma == pytest.approx(0.1)
    # Categories with no data come from the prior and are listed as such.
    assert KernelCategory.POOLING in got.prior_categories


def test_crash_during_write_keeps_the_old_file(
    registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = registry / "cpu" / "epyc-milan-vm-2vcpu"
    path = save_profiles(folder, [_profile(sigma=0.1)])
    before = path.read_bytes()

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_profiles(folder, [_profile(sigma=0.2)])
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["efficiency_curves.json", "hardware.json"]
    assert json.loads(before)["profiles"][0]["device_sigma"] == pytest.approx(0.1)


def test_curve_change_is_measured_on_the_union_of_knots() -> None:
    old = EfficiencyCurve(knots_log10=[3, 5, 7], mean=[0.1, 0.2, 0.4], std=[0.01] * 3)
    new = EfficiencyCurve(knots_log10=[3, 4, 7], mean=[0.1, 0.3, 0.4], std=[0.01] * 3)
    mx, at, _ = curve_change(old, new)
    # At 4: old interpolates to 0.15, new is 0.3 -> +100%; at 5: old 0.2, new 0.3+0.1/3 -> +66.7%.
    assert mx == pytest.approx(1.0)
    assert at == 4


def test_audit_reports_moved_categories_and_provenance(registry: Path) -> None:
    folder = registry / "cpu" / "epyc-milan-vm-2vcpu"
    first = save_profiles(folder, [_profile(seed=0)])
    old_copy = registry / "old.json"
    shutil.copy(first, old_copy)
    prof = _profile(seed=0)
    cat = prof.categories[KernelCategory.GEMM]
    scaled = cat.compute.model_copy(update={"mean": [min(1.0, m * 1.25) for m in cat.compute.mean]})
    moved = prof.model_copy(
        update={"categories": {KernelCategory.GEMM: cat.model_copy(update={"compute": scaled})}}
    )
    save_profiles(folder, [moved, _profile(threads=2)], note="recalibrated")
    diffs = diff_paths(old_copy, folder / "efficiency_curves.json")
    by_key = {d.key: d for d in diffs}
    changed = by_key[("onnxruntime-cpu", "fp32", 1)]
    gemm = next(c for c in changed.curves if c.category == "gemm" and c.curve == "compute")
    assert gemm.max_rel_change == pytest.approx(0.25, abs=1e-9)  # below the 1.0 clip
    assert [c.curve for c in changed.moved(0.05) if c.category == "gemm"] == ["compute"]
    assert by_key[("onnxruntime-cpu", "fp32", 2)].status == "added"
    text = format_report(diffs)
    assert "gemm" in text and "added" in text and "source: test" in text
    assert read_efficiency_file(folder / "efficiency_curves.json").audit[-1].note == "recalibrated"
