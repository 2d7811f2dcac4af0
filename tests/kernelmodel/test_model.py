"""The boosted correction: recovers a known surface, calibrated bands, exact flat evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from estimator.kernelmodel.evaluate import predict_packed
from estimator.kernelmodel.features import FEATURE_NAMES, N_FEATURES
from estimator.kernelmodel.io import model_to_dict
from estimator.kernelmodel.model import (
    DEFAULT_CLIP,
    Head,
    KernelModel,
    Tree,
    fit_kernel_model,
    trees_from_lightgbm,
)
from tests.kernelmodel._synthetic import dataset, noise_sd, surface


@pytest.fixture(scope="module")
def fitted() -> KernelModel:
    x, y, cats, groups = dataset(3000, seed=0)
    return fit_kernel_model(x, y, categories=cats, seed=7, groups=groups)


def test_recovers_synthetic_surface(fitted: KernelModel) -> None:
    held = fitted.heldout["all"]
    # held-out models (grouped split): error close to the noise floor, far below the curves'
    assert held.n == 500
    assert held.median_abs_error < 0.07
    assert held.median_abs_error_base > 0.25
    assert held.r2_log > 0.9
    assert held.within_20 > 0.9
    # on fresh kernels the learned correction is close to the true surface
    xt = dataset(4000, seed=99)[0]
    r, _ = fitted.predict(xt)
    assert float(np.median(np.abs(r - surface(xt)))) < 0.03


def test_interval_coverage_is_nominal(fitted: KernelModel) -> None:
    held = fitted.heldout["all"]
    assert abs(held.coverage_90 - 0.90) < 0.05
    assert abs(held.coverage_95 - 0.95) < 0.04
    xt, yt, _, _ = dataset(4000, seed=99)
    r, sd = fitted.predict(xt)
    z = np.abs(yt - r) / sd
    assert abs(float(np.mean(z <= 1.6449)) - 0.90) < 0.04
    assert abs(float(np.mean(z <= 1.96)) - 0.95) < 0.03
    # the band is per kernel: noisier shapes get wider bands
    noisy = noise_sd(xt) > 0.1
    assert sd[noisy].mean() > 1.5 * sd[~noisy].mean()


def test_heldout_table_per_category(fitted: KernelModel) -> None:
    assert set(fitted.heldout) >= {"all", "conv_grouped", "conv_depthwise"}
    assert sum(r.n for k, r in fitted.heldout.items() if k != "all") == 500
    assert fitted.training.holdout == "groups" and len(fitted.training.source_models) == 12
    assert sum(fitted.training.n_per_category.values()) == 3000


def test_correction_is_clipped(fitted: KernelModel) -> None:
    x, _, _, _ = dataset(200, seed=5)
    wild = KernelModel(
        heads=tuple(
            Head(h.name, 10.0 if h.name == "mean" else h.base, h.trees) for h in fitted.heads
        ),
        uncertainty=fitted.uncertainty,
        clip=DEFAULT_CLIP,
        provenance=fitted.provenance,
        training=fitted.training,
        heldout=fitted.heldout,
    )
    r, sd = wild.predict(x)
    assert np.all(r == pytest.approx(math.log(4.0)))
    assert np.all(sd >= wild.sd_floor)


def test_deterministic_given_seed() -> None:
    x, y, cats, groups = dataset(800, seed=3)
    a = model_to_dict(fit_kernel_model(x, y, categories=cats, seed=11, groups=groups))
    b = model_to_dict(fit_kernel_model(x, y, categories=cats, seed=11, groups=groups))
    a["provenance"].pop("date")
    b["provenance"].pop("date")
    assert a == b


def test_unscored_fit_has_the_scored_fits_trees() -> None:
    """``score=False`` (refits) skips only the held-out table: the returned trees are the ones a
    scored fit refits on every row."""
    x, y, cats, groups = dataset(600, seed=5)
    scored = fit_kernel_model(x, y, categories=cats, seed=2, groups=groups)
    quick = fit_kernel_model(x, y, categories=cats, seed=2, groups=groups, score=False)
    assert quick.heldout == {} and quick.training.n_holdout == 0
    assert scored.heldout["all"].n > 0
    assert model_to_dict(quick)["heads"] == model_to_dict(scored)["heads"]


def test_flat_trees_match_lightgbm() -> None:
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(0)
    n = 2000
    x = rng.normal(size=(n, N_FEATURES))
    x[rng.random(x.shape) < 0.3] = np.nan  # missing values go the learned way
    x[:, 5] = np.round(x[:, 5])  # ties at thresholds
    y = np.nan_to_num(x[:, 0]) * 2 + np.isnan(x[:, 1]) + np.sin(np.nan_to_num(x[:, 5]))
    params = {"objective": "regression", "num_leaves": 15, "verbose": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x, y, feature_name=list(FEATURE_NAMES)), 30)
    trees = trees_from_lightgbm(booster.dump_model())
    from estimator.kernelmodel.model import pack_heads

    xt = rng.normal(size=(3000, N_FEATURES))
    xt[rng.random(xt.shape) < 0.3] = np.nan
    xt[:, 5] = np.round(xt[:, 5])
    ours = predict_packed(np.ascontiguousarray(xt), pack_heads([Head("m", 0.0, trees)]))[:, 0]
    np.testing.assert_allclose(ours, booster.predict(xt), rtol=0, atol=1e-12)
    par = predict_packed(
        np.ascontiguousarray(xt), pack_heads([Head("m", 0.0, trees)]), parallel=True
    )[:, 0]
    assert np.array_equal(ours, par)  # same summation order on the thread pool


def test_hand_tree_missing_values() -> None:
    # root: f0 <= 1.5 ? (leaf 1.0) : (f1 <= 0 ? leaf 2.0 : leaf 3.0); NaN at root -> right,
    # NaN at node 2 -> left
    tree = Tree(
        feature=np.array([0, -1, 1, -1, -1], np.int32),
        threshold=np.array([1.5, 0.0, 0.0, 0.0, 0.0]),
        missing_left=np.array([False, False, True, False, False]),
        left=np.array([1, -1, 3, -1, -1], np.int32),
        right=np.array([2, -1, 4, -1, -1], np.int32),
        value=np.array([0.0, 1.0, 0.0, 2.0, 3.0]),
    )
    x = np.full((5, N_FEATURES), np.nan)
    x[:, 0] = [1.0, 1.5, 2.0, np.nan, 7.0]
    x[:, 1] = [0.0, 0.0, -1.0, 5.0, np.nan]
    from estimator.kernelmodel.model import pack_heads

    out = predict_packed(x, pack_heads([Head("h", 0.5, (tree,))]))[:, 0]
    assert out.tolist() == [1.5, 1.5, 2.5, 3.5, 2.5]
    # a single leaf (depth 0) and a stump (depth 1), in a second head
    leaf = Tree(
        np.array([-1], np.int32),
        np.zeros(1),
        np.zeros(1, np.bool_),
        np.array([-1], np.int32),
        np.array([-1], np.int32),
        np.array([0.25]),
    )
    stump = Tree(
        np.array([1, -1, -1], np.int32),
        np.array([0.0, 0.0, 0.0]),
        np.array([False, False, False]),
        np.array([1, -1, -1], np.int32),
        np.array([2, -1, -1], np.int32),
        np.array([0.0, 10.0, 20.0]),
    )
    both = predict_packed(x, pack_heads([Head("h", 0.5, (tree,)), Head("g", 0.0, (leaf, stump))]))
    assert both[:, 0].tolist() == [1.5, 1.5, 2.5, 3.5, 2.5]
    assert both[:, 1].tolist() == [10.25, 10.25, 10.25, 20.25, 20.25]


def test_bagging_method_fits_and_predicts() -> None:
    x, y, cats, groups = dataset(800, seed=4)
    m = fit_kernel_model(
        x, y, categories=cats, seed=2, groups=groups, uncertainty="bagging", refit=False
    )
    assert len(m.heads) == 5 and "all" in m.noise_sd
    r, sd = m.predict(x[:50])
    assert r.shape == sd.shape == (50,) and np.all(sd > 0)


def test_bad_inputs() -> None:
    x, y, cats, _ = dataset(50, seed=1)
    with pytest.raises(ValueError, match="x must be"):
        fit_kernel_model(x[:, :5], y, categories=cats, seed=0)
    with pytest.raises(ValueError, match="unknown kernel category"):
        fit_kernel_model(x, y, categories=["nope"] * 50, seed=0)
    m = fit_kernel_model(x, y, categories=cats, seed=0)
    with pytest.raises(ValueError, match="feature matrix"):
        m.predict(x[:, :3])
