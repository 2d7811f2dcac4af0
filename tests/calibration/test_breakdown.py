"""Per-family error breakdown by kernel category: the sums are those of the refit's kernel
prices and of the profiled kernels, and the table names each category's ratio."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from estimator.calibration.attribute import Attribution, KernelPoint, prepared
from estimator.calibration.breakdown import FamilyBreakdown, add_refit, format_breakdown
from estimator.calibration.calibrate import PROFILE_RUNTIME, WholeModel, calibrate
from estimator.device import device_context
from estimator.engine.layout import CATEGORIES
from estimator.predictor import predict_kernels, predict_models
from estimator.registry import load_hardware
from estimator.registry.loader import builtin_registry
from tests._nets import small_net

DEVICE = "epyc-milan-vm-2vcpu"


def test_breakdown_sums_the_refits_kernel_prices_against_the_profile(tmp_path: Path) -> None:
    # the device's datasheet alone (uncalibrated): plans and refits share one blocked layout
    folder = tmp_path / "registry" / "cpu" / DEVICE
    folder.mkdir(parents=True)
    shutil.copy(builtin_registry() / "cpu" / DEVICE / "hardware.json", folder)
    hw = load_hardware(DEVICE, tmp_path / "registry")
    ctx = device_context(hw, runtime=PROFILE_RUNTIME, threads=1)
    plans = []
    for i, width in enumerate((8, 16, 32)):
        p = tmp_path / f"net{i}.onnx"
        onnx.save(small_net(f"net{i}", i, width), p)
        plans.append(prepared(p, ctx.nchwc_block).plan)
    prior = predict_models(plans, ctx)
    models = [
        WholeModel(f"net{i}", plan, 1.2 * t)
        for i, (plan, t) in enumerate(zip(plans, prior.mean, strict=True))
    ]
    cal = calibrate([], models[:2], hw, 1)
    # the held-out network: its first kernel profiled at twice what the refit prices it
    held = models[2]
    kt = predict_kernels(
        held.plan, device_context(hw, runtime=PROFILE_RUNTIME, threads=1, profile=cal.profile)
    )
    k0 = held.plan.kernels[0]
    point = KernelPoint("net2", k0.name, k0.category, 1.0, 1.0, 1.0, 2 * float(kt.time[0]), 0, 0)
    att = Attribution("net2", [point], len(held.plan.kernels), 1, 1.0, 0.0)
    models[2] = WholeModel("net2", held.plan, held.measured, att)
    rows: dict[str, FamilyBreakdown] = {}
    add_refit(rows, cal, [2], models, ["a", "b", "c"], hw, 1)
    (b,) = rows.values()
    assert b.family == "c" and b.networks == 1 and b.measured == held.measured
    assert b.predicted == pytest.approx(float(np.sum(kt.time)))
    assert b.profiled == pytest.approx(2 * float(kt.time[0]))
    cat = str(CATEGORIES[int(kt.arrays.category[0])])
    assert b.categories[cat].ratio == pytest.approx(0.5)
    assert sum(r.kernels for r in b.categories.values()) == len(held.plan.kernels)
    others = [r for c, r in b.categories.items() if c != cat]
    assert all(np.isnan(r.ratio) for r in others if r.profiled == 0)
    table = format_breakdown([b])
    assert f"| {cat} |" in table and "| 0.50 |" in table
    assert b.to_dict()["categories"][cat]["ratio"] == pytest.approx(0.5)  # type: ignore[index]
