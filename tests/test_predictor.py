"""One predictor: every route to a latency gives what ``estimate()`` gives.

Validation (leave-one-out), calibration, batch estimates, few-shot transfer and the public
estimate all go through :mod:`estimator.predictor`; these tests compare their numbers directly.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from estimator.calibration.attribute import KernelPoint, prepared
from estimator.calibration.calibrate import WholeModel, calibrate
from estimator.calibration.fit import FitOptions
from estimator.calibration.fit import predict as fit_predict
from estimator.calibration.pipeline import _with_kernel_model
from estimator.calibration.validate import leave_one_out
from estimator.device import device_context
from estimator.engine import combine_terms, ideal_terms, kernel_terms, run_kernels
from estimator.errors import RegistryError
from estimator.estimate import clear_caches, estimate, estimate_many, prepare
from estimator.kernelmodel.features import FEATURE_INDEX
from estimator.predictor import kernel_arrays, predict_kernels, predict_models
from estimator.registry import load_hardware
from estimator.registry.loader import builtin_registry, save_profiles
from estimator.transfer import fit as fewshot_fit
from estimator.transfer import nb201_kernel_set, prior_for
from estimator.zoo.nb201 import random_archs
from tests._nets import small_net

DEVICE = "epyc-milan-vm-2vcpu"


@pytest.fixture()
def registry(tmp_path: Path) -> Path:
    """A user registry holding the device with its own elementary-work table (numbers unlike
    the runtime's default, so a route that ignores it gives a different latency)."""
    root = tmp_path / "registry"
    folder = root / "cpu" / DEVICE
    folder.mkdir(parents=True)
    shutil.copy(builtin_registry() / "cpu" / DEVICE / "hardware.json", folder)
    table = {
        "schema_version": 1,
        "device": DEVICE,
        "runtimes": {
            "onnxruntime-cpu": {
                "flop_equivalents": {"Sigmoid": 400.0, "Erf": 900.0, "QuickGelu": 700.0},
                "source": "tests/test_predictor.py: synthetic table",
                "date": "2026-12-02",
                "peak_gflops_one_thread": 100.0,
            }
        },
    }
    (folder / "elementary_work.json").write_text(json.dumps(table))
    clear_caches()
    return root


@pytest.fixture()
def nets(tmp_path: Path) -> list[Path]:
    out = []
    for i, width in enumerate((8, 16, 32, 48)):
        p = tmp_path / f"net{i}.onnx"
        onnx.save(small_net(f"net{i}", i, width, elementary=True), p)
        out.append(p)
    return out


def test_validation_predicts_exactly_what_estimate_returns(
    registry: Path, nets: list[Path]
) -> None:
    hw = load_hardware(DEVICE, registry)
    assert device_context(hw, registry=registry).elementary is not None
    ctx = device_context(hw, threads=1, registry=registry)
    plans = [prepared(p, ctx.nchwc_block).plan for p in nets]
    prior = predict_models(plans, ctx)
    # whole runs slower than the kernels by a per-kernel gap (and some scatter)
    measured = prior.mean * np.array([1.1, 0.95, 1.05, 1.0]) + 20e-6 * prior.kernels
    models = [WholeModel(p.stem, plan, m) for p, plan, m in zip(nets, plans, measured, strict=True)]
    results = leave_one_out([], models, hw, 1)
    folder = registry / "cpu" / DEVICE
    for i, res in enumerate(results):
        others = [m for j, m in enumerate(models) if j != i]
        cal = calibrate([], others, hw, 1)
        assert cal.gap > 0  # the whole-run gap is in play (it was once counted twice)
        save_profiles(folder, [cal.profile], device=DEVICE, replace=True)
        est = estimate(nets[i], DEVICE, threads=1, registry=registry)
        assert est.latency_ms == pytest.approx(res.predicted_ms, rel=1e-12)


def test_the_elementary_table_changes_the_estimate(registry: Path, nets: list[Path]) -> None:
    with_table = estimate(nets[0], DEVICE, threads=1, registry=registry).latency_ms
    default = estimate(nets[0], DEVICE, threads=1).latency_ms
    assert with_table != pytest.approx(default, rel=1e-3)


def test_estimate_many_equals_estimate_one_by_one(registry: Path, nets: list[Path]) -> None:
    refs: list[object] = [*nets, "resnet18", random_archs(1, seed=3)[0]]
    for hw in (DEVICE, "rtx-4090"):
        reg = registry if hw == DEVICE else None
        many = estimate_many(refs, hw, threads=2, registry=reg)
        one = [estimate(m, hw, threads=2, registry=reg) for m in refs]
        np.testing.assert_allclose(many.latency_ms, [e.latency_ms for e in one], rtol=1e-12)
        np.testing.assert_allclose(many.ci95_low_ms, [e.ci95_low_ms for e in one], rtol=1e-12)
        np.testing.assert_allclose(many.ci95_high_ms, [e.ci95_high_ms for e in one], rtol=1e-12)


def test_fits_use_the_engine_roofline_terms(nets: list[Path]) -> None:
    ctx = device_context(DEVICE, threads=1)
    plan = prepare(nets[3], runtime=ctx.runtime).plan
    arr = kernel_arrays(plan, ctx)
    t, _, bound = run_kernels(arr, ctx.arrays)
    tc, tm, o = kernel_terms(arr, ctx.arrays)
    t2, bound2 = combine_terms(tc, tm, o)
    np.testing.assert_array_equal(t, t2)
    np.testing.assert_array_equal(bound, bound2)
    kt = predict_kernels(plan, ctx)
    np.testing.assert_array_equal(kt.time, t)
    # calibration's fit formula on the same kernels with the device's own curves
    from estimator.calibration.fit import _Data

    tc0, tm0 = ideal_terms(arr, ctx.arrays)
    for c in np.unique(arr.category):
        sel = arr.category == c
        row = int(c)
        d = _Data(arr.log_flops[sel], arr.log_bytes[sel], tc0[sel], tm0[sel], t[sel])
        dev = ctx.arrays
        n_c, n_m = dev.c_len[row], dev.m_len[row]
        tf, _ = fit_predict(
            d,
            dev.c_knots[row, :n_c],
            dev.c_mean[row, :n_c],
            dev.m_knots[row, :n_m],
            dev.m_mean[row, :n_m],
            float(dev.ovh_mean[row]),
        )
        np.testing.assert_allclose(tf, t[sel], rtol=1e-12)


def test_fewshot_prediction_is_the_estimate_of_its_profile() -> None:
    hw, prior = prior_for("gtx-1080-ti", "pytorch-eager")
    archs = random_archs(30, seed=2)
    ks = nb201_kernel_set(archs, batch=1)
    y = predict_models(ks, device_context(hw, runtime="pytorch-eager", profile=prior)).mean
    f = fewshot_fit(hw, prior, ks.subset(range(10)), y[:10] * 1.7e3, nb201_semantics="reference")
    mean, lo, hi = f.predict(ks)
    ctx = device_context(hw, runtime="pytorch-eager", profile=f.to_profile())
    for i in (0, 15, 29):
        est = estimate(archs[i], ctx)
        assert est.latency_ms == pytest.approx(mean[i], rel=1e-12)
        assert (est.ci95_low_ms, est.ci95_high_ms) == pytest.approx((lo[i], hi[i]), rel=1e-12)
    # the fit's own kernel model agrees with the profile it becomes
    fitted_ms = np.asarray(f.predict(ks)[0])
    assert np.all(fitted_ms > 0)
    assert f.to_profile().provenance.nb201_semantics == "reference"


def test_nb201_semantics_is_one_documented_default() -> None:
    arch = "|none~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|"
    ref = estimate(arch, "rtx-4090")
    assert ref.latency_ms == estimate(arch, "rtx-4090", semantics="reference").latency_ms
    pruned = estimate(arch, "rtx-4090", semantics="pruned")
    assert pruned.latency_ms < ref.latency_ms  # dead edges removed
    many = estimate_many([arch], "rtx-4090", semantics="pruned")
    assert many.latency_ms[0] == pytest.approx(pruned.latency_ms, rel=1e-12)


def test_estimate_notes_a_semantics_mismatch() -> None:
    hw, prior = prior_for("gtx-1080-ti", "pytorch-eager")
    archs = random_archs(12, seed=4)
    ks = nb201_kernel_set(archs, batch=1)
    f = fewshot_fit(hw, prior, ks, np.full(12, 5.0), nb201_semantics="reference")
    ctx = device_context(hw, runtime="pytorch-eager", profile=f.to_profile())
    same = estimate(archs[0], ctx)
    other = estimate(archs[0], ctx, semantics="pruned")
    assert not any("semantics" in n for n in same.notes)
    assert any("fitted on 'reference'" in n and "'pruned'" in n for n in other.notes)


def _points(plans: list[Any], ctx: Any, copies: int, seed: int) -> list[KernelPoint]:
    """Measured-looking kernels: the curves' time with a shape-dependent slowdown and noise."""
    rng = np.random.default_rng(seed)
    out: list[KernelPoint] = []
    for plan in plans:
        arr = kernel_arrays(plan, ctx)
        t = predict_kernels(plan, ctx).time
        tc0, tm0 = ideal_terms(arr, ctx.arrays)
        assert arr.features is not None
        for c in range(copies):
            # 1.5x for convs with 16 or 48 output channels (not 8 or 32): a shape effect no
            # curve over log size can follow, only the features can
            cout = np.nan_to_num(arr.features[:, FEATURE_INDEX["conv_cout"]])
            slow = np.exp(0.4 * (cout % 32 == 16) + rng.normal(0, 0.05, len(t)))
            for i, k in enumerate(plan.kernels):
                out.append(
                    KernelPoint(
                        f"sweep/{plan.graph_name}/{c}",
                        k.name,
                        k.category,
                        float(arr.flops[i]),
                        float(arr.bytes[i]),
                        float(arr.working_set[i]),
                        float(t[i] * slow[i]),
                        float(tc0[i]),
                        float(tm0[i]),
                        features=arr.features[i],
                        dtype=int(arr.dtype[i]),
                    )
                )
    return out


def test_validation_with_a_kernel_model_predicts_what_estimate_returns(
    registry: Path, nets: list[Path]
) -> None:
    hw = load_hardware(DEVICE, registry)
    ctx = device_context(hw, threads=1, registry=registry)
    plans = [prepared(p, ctx.nchwc_block).plan for p in nets]
    points = _points(plans, ctx, copies=40, seed=0)
    opts = FitOptions(kernel_model_min_points=50)
    prior = predict_models(plans, ctx)
    measured = prior.mean * np.array([1.3, 1.1, 1.2, 1.25])
    models = [WholeModel(p.stem, plan, m) for p, plan, m in zip(nets, plans, measured, strict=True)]
    results = leave_one_out(points, models, hw, 1, opts=opts)
    folder = registry / "cpu" / DEVICE
    for i, res in enumerate(results):
        others = [m for j, m in enumerate(models) if j != i]
        cal = calibrate(points, others, hw, 1, opts=opts)
        assert cal.kernel_model is not None
        profile = _with_kernel_model(cal.profile, cal.kernel_model, folder, 1)
        save_profiles(folder, [profile], device=DEVICE, replace=True)
        est = estimate(nets[i], DEVICE, threads=1, registry=registry)
        assert est.latency_ms == pytest.approx(res.predicted_ms, rel=1e-12)
    # the correction is in play: the same profile without its kernel model predicts otherwise
    bare = device_context(DEVICE, threads=1, registry=registry, kernel_model=None)
    assert estimate(nets[3], bare).latency_ms != pytest.approx(est.latency_ms, rel=1e-3)


def test_a_changed_kernel_model_file_is_refused(registry: Path, nets: list[Path]) -> None:
    hw = load_hardware(DEVICE, registry)
    ctx = device_context(hw, threads=1, registry=registry)
    plans = [prepared(p, ctx.nchwc_block).plan for p in nets]
    points = _points(plans, ctx, copies=12, seed=1)
    cal = calibrate(points, [], hw, 1, opts=FitOptions(kernel_model_min_points=50))
    assert cal.kernel_model is not None
    folder = registry / "cpu" / DEVICE
    profile = _with_kernel_model(cal.profile, cal.kernel_model, folder, 1)
    save_profiles(folder, [profile], device=DEVICE, replace=True)
    assert estimate(nets[0], DEVICE, threads=1, registry=registry).latency_ms > 0
    path = folder / str(profile.provenance.kernel_model)
    path.write_text(path.read_text().replace('"seed": 0', '"seed": 1'))
    clear_caches()
    with pytest.raises(RegistryError, match="changed since the efficiency profile"):
        estimate(nets[0], DEVICE, threads=1, registry=registry)


def test_network_scales_multiply_their_category_only(nets: list[Path]) -> None:
    from estimator.registry.models import NetworkFit

    ctx = device_context(DEVICE, threads=1)
    plan = prepare(nets[3], runtime=ctx.runtime).plan
    base = predict_kernels(plan, ctx)
    cats = np.unique(base.arrays.category)
    assert len(cats) >= 2
    from estimator.engine.layout import CATEGORIES

    scaled_cat = CATEGORIES[int(cats[0])]
    fit = NetworkFit(scales={scaled_cat: 2.5}, prior_log_sd=0.3, n_networks=3)
    prof = ctx.profile.model_copy(update={"network_fit": fit})
    scaled = predict_kernels(plan, device_context(DEVICE, threads=1, profile=prof))
    sel = base.arrays.category == cats[0]
    np.testing.assert_allclose(scaled.time[sel], 2.5 * base.time[sel], rtol=1e-12)
    np.testing.assert_allclose(scaled.time[~sel], base.time[~sel], rtol=1e-12)
