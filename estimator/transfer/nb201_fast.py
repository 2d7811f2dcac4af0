"""A fast batch path for NAS-Bench-201 networks in the reference semantics.

In the reference semantics (:mod:`estimator.zoo.nb201_reference`) every node depends only on its
position (cell, edge, op), never on the rest of the architecture, so with a runtime that fuses
nothing (``pytorch-eager``) each position's kernels are the same in every network.
:func:`nb201_kernel_set` therefore partitions each (cell, edge, op) block once and describes all
15,625 networks as a sparse count matrix over ~1,400 unique kernels; the engine runs once on the
unique kernels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import scipy.sparse as sp

from estimator.engine.kernel_set import KernelSet, kernel_set_from_arrays
from estimator.engine.pack import KernelArrays
from estimator.ir.graph import Graph, Node
from estimator.partition import load_rules, partition
from estimator.zoo.nb201_ir import EDGES, OPS, block_cache, nb201_all_archs, parse_arch
from estimator.zoo.nb201_reference import (
    DEFAULT_SEMANTICS,
    _Builder,
    _builder,
    check_semantics,
    nb201_graph_for,
)

# --------------------------------------------------------------------------- kernel sets


@dataclass(frozen=True, slots=True)
class _Table:
    """Unique reference-semantics kernels of one (batch, runtime) and where each block sits."""

    kernels: KernelArrays
    fixed: np.ndarray  # unique-kernel counts of the arch-independent part
    edge: dict[tuple[int, str], np.ndarray]  # (edge, op) -> counts summed over the 15 cells


@cache
def _table(batch: int, runtime: str) -> _Table:
    b = _builder(batch)
    blocks: list[list[Node]] = list(b.fixed)
    keys: list[tuple[int, str] | None] = [None] * len(blocks)
    for (_cell, e, op), nodes in b.edge_blocks.items():
        blocks.append(nodes)
        keys.append((e, op))
    parts = [_block_arrays(nodes, runtime, b) for nodes in blocks]
    ks = kernel_set_from_arrays([str(i) for i in range(len(parts))], parts)
    dense = ks.counts.toarray()
    fixed = np.zeros(dense.shape[1])
    edge: dict[tuple[int, str], np.ndarray] = {
        (e, op): np.zeros(dense.shape[1]) for e in range(len(EDGES)) for op in OPS
    }
    for row, key in enumerate(keys):
        if key is None:
            fixed += dense[row]
        else:
            edge[key] += dense[row]
    return _Table(ks.kernels, fixed, edge)


def _block_arrays(nodes: list[Node], runtime: str, b: _Builder) -> KernelArrays:
    if not nodes:
        return KernelArrays.build([], [], [], [], [])
    g = Graph("block", list(nodes), [b.input], list(nodes[-1].outputs))
    return partition(g, runtime).arrays


def fuses_nothing(runtime: str) -> bool:
    """True when ``runtime`` runs every non-view node as its own kernel (no fusion rules)."""
    r = load_rules(runtime)
    return not r.absorb and not r.patterns and not r.elementwise_chains


def nb201_kernel_set(
    archs: Sequence[str] | None = None,
    *,
    batch: int = 1,
    runtime: str = "pytorch-eager",
    semantics: str = DEFAULT_SEMANTICS,
    nchwc_block: int | None = None,
) -> KernelSet:
    """KernelSet of NAS-Bench-201 networks (all 15,625 when ``archs`` is None).

    Fast (block table) for the reference semantics on runtimes without fusion; otherwise each
    network is built and partitioned whole, since fusion can cross block boundaries.
    """
    block_cache(batch)  # validates batch before any work
    canon = load_rules(runtime).runtime
    if archs is None:
        archs = nb201_all_archs()
    parsed = [parse_arch(a) for a in archs]
    if check_semantics(semantics) == "reference" and fuses_nothing(canon):
        return _fast_set(list(archs), parsed, batch, canon)
    parts = [
        partition(nb201_graph_for(a, batch, semantics), canon, nchwc_block=nchwc_block).arrays
        for a in archs
    ]
    return kernel_set_from_arrays(list(archs), parts)


def _fast_set(
    archs: list[str], parsed: Sequence[Sequence[str]], batch: int, runtime: str
) -> KernelSet:
    t = _table(batch, runtime)
    op_index = {op: i for i, op in enumerate(OPS)}
    # edge_mat[e * 5 + o] = counts of op o on edge e; an arch's row = fixed + sum of 6 rows
    edge_mat = np.stack([t.edge[(e, op)] for e in range(len(EDGES)) for op in OPS])
    codes = np.array([[op_index[o] for o in ops] for ops in parsed], dtype=np.int64)
    codes = codes.reshape(-1, len(EDGES))
    sel = codes + np.arange(len(EDGES)) * len(OPS)
    onehot = sp.csr_matrix(
        (
            np.ones(sel.size),
            (np.repeat(np.arange(len(archs)), len(EDGES)), sel.reshape(-1)),
        ),
        shape=(len(archs), edge_mat.shape[0]),
    )
    # few unique kernels (~30), so the dense (archs x kernels) product is small
    dense = np.asarray((onehot @ sp.csr_matrix(edge_mat)).todense()) + t.fixed[None, :]
    return KernelSet(tuple(archs), t.kernels, sp.csr_matrix(dense))
