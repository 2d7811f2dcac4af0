"""Adaptive sampling of calibration kernels (nn-Meter / LitePred style), generic over callables.

A learned kernel-time model is only as good as the shapes it was trained on, and uniform draws
spend most of a measurement budget where the model is already right. The loop here measures an
initial sample, then per round: fits the model, computes held-out kernel errors (k-fold over the
measured points, or the error on a fixed validation set when one is given), and draws the next
batch mostly near the worst-predicted shapes (perturbations of their shape parameters,
:func:`estimator.calibration.sampling.perturb`) plus a share of fresh draws from the pool so no
region is abandoned. It stops when the held-out error has not improved by ``min_gain`` (relative)
for ``patience`` rounds, after ``rounds`` rounds, or when the measured wall time of ``measure``
reaches ``budget_s``.

Nothing here measures or fits by itself: ``measure``, ``fit``, ``propose_pool`` and ``error_of``
are passed in, so the loop runs against real onnxruntime measurements and a gradient-boosted
model in calibration, and against a synthetic device in the tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from estimator.calibration.sweep import SweepCase

P = TypeVar("P")  # a measured point (one per case)
M = TypeVar("M")  # a fitted model

Measure = Callable[[list[SweepCase]], list[P]]
Perturb = Callable[[SweepCase, np.random.Generator], SweepCase | None]


@dataclass(frozen=True, slots=True)
class Round:
    """One round of the loop: the state after its batch was measured and the model refitted."""

    index: int
    #: Points measured so far (this round's batch included).
    n_points: int
    #: Cases in this round's batch: near the worst-predicted ones / fresh draws.
    n_exploit: int
    n_explore: int
    #: Held-out kernel error of the model fitted on all points so far (``score`` of the k-fold
    #: errors, or of the validation-set errors when a validation set is given).
    held_out_error: float
    #: Error of the previous round's model on this round's batch before it was added (NaN in
    #: round 0): how wrong the model was where the loop chose to look.
    batch_error: float
    #: Wall time of this round's ``measure`` call and the total so far (s).
    seconds: float
    total_seconds: float


@dataclass(slots=True)
class AdaptiveResult(Generic[P, M]):
    cases: list[SweepCase]
    points: list[P]
    model: M
    rounds: list[Round] = field(default_factory=list)
    #: Why the loop stopped: "rounds", "patience", "budget" or "exhausted" (no new cases).
    stopped: str = "rounds"

    @property
    def best_error(self) -> float:
        return min(r.held_out_error for r in self.rounds)


def kfold_errors(
    points: Sequence[P],
    fit: Callable[[list[P]], M],
    error_of: Callable[[M, list[P]], NDArray[np.float64]],
    k: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Held-out error of every point: fit on the other k-1 folds, predict its fold."""
    n = len(points)
    k = max(2, min(k, n))
    order = rng.permutation(n)
    errs = np.empty(n, dtype=np.float64)
    for f in range(k):
        test = order[f::k]
        mask = np.ones(n, dtype=bool)
        mask[test] = False
        model = fit([points[int(i)] for i in np.flatnonzero(mask)])
        errs[test] = np.abs(np.asarray(error_of(model, [points[int(i)] for i in test]), np.float64))
    return errs


def _mean_abs(e: NDArray[np.float64]) -> float:
    return float(np.mean(np.abs(e))) if e.size else float("nan")


