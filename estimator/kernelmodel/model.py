"""A learned, bounded, shape-aware log-correction of the roofline time of each kernel.

``t_kernel = t_roofline_curves * exp(r(features))``: the roofline with its per-category curves
stays the physical skeleton, and ``r`` (gradient-boosted trees on :mod:`features`) corrects what
those 1-D curves cannot see (groups, channels per group, token-major GEMMs, weights larger than
the cache, ...). ``r`` is clipped to ``|r| <= clip`` (default ``log 4``): the correction may move a
kernel by at most 4x either way, so a wild extrapolation cannot swamp the skeleton, and a kernel
that needs more says the skeleton is wrong, not that the trees should learn it.

Model: flat arrays per tree (feature, threshold, missing-goes-left, left, right, leaf value),
evaluated by :mod:`evaluate` (numba). Prediction needs numpy and numba only; fitting uses
LightGBM (imported inside :func:`fit_kernel_model`) and converts its booster's JSON dump.

Uncertainty (``log_sd``, the sd of ``log(t_measured / t_corrected)``):

* ``quantile`` (default): a mean head (L2) plus two LightGBM quantile heads (alpha 0.05, 0.95)
  fitted to the mean head's *cross-fitted* residuals (3 folds: in-sample residuals are too small
  to set a band); ``log_sd = (q95 - q05) / (2 * 1.6449)``. Per kernel: a shape region whose
  kernels scatter more gets a wider band.
* ``bagging``: ``n_bags`` L2 boosters on 80% subsamples; mean = their average, ``log_sd^2`` =
  their variance + the category's out-of-bag residual variance (the spread of bagged boosters
  alone is model uncertainty only and far too narrow).

Why quantile, measured on the synthetic grouped-conv surface of tests/kernelmodel (3000 kernels
of 12 source models, held-out = whole models, then 4000 fresh kernels; noise sd 0.12 for
channel groups <= 2 and 0.05 otherwise): both reach the nominal 90% overall (quantile 0.888
held-out / 0.902 fresh, bagging 0.910 / 0.921), but only quantile follows the noise: coverage of
the noisy / quiet kernels 0.854 / 0.921 against bagging's 0.771 / 0.981 (bagging's band is one
width per category). Quantile heads fitted to y itself instead of the residuals start from y's
marginal quantiles and, with few trees, stay far too wide (0.98 coverage of the 90% band).

Size is a speed budget: each kernel walks every tree to its depth, ~2.5 ns per level on the
development VM. Defaults (40 mean trees of depth 4, 2 x 10 quantile trees of depth 3: 220 node
visits per kernel) evaluate 100 kernels in ~50 us and 1e5 in ~50 ms of CPU time there, with a
held-out median error on the synthetic surface within 0.001 of a 200-tree model's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

import estimator
from estimator.engine.layout import CATEGORIES
from estimator.engine.uncertainty import Z90, Z95
from estimator.kernelmodel.evaluate import predict_packed
from estimator.kernelmodel.features import FEATURE_NAMES, FEATURE_VERSION, PREFIX_VERSIONS

Uncertainty = Literal["quantile", "bagging"]

#: Default bound on |r| (the correction is at most a factor of 4 either way).
DEFAULT_CLIP = math.log(4.0)
#: Smallest log_sd reported (a 1% floor: no kernel time is known better than that).
SD_FLOOR = 0.01
DEFAULT_UNCERTAINTY: Uncertainty = "quantile"
#: Deepest tree accepted: the evaluator pads each tree to a complete one (2^depth leaves).
MAX_DEPTH = 12

#: LightGBM settings (statistical choices; a caller's ``params`` override them). Small trees:
#: each kernel walks every tree, and ~100 kernels must evaluate in well under 100 us.
# Chosen by 5-fold grouped cross-validation on the Xeon VM's 2,499 measured kernels at one thread
# (curves refitted without each fold): median kernel error 0.168 curves alone, 0.147 with
# lr 0.25 x 40 trees / 20 per leaf, 0.145 with these; 0.148 with 7-leaf trees at lr 0.05.
DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "num_leaves": 15,
    "max_depth": 4,
    "min_data_in_leaf": 40,
    "lambda_l2": 5.0,
    "num_iterations": 80,
    "quantile_iterations": 10,
    "quantile_max_depth": 3,
    "folds": 3,
    "n_bags": 5,
    "bag_fraction": 0.8,
    "holdout_fraction": 0.2,
}
_OWN_KEYS = (
    "quantile_iterations",
    "quantile_max_depth",
    "folds",
    "n_bags",
    "bag_fraction",
    "holdout_fraction",
)

Array = NDArray[np.float64]


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Tree:
    """One tree as flat arrays; node 0 is the root. A leaf has ``feature == -1`` and
    ``left == right == -1``; an internal node's ``value`` is 0."""

    feature: NDArray[np.int32]
    threshold: NDArray[np.float64]
    missing_left: NDArray[np.bool_]
    left: NDArray[np.int32]
    right: NDArray[np.int32]
    value: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.feature.shape[0])

    @property
    def depth(self) -> int:
        d = np.zeros(len(self), dtype=np.int64)
        for i in range(len(self)):  # preorder: a parent comes before its children
            if self.feature[i] >= 0:
                d[self.left[i]] = d[i] + 1
                d[self.right[i]] = d[i] + 1
        return int(d.max()) if len(self) else 0


