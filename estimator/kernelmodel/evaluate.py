"""Fast evaluation of flat tree ensembles over many kernels (numba, ``cache=True``).

All trees of all heads live in one set of packed arrays, each tree laid out as a complete binary
tree in heap order (children of node i at 2i+1 and 2i+2, so no child indices are loaded); a leaf
above the tree's full depth is copied to every heap leaf below it, so every walk takes exactly
the tree's depth and the inner loop has no data-dependent exit. Kernels go through in blocks of
``_BLOCK``: for one tree the walks of a block's kernels are independent, so the CPU overlaps
their loads instead of waiting on one chain of parent -> child loads at a time. The cost is
(trees x depth) node visits per kernel, so model size is a speed budget (``model.py``).

Split rule (LightGBM's numerical split): go left when ``x <= threshold``; a missing value (NaN)
goes left when the node's ``missing_left`` flag is set, right otherwise.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

_BLOCK = 64


def _predict(x, code, threshold, value, inner_off, leaf_off, depth, tree_head, base):  # fmt: skip
    """(n_kernels, n_heads) sums of the leaf values of each head's trees, plus its base.

    Tree t is a complete binary tree of depth ``depth[t]`` in heap order: internal node i (from
    ``inner_off[t]``) has children 2i+1 and 2i+2, and leaf i - (2^depth - 1) (from
    ``leaf_off[t]``) holds the value. ``code = 2 * feature + missing_left``.
    """
    n = x.shape[0]
    n_heads = base.shape[0]
    n_trees = depth.shape[0]
    out = np.empty((n, n_heads))
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for b in prange(n_blocks):
        start = b * _BLOCK
        stop = min(start + _BLOCK, n)
        m = stop - start
        node = np.empty(_BLOCK, dtype=np.int64)
        for j in range(m):
            for h in range(n_heads):
                out[start + j, h] = base[h]
        for t in range(n_trees):
            io = inner_off[t]
            d = depth[t]
            if d > 0:  # every kernel tests the root: its split is loaded once
                c0 = code[io]
                f0 = c0 >> 1
                t0 = threshold[io]
                m0 = (c0 & 1) == 1
                for j in range(m):
                    v = x[start + j, f0]
                    node[j] = 2 - ((v <= t0) | ((v != v) & m0))
            else:
                for j in range(m):
                    node[j] = 0
            for _ in range(d - 1):
                for j in range(m):
                    i = node[j]
                    c = code[io + i]
                    v = x[start + j, c >> 1]
                    go_left = (v <= threshold[io + i]) | ((v != v) & ((c & 1) == 1))
                    node[j] = 2 * i + 2 - go_left
            lo = leaf_off[t] - ((1 << d) - 1)
            h = tree_head[t]
            for j in range(m):
                out[start + j, h] += value[lo + node[j]]
    return out


def _twin(fn: Any, suffix: str) -> Any:
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix)
    twin.__qualname__ = fn.__qualname__ + suffix
    return twin


predict_serial = njit(cache=True, error_model="numpy")(_twin(_predict, "_serial"))
predict_parallel = njit(cache=True, error_model="numpy", parallel=True)(
    _twin(_predict, "_parallel")
)

#: Batches at least this large use numba's thread pool (a dispatch threshold: below it, waking
#: the pool costs more than it saves). Results are identical either way: each kernel's trees
#: are summed in the same order.
PARALLEL_MIN_KERNELS = 20_000


def predict_packed(
    x: NDArray[np.float64], packed: tuple[NDArray[Any], ...], *, parallel: bool | None = None
) -> NDArray[np.float64]:
    """Head sums for the rows of ``x`` (C-contiguous float64) with the packed arrays of
    :meth:`KernelModel.packed`."""
    par = x.shape[0] >= PARALLEL_MIN_KERNELS if parallel is None else parallel
    fn: Any = predict_parallel if par else predict_serial
    out: NDArray[np.float64] = fn(x, *packed)
    return out
