"""Many plans on one device (issue 20): the learned correction runs once over all their kernels,
and every row equals what the plan alone gets."""

from __future__ import annotations

import numpy as np
import pytest

from estimator.device import device_context
from estimator.estimate import prepare
from estimator.predictor import (
    kernel_arrays,
    kernel_set,
    plans_columns,
    predict_kernels,
    predict_models,
)
from estimator.zoo.mbspace import write_space

#: A device whose registry has a learned kernel model and category scales.
HW = "xeon-6-vm-2vcpu"


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> list:
    ctx = device_context(HW, runtime="onnxruntime-cpu")
    folder = tmp_path_factory.mktemp("mb")
    paths = [str(p) for _, p in write_space(folder, 4, seed=7, weights=False)]
    return [prepare(p, runtime=ctx.runtime, nchwc_block=ctx.nchwc_block).plan for p in paths]


def test_rows_equal_plan_by_plan(plans: list) -> None:
    ctx = device_context(HW, runtime="onnxruntime-cpu")
    assert ctx.kernel_model is not None
    whole, lengths = plans_columns(plans, ctx)
    per = [kernel_arrays(p, ctx) for p in plans]
    assert lengths.tolist() == [len(p.kernels) for p in plans]
    for col in ("flops", "bytes", "corr", "corr_sd", "dtype", "category"):
        np.testing.assert_array_equal(
            getattr(whole, col), np.concatenate([getattr(a, col) for a in per])
        )
    # the correction is not the identity here, so the check above is not vacuous
    assert not np.allclose(whole.corr, 1.0)


def test_totals_equal_single_estimates(plans: list) -> None:
    ctx = device_context(HW, runtime="onnxruntime-cpu")
    totals = predict_models(plans, ctx)
    singles = [predict_kernels(p, ctx).time.sum() for p in plans]
    np.testing.assert_allclose(totals.mean, singles, rtol=1e-13, atol=0)
    ks = kernel_set([p.graph_name for p in plans], plans, ctx)
    assert ks.counts.sum(axis=1).A1.tolist() == [len(p.kernels) for p in plans]
    assert ks.counts.shape[1] < sum(len(p.kernels) for p in plans)  # kernels shared


def test_empty_batch() -> None:
    ctx = device_context(HW, runtime="onnxruntime-cpu")
    whole, lengths = plans_columns([], ctx)
    assert len(whole) == 0 and lengths.size == 0