@dataclass(frozen=True, slots=True)
class Head:
    """A boosted ensemble: ``base + sum of its trees' leaves``."""

    name: str
    base: float
    trees: tuple[Tree, ...]


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """Held-out errors of one category (or ``all``)."""

    n: int
    #: median |t_pred / t_measured - 1| with the correction, and with the curves alone.
    median_abs_error: float
    median_abs_error_base: float
    within_10: float
    within_20: float
    #: 1 - SS(y - r) / SS(y - mean y): share of the log error of the curves the model explains.
    r2_log: float
    #: Share of kernels whose log error lies in the 90% / 95% band of the predicted log_sd.
    coverage_90: float
    coverage_95: float


@dataclass(frozen=True, slots=True)
class Provenance:
    date: str
    tool_version: str
    library: str
    library_version: str
    seed: int
    device: str = ""
    runtime: str = ""
    threads: int | None = None


@dataclass(frozen=True, slots=True)
class TrainingSet:
    n_kernels: int
    n_per_category: dict[str, int]
    source_models: tuple[str, ...]
    #: How the held-out rows were chosen ("groups": whole source models; "rows": at random).
    holdout: str
    n_holdout: int
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KernelModel:
    heads: tuple[Head, ...]
    uncertainty: Uncertainty
    clip: float
    provenance: Provenance
    training: TrainingSet
    heldout: dict[str, ErrorRow]
    #: bagging only: out-of-bag residual sd per category name (``all`` for unseen ones).
    noise_sd: dict[str, float] = field(default_factory=dict)
    sd_floor: float = SD_FLOOR
    feature_names: tuple[str, ...] = FEATURE_NAMES
    feature_version: int = FEATURE_VERSION

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_trees(self) -> int:
        return sum(len(h.trees) for h in self.heads)

    @cached_property
    def packed(self) -> tuple[NDArray[Any], ...]:
        """Arrays for :func:`evaluate.predict_packed`: all heads' trees back to back, global
        child indices, leaves pointing to themselves."""
        return pack_heads(self.heads)

    @cached_property
    def _reads_a_prefix(self) -> bool:
        """The model's features are the first ones of this code's (:data:`PREFIX_VERSIONS`)."""
        n = self.n_features
        return PREFIX_VERSIONS.get(self.feature_version) == n and (
            tuple(self.feature_names) == FEATURE_NAMES[:n]
        )

    @cached_property
    def _noise(self) -> NDArray[np.float64]:
        default = self.noise_sd.get("all", 0.0)
        return np.array([self.noise_sd.get(str(c), default) for c in CATEGORIES], np.float64)

    def predict_heads(self, x: ArrayLike, *, parallel: bool | None = None) -> Array:
        """Raw head sums ``(n_kernels, n_heads)`` in the order of :attr:`heads`."""
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 2 and arr.shape[1] > self.n_features and self._reads_a_prefix:
            arr = arr[:, : self.n_features]  # a file of an earlier, prefix feature schema
        arr = np.ascontiguousarray(arr)
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise ValueError(
                f"feature matrix must be (n, {self.n_features}), got {tuple(arr.shape)}"
            )
        return predict_packed(arr, self.packed, parallel=parallel)

    def predict(self, x: ArrayLike, *, parallel: bool | None = None) -> tuple[Array, Array]:
        """(log correction r, clipped to ``|r| <= clip``; log_sd >= ``sd_floor``) per kernel:
        ``t = t_curves * exp(r)``, and ``log(t_measured / t)`` has sd ``log_sd``."""
        raw = self.predict_heads(x, parallel=parallel)
        if self.uncertainty == "quantile":
            mean = raw[:, 0]
            sd = (raw[:, 2] - raw[:, 1]) / (2.0 * Z90)
        else:
            arr = np.asarray(x, dtype=np.float64)
            mean = raw.mean(axis=1)
            spread = raw.var(axis=1) if raw.shape[1] > 1 else np.zeros(raw.shape[0])
            cat = _category_column(arr)
            sd = np.sqrt(spread + self._noise[cat] ** 2)
        return np.clip(mean, -self.clip, self.clip), np.maximum(sd, self.sd_floor)


