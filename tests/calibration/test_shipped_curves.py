"""The calibration shipped for the development VM loads and is what docs/accuracy_cpu.md says."""

from __future__ import annotations

import pytest

from estimator.registry import load_profile
from estimator.registry.models import KernelCategory


@pytest.mark.parametrize("threads", [1, 2])
def test_development_vm_is_calibrated_for_onnxruntime(threads: int) -> None:
    prof = load_profile("epyc-milan-vm-2vcpu", "onnxruntime-cpu", "fp32", threads)
    assert prof.calibrated and prof.threads_matched and prof.threads == threads
    # onnxruntime's CPU provider runs no 'attention' or 'other' kernel: those stay priors.
    assert set(prof.prior_categories) == {KernelCategory.ATTENTION, KernelCategory.OTHER}
    assert prof.provenance.n_measurements > 1000
    # Dense compute categories fit kernel times well (R^2 on log time).
    for cat in ("conv_dense", "conv_pointwise", "gemm"):
        assert prof.provenance.fit_r2[cat] > 0.9, cat
    assert 0.0 < prof.device_sigma < 0.5
    for cat, cp in prof.categories.items():
        if cat in prof.prior_categories:
            continue
        assert all(s > 0 for s in cp.compute.std), cat
        assert all(s > 0 for s in cp.memory.std), cat
        assert len(cp.compute.n) == len(cp.compute.knots_log10)
