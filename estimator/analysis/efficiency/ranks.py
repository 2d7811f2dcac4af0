"""Rank statistics shared by the analyses: ranks, Spearman/Kendall, ranking flips, top-k overlap.

Correlations are scipy's (``scipy.stats.spearmanr`` / ``kendalltau``). Flips are counted exactly
in O(n log n) from Kendall's tau-b and the tie counts, so the 15,625-network NAS-Bench-201 table
(122 M pairs per device pair) needs no pairwise loop.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import stats

Vector = NDArray[np.float64]


def ranks(x: Vector) -> Vector:
    """1 = smallest value (fastest model); ties share their average rank."""
    return np.asarray(stats.rankdata(x, method="average"), dtype=np.float64)


def spearman(a: Vector, b: Vector) -> float:
    return float(stats.spearmanr(a, b).statistic)


def kendall(a: Vector, b: Vector) -> float:
    return float(stats.kendalltau(a, b).statistic)


def _tied_pairs(x: Vector) -> int:
    _, counts = np.unique(x, return_counts=True)
    return int(np.sum(counts * (counts - 1) // 2))


def _joint_tied_pairs(a: Vector, b: Vector) -> int:
    _, counts = np.unique(np.column_stack([a, b]), axis=0, return_counts=True)
    return int(np.sum(counts * (counts - 1) // 2))


def flips(a: Vector, b: Vector) -> int:
    """Pairs of models ordered one way by ``a`` and the other way by ``b`` (discordant pairs;
    a pair tied in either is not a flip).

    With n0 = n(n-1)/2 pairs, n1/n2 the pairs tied in a/b and n3 those tied in both, concordant
    plus discordant = n0 - n1 - n2 + n3 and tau_b = (C - D) / sqrt((n0 - n1)(n0 - n2)).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n = a.size
    n0 = n * (n - 1) // 2
    n1, n2, n3 = _tied_pairs(a), _tied_pairs(b), _joint_tied_pairs(a, b)
    untied = n0 - n1 - n2 + n3
    if untied == 0 or n1 == n0 or n2 == n0:
        return 0
    tau = kendall(a, b)
    return round((untied - tau * math.sqrt((n0 - n1) * (n0 - n2))) / 2)


def flips_bruteforce(a: Vector, b: Vector) -> int:
    """The definition, pair by pair (O(n^2) memory): what :func:`flips` is tested against."""
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    return int(np.sum(np.triu(da * db < 0, k=1)))


def top_k(x: Vector, k: int) -> set[int]:
    """Indices of the k smallest values (ties broken by position)."""
    return {int(i) for i in np.argsort(x, kind="stable")[:k]}


def top_k_overlap(a: Vector, b: Vector, k: int) -> float:
    """Share of ``a``'s k fastest models that are among ``b``'s k fastest."""
    k = min(k, a.size)
    return len(top_k(a, k) & top_k(b, k)) / k if k else float("nan")


def geomean(x: Vector, axis: int | None = None) -> Vector:
    return np.asarray(np.exp(np.mean(np.log(x), axis=axis)), dtype=np.float64)