def _category_column(x: Array) -> NDArray[np.intp]:
    col = x[:, FEATURE_NAMES.index("category")]
    cat = np.where(np.isfinite(col), col, len(CATEGORIES) - 1)
    return np.clip(cat, 0, len(CATEGORIES) - 1).astype(np.intp)


def pack_heads(heads: Sequence[Head]) -> tuple[NDArray[Any], ...]:
    """Heap-ordered complete trees for :func:`evaluate.predict_packed` (see there)."""
    trees = [(hi, t) for hi, h in enumerate(heads) for t in h.trees]
    depths = [t.depth for _, t in trees]
    n_inner = np.array([(1 << d) - 1 for d in depths], np.int64)
    n_leaf = np.array([1 << d for d in depths], np.int64)
    inner_off = np.concatenate([[0], np.cumsum(n_inner)[:-1]]).astype(np.int64)
    leaf_off = np.concatenate([[0], np.cumsum(n_leaf)[:-1]]).astype(np.int64)
    code = np.zeros(int(n_inner.sum()), np.int64)
    threshold = np.zeros(int(n_inner.sum()), np.float64)
    value = np.zeros(int(n_leaf.sum()), np.float64)
    for ti, (_, t) in enumerate(trees):
        d = depths[ti]
        io, lo = int(inner_off[ti]), int(leaf_off[ti])
        first_leaf = (1 << d) - 1
        # (tree node, heap position, level); a leaf above level d fills its whole heap subtree
        stack = [(0, 0, 0)]
        while stack:
            nd, pos, lvl = stack.pop()
            if t.feature[nd] < 0:
                span = 1 << (d - lvl)
                first = ((pos + 1) << (d - lvl)) - 1 - first_leaf
                value[lo + first : lo + first + span] = t.value[nd]
                continue  # padded internal nodes below keep code 0, threshold 0: any way is fine
            code[io + pos] = 2 * int(t.feature[nd]) + int(t.missing_left[nd])
            threshold[io + pos] = t.threshold[nd]
            stack.append((int(t.left[nd]), 2 * pos + 1, lvl + 1))
            stack.append((int(t.right[nd]), 2 * pos + 2, lvl + 1))
    depth = np.array(depths, np.int64)
    head = np.array([hi for hi, _ in trees], np.int64)
    base = np.array([h.base for h in heads], np.float64)
    arrays = (code, threshold, value, inner_off, leaf_off, depth, head, base)
    for a in arrays:
        a.setflags(write=False)
    return arrays


# --------------------------------------------------------------------------- LightGBM dump