def adaptive_sample(
    initial: list[SweepCase],
    measure: Callable[[list[SweepCase]], list[P]],
    fit: Callable[[list[P]], M],
    propose_pool: Callable[[int, np.random.Generator], list[SweepCase]],
    error_of: Callable[[M, list[P]], NDArray[np.float64]],
    *,
    budget_s: float = float("inf"),
    rounds: int = 10,
    per_round: int = 50,
    seed: int = 0,
    patience: int = 2,
    min_gain: float = 0.02,
    explore: float = 0.3,
    worst_frac: float = 0.05,
    folds: int = 5,
    validation: list[P] | None = None,
    perturb: Perturb | None = None,
    score: Callable[[NDArray[np.float64]], float] = _mean_abs,
    clock: Callable[[], float] = time.perf_counter,
) -> AdaptiveResult[P, M]:
    """Measure ``initial``, then up to ``rounds`` rounds of ``per_round`` new cases each.

    ``measure(cases)`` returns one point per case, in order; ``fit(points)`` a model;
    ``error_of(model, points)`` the per-point error (e.g. log(predicted / measured)); its absolute
    value is used. ``propose_pool(n, rng)`` draws ``n`` fresh cases (e.g. ``sample_cases``).
    Each round, ``1 - explore`` of the batch perturbs (``perturb``, default
    :func:`estimator.calibration.sampling.perturb`) the ``worst_frac`` of measured cases with the
    largest held-out errors, each drawn with probability proportional to its error; the rest
    are fresh draws.
    Cases already measured are never proposed again.

    Held-out error: ``score`` (mean |error|) of ``folds``-fold errors over the measured points,
    or of the errors on ``validation`` (points measured once beforehand, never trained on) when
    given; the k-fold errors always rank the worst cases. Deterministic for a given ``seed`` when
    the callables are.
    """
    if per_round < 1 or rounds < 0:
        raise ValueError("per_round must be >= 1 and rounds >= 0")
    if not initial:
        raise ValueError("adaptive_sample needs an initial sample to fit the first model")
    if perturb is None:
        from estimator.calibration.sampling import perturb as _perturb

        perturb = _perturb
    rng = np.random.default_rng(seed)
    cases: list[SweepCase] = []
    points: list[P] = []
    seen: set[str] = set()
    history: list[Round] = []
    total = 0.0
    model: M | None = None
    best = float("inf")
    stale = 0
    stopped = "rounds"
    batch = _dedup(initial, seen)
    n_exploit, n_explore = 0, len(batch)
    for r in range(rounds + 1):
        if not batch:
            stopped = "exhausted"
            break
        t0 = clock()
        new_points = measure(batch)
        dt = clock() - t0
        total += dt
        if len(new_points) != len(batch):
            raise ValueError(f"measure returned {len(new_points)} points for {len(batch)} cases")
        batch_err = (
            score(np.asarray(error_of(model, new_points), np.float64))
            if model is not None
            else float("nan")
        )
        cases.extend(batch)
        points.extend(new_points)
        model = fit(points)
        cv = kfold_errors(points, fit, error_of, folds, rng)
        held = (
            score(np.asarray(error_of(model, validation), np.float64))
            if validation is not None
            else score(cv)
        )
        history.append(Round(r, len(points), n_exploit, n_explore, held, batch_err, dt, total))
        if held < best * (1.0 - min_gain):
            best, stale = held, 0
        else:
            stale += 1
        if stale >= patience:
            stopped = "patience"
            break
        if total >= budget_s:
            stopped = "budget"
            break
        if r == rounds:
            break
        batch, n_exploit, n_explore = _next_batch(
            cases, cv, per_round, explore, worst_frac, perturb, propose_pool, rng, seen
        )
    assert model is not None
    return AdaptiveResult(cases, points, model, history, stopped)


def _dedup(cases: Sequence[SweepCase], seen: set[str]) -> list[SweepCase]:
    out: list[SweepCase] = []
    for c in cases:
        if c.name not in seen:
            seen.add(c.name)
            out.append(c)
    return out


def _next_batch(
    cases: list[SweepCase],
    errors: NDArray[np.float64],
    per_round: int,
    explore: float,
    worst_frac: float,
    perturb: Perturb,
    propose_pool: Callable[[int, np.random.Generator], list[SweepCase]],
    rng: np.random.Generator,
    seen: set[str],
) -> tuple[list[SweepCase], int, int]:
    """``per_round`` unseen cases: perturbations of the worst cases, then fresh draws."""
    n_exploit = round(per_round * (1.0 - explore))
    n_worst = max(1, int(np.ceil(worst_frac * len(cases))))
    # Stable sort on -error: ties keep measurement order (deterministic). Parents are drawn
    # from the worst in proportion to their error, so a few badly predicted shapes are not
    # drowned by the many merely-worse-than-median ones.
    top = np.argsort(-errors, kind="stable")[:n_worst]
    w = np.maximum(errors[top], 0.0)
    prob = w / w.sum() if w.sum() > 0 else np.full(len(top), 1.0 / len(top))
    out: list[SweepCase] = []
    misses = 0
    while len(out) < n_exploit and misses < 20 * n_exploit:
        new = perturb(cases[int(top[rng.choice(len(top), p=prob)])], rng)
        if new is None or new.name in seen:
            misses += 1
            continue
        seen.add(new.name)
        out.append(new)
    exploit = len(out)
    want = per_round - exploit
    tries = 0
    while len(out) < per_round and tries < 5:
        fresh = _dedup(propose_pool(2 * want, rng), seen)
        for c in fresh:
            if len(out) < per_round:
                out.append(c)
            else:
                seen.discard(c.name)
        tries += 1
    return out, exploit, len(out) - exploit


__all__ = ["AdaptiveResult", "Round", "adaptive_sample", "kfold_errors"]
