"""Turn model references (ONNX path, zoo name, NAS-Bench-201 arch string) into kernels.

Fits and predictions work on a :class:`KernelSet` (unique kernels + per-model counts), so
NAS-Bench-201 strings take the block-table fast path and everything else is partitioned once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from estimator.device import DeviceContext
from estimator.engine.kernel_set import KernelSet, kernel_set_from_arrays, merge
from estimator.errors import InputError
from estimator.partition import KernelPlan, load_rules, partition
from estimator.predictor import kernel_set
from estimator.transfer.nb201_fast import nb201_kernel_set
from estimator.zoo.nb201_reference import DEFAULT_SEMANTICS, nb201_graph_for


def is_nb201(ref: str) -> bool:
    """NAS-Bench-201 arch strings start with ``|`` (``|op~0|+|...``); nothing else does."""
    return ref.startswith("|")


def resolve_plan(
    ref: str,
    *,
    runtime: str,
    batch: int = 1,
    semantics: str = DEFAULT_SEMANTICS,
    nchwc_block: int | None = None,
) -> KernelPlan:
    """The kernels ``runtime`` runs for ``ref`` (one model), for a device whose blocked layout
    is ``nchwc_block``."""
    if is_nb201(ref):
        graph = nb201_graph_for(ref, batch, semantics)
        return partition(graph, load_rules(runtime).runtime, nchwc_block=nchwc_block)
    from estimator.estimate import prepare

    return prepare(
        ref, runtime=runtime, batch=batch, semantics=semantics, nchwc_block=nchwc_block
    ).plan


def resolve_references(
    refs: Sequence[str],
    *,
    runtime: str,
    batch: int | Sequence[int] = 1,
    semantics: str = DEFAULT_SEMANTICS,
    ctx: DeviceContext | None = None,
) -> KernelSet:
    """KernelSet of ``refs`` in order; ``batch`` is one size or one per reference.

    ``ctx``: the device the set is for, so its own elementary-work table applies (the
    predictor's columns); None keeps the runtime's default table."""
    batches = [batch] * len(refs) if isinstance(batch, int) else list(batch)
    if len(batches) != len(refs):
        raise InputError(f"{len(refs)} references but {len(batches)} batch sizes")
    groups: dict[tuple[bool, int], list[int]] = {}
    for i, (r, b) in enumerate(zip(refs, batches, strict=True)):
        groups.setdefault((is_nb201(r), b), []).append(i)
    sets: list[KernelSet] = []
    order: list[int] = []
    block = None if ctx is None else ctx.nchwc_block
    for (nb, b), idx in groups.items():
        names = [refs[i] for i in idx]
        if nb:
            sets.append(
                nb201_kernel_set(
                    names, batch=b, runtime=runtime, semantics=semantics, nchwc_block=block
                )
            )
        else:
            plans = [
                resolve_plan(n, runtime=runtime, batch=b, semantics=semantics, nchwc_block=block)
                for n in names
            ]
            if ctx is None:
                sets.append(kernel_set_from_arrays(names, [p.arrays for p in plans]))
            else:
                sets.append(kernel_set(names, plans, ctx))
        order.extend(idx)
    merged = merge(sets)
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
    return merged.subset(inverse)