def trees_from_lightgbm(dump: Mapping[str, Any]) -> tuple[Tree, ...]:
    """Flat trees of a LightGBM ``Booster.dump_model()`` (numerical splits only).

    LightGBM sends a missing value the default way when the split's ``missing_type`` is NaN, and
    treats it as 0.0 when it is None; both become the node's ``missing_left`` flag.
    """
    out: list[Tree] = []
    for info in dump["tree_info"]:
        feat: list[int] = []
        thr: list[float] = []
        ml: list[bool] = []
        lc: list[int] = []
        rc: list[int] = []
        val: list[float] = []
        stack: list[tuple[Mapping[str, Any], int, str]] = [(info["tree_structure"], -1, "")]
        while stack:
            nd, parent, side = stack.pop()
            i = len(feat)
            if parent >= 0:
                (lc if side == "l" else rc)[parent] = i
            if "split_feature" in nd:
                if nd.get("decision_type", "<=") != "<=":
                    raise ValueError(f"unsupported LightGBM split {nd.get('decision_type')!r}")
                t = float(nd["threshold"])
                mtype = str(nd.get("missing_type", "None"))
                if mtype == "NaN":
                    miss = bool(nd["default_left"])
                elif mtype == "None":
                    miss = t >= 0.0
                else:
                    raise ValueError(f"unsupported LightGBM missing_type {mtype!r}")
                feat.append(int(nd["split_feature"]))
                thr.append(t)
                ml.append(miss)
                lc.append(-1)
                rc.append(-1)
                val.append(0.0)
                # preorder, left subtree first
                stack.append((nd["right_child"], i, "r"))
                stack.append((nd["left_child"], i, "l"))
            else:
                feat.append(-1)
                thr.append(0.0)
                ml.append(False)
                lc.append(-1)
                rc.append(-1)
                val.append(float(nd["leaf_value"]))
        out.append(
            Tree(
                np.array(feat, np.int32),
                np.array(thr, np.float64),
                np.array(ml, np.bool_),
                np.array(lc, np.int32),
                np.array(rc, np.int32),
                np.array(val, np.float64),
            )
        )
    return tuple(out)


# --------------------------------------------------------------------------- fitting


def _lgb_params(p: Mapping[str, Any], seed: int, objective: str, **extra: Any) -> dict[str, Any]:
    out = {k: v for k, v in p.items() if k not in _OWN_KEYS}
    out.update(
        objective=objective,
        seed=seed,
        bagging_seed=seed,
        feature_fraction_seed=seed,
        data_random_seed=seed,
        deterministic=True,
        force_row_wise=True,
        num_threads=1,
        verbose=-1,
    )
    out.update(extra)
    return out


def _booster(x: Array, y: Array, p: Mapping[str, Any]) -> tuple[Tree, ...]:
    import lightgbm as lgb

    params = dict(p)
    rounds = int(params.pop("num_iterations"))
    ds = lgb.Dataset(x, y, feature_name=list(FEATURE_NAMES), free_raw_data=True, params=params)
    booster = lgb.train(params, ds, num_boost_round=rounds)
    return trees_from_lightgbm(booster.dump_model())


def _fit_heads(
    x: Array, y: Array, cats: NDArray[np.intp], p: Mapping[str, Any], seed: int, method: str
) -> tuple[tuple[Head, ...], dict[str, float]]:
    if method == "quantile":
        mean_p = _lgb_params(p, seed, "regression")
        mean = Head("mean", 0.0, _booster(x, y, mean_p))
        res = _crossfit_residuals(x, y, mean_p, int(p["folds"]), seed)
        qp = {
            **p,
            "num_iterations": p["quantile_iterations"],
            "max_depth": p["quantile_max_depth"],
            "num_leaves": min(int(p["num_leaves"]), 1 << int(p["quantile_max_depth"])),
        }
        lo = Head("q05", 0.0, _booster(x, res, _lgb_params(qp, seed, "quantile", alpha=0.05)))
        hi = Head("q95", 0.0, _booster(x, res, _lgb_params(qp, seed, "quantile", alpha=0.95)))
        return (mean, lo, hi), {}
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    n_bags = int(p["n_bags"])
    take = max(1, round(float(p["bag_fraction"]) * n))
    heads: list[Head] = []
    oob_sum = np.zeros(n)
    oob_n = np.zeros(n)
    for b in range(n_bags):
        idx = np.sort(rng.choice(n, size=take, replace=False))
        trees = _booster(x[idx], y[idx], _lgb_params(p, seed + b, "regression"))
        head = Head(f"bag{b}", 0.0, trees)
        heads.append(head)
        oob = np.setdiff1d(np.arange(n), idx)
        if oob.size:
            pred = predict_packed(np.ascontiguousarray(x[oob]), pack_heads([head]))[:, 0]
            oob_sum[oob] += pred
            oob_n[oob] += 1
    seen = oob_n > 0
    r = y[seen] - oob_sum[seen] / oob_n[seen]
    noise: dict[str, float] = {"all": float(np.sqrt(np.mean(r * r))) if r.size else 0.0}
    cs = cats[seen]
    for ci in np.unique(cs):
        rr = r[cs == ci]
        if rr.size >= 5:
            noise[str(CATEGORIES[int(ci)])] = float(np.sqrt(np.mean(rr * rr)))
    return tuple(heads), noise


