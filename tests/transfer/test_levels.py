"""Evidence-chosen parameter sets: the roofline scale on data made by it, the full set on data
made by the full model."""

from __future__ import annotations

import numpy as np
import pytest

from estimator.engine import pack_device
from estimator.engine.kernel_set import KernelSet
from estimator.errors import InputError
from estimator.transfer import DEFAULT_PARAMS, fit_selected, level, nb201_kernel_set, prior_for
from estimator.transfer.fewshot import _Model, base_terms
from estimator.zoo.nb201 import random_archs


def _made_by(
    ks: KernelSet, name: str, theta: np.ndarray, noise: float, device: str = "gtx-1080-ti"
) -> np.ndarray:
    hw, prior = prior_for(device, "pytorch-eager")
    lv = level(name)
    dev = pack_device(hw, prior, hw.cores)
    t, _ = _Model.build(base_terms(ks.kernels, dev, lv.base), lv.params).kernel_times(theta)
    y = np.asarray(ks.counts @ t).reshape(-1) * 1e3
    return y * np.exp(np.random.default_rng(3).normal(0.0, noise, y.size))


def test_picks_the_roofline_scale_on_data_generated_from_it() -> None:
    # a CPU whose latency is 3x its ideal roofline, no per-kernel overhead: the prior's
    # overheads and curves do not fit it, and the richer sets cannot pin that down from 20
    # points, so their leave-one-out error is clearly worse
    hw, prior = prior_for("xeon-silver-4114", "pytorch-eager")
    ks = nb201_kernel_set(random_archs(40, seed=21), batch=1)
    y = _made_by(ks, "roofline", np.log([3.0]), noise=0.02, device="xeon-silver-4114")
    sel = fit_selected(hw, prior, ks.subset(range(20)), y[:20])
    assert sel.chosen.level == "roofline", sel.scores
    assert sel.scores["roofline"] < 0.5 * sel.scores["full"]
    assert sel.chosen.scales["scale"] == pytest.approx(3.0, rel=0.03)
    mean, _, _ = sel.chosen.predict(ks.subset(range(20, 40)))
    truth = _made_by(ks, "roofline", np.log([3.0]), noise=0.0, device="xeon-silver-4114")
    np.testing.assert_allclose(mean, truth[20:], rtol=0.03)


def test_picks_the_full_set_on_data_generated_from_the_full_model() -> None:
    hw, prior = prior_for("gtx-1080-ti", "pytorch-eager")
    ks = nb201_kernel_set(random_archs(40, seed=22), batch=1)
    true = np.log([0.7, 1.5, 4.0, 0.8, 1.2, 1.3, 0.8, 1.5, 0.7, 1.2])
    y = _made_by(ks, "full", true, noise=0.01)
    sel = fit_selected(hw, prior, ks.subset(range(20)), y[:20], sigma=0.01)
    assert sel.chosen.level == "full", sel.scores
    assert sel.chosen.params == DEFAULT_PARAMS
    assert sel.scores["full"] < sel.scores["roofline"]


def test_too_few_points_keep_the_richest_level_and_bad_choices_are_errors() -> None:
    hw, prior = prior_for("gtx-1080-ti", "pytorch-eager")
    ks = nb201_kernel_set(random_archs(2, seed=23), batch=1)
    sel = fit_selected(hw, prior, ks, [3.0, 4.0])
    assert sel.chosen.level == "full"
    with pytest.raises(InputError, match="select"):
        fit_selected(hw, prior, ks, [3.0, 4.0], select="aic")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="level 'nope'"):
        level("nope")


def test_roofline_profile_reproduces_its_fit() -> None:
    # the one-scale roofline is written as flat curves at 1/scale and no overhead: the engine
    # gives the fit's own predictions
    hw, prior = prior_for("gtx-1080-ti", "pytorch-eager")
    ks = nb201_kernel_set(random_archs(30, seed=24), batch=32)
    y = _made_by(ks, "roofline", np.log([12.0]), noise=0.0)
    f = fit_selected(hw, prior, ks.subset(range(10)), y[:10], levels=[level("roofline")]).chosen
    prof = f.to_profile()
    assert "overhead not modelled" in prof.provenance.source
    mean, _, _ = f.predict(ks.subset(range(10, 30)))
    own = _made_by(ks, "roofline", f.theta, noise=0.0)  # the fit's own model at its theta
    np.testing.assert_allclose(mean, own[10:], rtol=1e-9)
    np.testing.assert_allclose(mean, y[10:], rtol=1e-3)
