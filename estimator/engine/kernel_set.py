"""Many models over one table of unique kernels: the shape fits and batch estimates work on.

A model's latency is the sum of its kernels' times, and identical kernels (same FLOPs, bytes,
working set, category, dtype) take identical time on a device, so a set of models is a table of
distinct kernels plus a sparse count matrix; totals are one sparse product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from estimator.engine.pack import KernelArrays


@dataclass(frozen=True, slots=True)
class KernelSet:
    """Many models over one table of unique kernels: model i runs ``counts[i, u]`` copies of u.

    Model totals are ``counts @ kernel_times``: exact, because a model's latency is the sum of
    its kernels' times and identical kernels (same FLOPs, bytes, working set, category, dtype)
    take identical time on a device.
    """

    names: tuple[str, ...]
    kernels: KernelArrays
    counts: sp.csr_matrix

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, rows: Sequence[int] | np.ndarray) -> KernelSet:
        idx = np.asarray(rows, dtype=np.int64)
        return KernelSet(
            tuple(self.names[i] for i in idx), self.kernels, sp.csr_matrix(self.counts[idx])
        )


def _kernel_keys(k: KernelArrays) -> np.ndarray:
    """Everything that sets a kernel's time: size, memory level, category, dtype, the learned
    correction and the shape features it is predicted from."""
    cols = [k.flops, k.bytes, k.working_set, k.category, k.dtype, k.corr, k.corr_sd]
    keys = np.column_stack([np.asarray(c, dtype=np.float64) for c in cols])
    if k.features is not None:
        # NaN marks a feature that does not apply: a fixed stand-in keeps equal rows equal
        keys = np.column_stack([keys, np.nan_to_num(k.features, nan=-1e300)])
    return keys


def kernel_set_from_arrays(names: Sequence[str], parts: Sequence[KernelArrays]) -> KernelSet:
    """Deduplicate the kernels of ``parts`` (one KernelArrays per model) into a KernelSet."""
    if len(names) != len(parts):
        raise ValueError("one name per model")
    allk = KernelArrays.concat(list(parts)) if parts else KernelArrays.build([], [], [], [], [])
    return kernel_set_from_concat(names, allk, [len(p) for p in parts])


def kernel_set_from_concat(
    names: Sequence[str], allk: KernelArrays, lengths: Sequence[int]
) -> KernelSet:
    """As :func:`kernel_set_from_arrays`, for the models' kernels already concatenated in
    order (model i owns the next ``lengths[i]`` rows of ``allk``)."""
    if len(names) != len(lengths) or int(sum(lengths)) != len(allk):
        raise ValueError("one name and one length per model, lengths summing to the kernels")
    keys = _kernel_keys(allk)
    if len(allk):
        uniq, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    else:
        uniq, first, inverse = np.zeros((0, keys.shape[1])), np.zeros(0, int), np.zeros(0, int)
    inverse = np.asarray(inverse).reshape(-1)
    rows = np.repeat(np.arange(len(lengths)), np.asarray(lengths, dtype=np.int64))
    counts = sp.csr_matrix(
        (np.ones(len(rows)), (rows, inverse)), shape=(len(lengths), uniq.shape[0])
    )
    kernels = allk.take(np.asarray(first, dtype=np.int64))
    return KernelSet(tuple(names), kernels, counts)


def merge(sets: Sequence[KernelSet]) -> KernelSet:
    """Models of ``sets`` in order, over the concatenated kernel tables."""
    if len(sets) == 1:
        return sets[0]
    kernels = KernelArrays.concat([s.kernels for s in sets])
    widths = [len(s.kernels) for s in sets]
    total = int(sum(widths))
    blocks = []
    offset = 0
    for s, w in zip(sets, widths, strict=True):
        left = sp.csr_matrix((len(s), offset))
        right = sp.csr_matrix((len(s), total - offset - w))
        blocks.append(sp.hstack([left, s.counts, right]))
        offset += w
    counts = sp.csr_matrix(sp.vstack(blocks)) if blocks else sp.csr_matrix((0, total))
    names = tuple(n for s in sets for n in s.names)
    return KernelSet(names, kernels, counts)