def _crossfit_residuals(
    x: Array, y: Array, mean_params: Mapping[str, Any], folds: int, seed: int
) -> Array:
    """Out-of-fold residuals ``y - mean(x)`` (in-sample ones are too small to set a band)."""
    n = x.shape[0]
    fold = np.random.default_rng(seed).permutation(n) % max(folds, 2)
    res = np.empty(n)
    for f in range(max(folds, 2)):
        te = fold == f
        head = Head("cv", 0.0, _booster(x[~te], y[~te], mean_params))
        res[te] = y[te] - predict_packed(np.ascontiguousarray(x[te]), pack_heads([head]))[:, 0]
    return res


def _category_indices(categories: Sequence[Any] | NDArray[Any], n: int) -> NDArray[np.intp]:
    arr = np.asarray(categories)
    if arr.shape != (n,):
        raise ValueError(f"categories must have one entry per kernel ({n}), got {arr.shape}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.intp)
    index = {str(c): i for i, c in enumerate(CATEGORIES)}
    try:
        return np.array([index[str(c)] for c in arr], dtype=np.intp)
    except KeyError as exc:
        raise ValueError(f"unknown kernel category {exc.args[0]!r}") from None


def _holdout(
    n: int, groups: NDArray[Any] | None, frac: float, seed: int
) -> tuple[NDArray[np.bool_], str]:
    rng = np.random.default_rng(seed)
    test = np.zeros(n, dtype=bool)
    if groups is not None:
        names = np.array(sorted({str(g) for g in groups}))
        if names.size >= 2:
            k = min(max(1, round(frac * names.size)), names.size - 1)
            chosen = set(rng.permutation(names)[:k].tolist())
            test = np.array([str(g) in chosen for g in groups])
            return test, "groups"
    k = min(max(1, round(frac * n)), n - 1)
    test[rng.permutation(n)[:k]] = True
    return test, "rows"


def error_table(y: Array, r: Array, sd: Array, cats: NDArray[np.intp]) -> dict[str, ErrorRow]:
    """Per-category (and ``all``) errors of corrections ``r`` with sds ``sd`` against targets
    ``y = log(t_measured / t_curves)``."""
    out: dict[str, ErrorRow] = {}
    sel_all = np.ones(y.shape[0], dtype=bool)
    rows = [("all", sel_all)] + [(str(CATEGORIES[int(c)]), cats == c) for c in np.unique(cats)]
    for name, sel in rows:
        if not sel.any():
            continue
        e = y[sel] - r[sel]  # log(t_measured / t_pred)
        rel = np.abs(np.expm1(-e))  # |t_pred / t_measured - 1|
        base = np.abs(np.expm1(-y[sel]))
        ss = float(np.sum((y[sel] - y[sel].mean()) ** 2))
        z = np.abs(e) / sd[sel]
        out[name] = ErrorRow(
            n=int(sel.sum()),
            median_abs_error=float(np.median(rel)),
            median_abs_error_base=float(np.median(base)),
            within_10=float(np.mean(rel <= 0.10)),
            within_20=float(np.mean(rel <= 0.20)),
            r2_log=1.0 - float(np.sum(e * e)) / ss if ss > 0 else float("nan"),
            coverage_90=float(np.mean(z <= Z90)),
            coverage_95=float(np.mean(z <= Z95)),
        )
    return out


def fit_kernel_model(
    x: ArrayLike,
    y: ArrayLike,
    *,
    categories: Sequence[Any] | NDArray[Any],
    seed: int,
    groups: Sequence[Any] | NDArray[Any] | None = None,
    params: Mapping[str, Any] | None = None,
    uncertainty: Uncertainty = DEFAULT_UNCERTAINTY,
    clip: float = DEFAULT_CLIP,
    refit: bool = True,
    score: bool = True,
    device: str = "",
    runtime: str = "",
    threads: int | None = None,
) -> KernelModel:
    """Fit the correction ``r`` to ``y = log(t_measured / t_curves)`` per kernel.

    ``x``: :func:`features.kernel_features` rows; ``categories``: each kernel's category (names
    or ``CATEGORIES`` indices), for the error table and the bagging noise; ``groups``: e.g. the
    source model of each kernel, so the held-out rows are whole models (otherwise random rows).
    Targets are clipped to ``|y| <= clip`` before fitting. The held-out table describes a fit on
    the other rows; with ``refit`` (default) the returned trees are then fitted on every row.
    ``score=False`` skips the held-out fit (half the work): the table is empty, for refits whose
    own held-out error nobody reads (leave-one-family-out validation, device_sigma).
    Deterministic for a given ``seed`` (LightGBM on one thread, ``deterministic=True``).
    """
    import lightgbm

    xa = np.ascontiguousarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64).reshape(-1)
    n = ya.shape[0]
    if xa.ndim != 2 or xa.shape != (n, len(FEATURE_NAMES)):
        raise ValueError(f"x must be ({n}, {len(FEATURE_NAMES)}), got {tuple(xa.shape)}")
    if n < 10 or not np.all(np.isfinite(ya)):
        raise ValueError("need at least 10 kernels with finite targets")
    if uncertainty not in ("quantile", "bagging"):
        raise ValueError(f"unknown uncertainty method {uncertainty!r}")
    p: dict[str, Any] = {**DEFAULT_PARAMS, **(params or {})}
    if not 1 <= int(p["max_depth"]) <= MAX_DEPTH:
        raise ValueError(f"max_depth must be 1..{MAX_DEPTH} (trees are padded to complete ones)")
    cats = _category_indices(categories, n)
    g = None if groups is None else np.asarray([str(v) for v in groups])
    if g is not None and g.shape != (n,):
        raise ValueError(f"groups must have one entry per kernel ({n})")
    yc = np.clip(ya, -clip, clip)

    if score:
        test, how = _holdout(n, g, float(p["holdout_fraction"]), seed)
        train = ~test
        heads, noise = _fit_heads(xa[train], yc[train], cats[train], p, seed, uncertainty)
        r, sd = _probe(heads, noise, uncertainty, clip).predict(xa[test])
        heldout = error_table(ya[test], r, sd, cats[test])
    else:
        test, how, heldout = np.zeros(n, dtype=bool), "none", {}
    if refit or not score:
        heads, noise = _fit_heads(xa, yc, cats, p, seed, uncertainty)

    per_cat: dict[str, int] = {}
    for c in cats:
        name = str(CATEGORIES[int(c)])
        per_cat[name] = per_cat.get(name, 0) + 1
    training = TrainingSet(
        n_kernels=n,
        n_per_category=dict(sorted(per_cat.items())),
        source_models=tuple(sorted(set(g.tolist()))) if g is not None else (),
        holdout=how,
        n_holdout=int(test.sum()),
        params={k: p[k] for k in sorted(p)},
    )
    return KernelModel(
        heads=heads,
        uncertainty=uncertainty,
        clip=clip,
        provenance=Provenance(
            date=datetime.now(UTC).isoformat(timespec="seconds"),
            tool_version=estimator.__version__,
            library="lightgbm",
            library_version=str(lightgbm.__version__),
            seed=seed,
            device=device,
            runtime=runtime,
            threads=threads,
        ),
        training=training,
        heldout=heldout,
        noise_sd=noise,
    )


def _probe(
    heads: tuple[Head, ...], noise: dict[str, float], method: Uncertainty, clip: float
) -> KernelModel:
    """A model of ``heads`` without provenance, to score the held-out rows."""
    return KernelModel(
        heads=heads,
        uncertainty=method,
        clip=clip,
        provenance=Provenance("", estimator.__version__, "lightgbm", "", 0),
        training=TrainingSet(0, {}, (), "", 0),
        heldout={},
        noise_sd=noise,
    )
