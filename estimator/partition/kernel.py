"""Kernels (groups of IR nodes one runtime launches as one unit) and the flat plan of a model.

The plan carries both views: :class:`Kernel` records for reports, and struct-of-arrays numpy
columns built once for the numba engine, so re-estimating a parsed model on another device or
thread count never walks Python objects per kernel.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from estimator.engine.pack import KernelArrays
from estimator.ir.dtypes import DType
from estimator.partition.categories import CATEGORY_INDEX, DTYPE_INDEX, dtype_key
from estimator.registry.models import KernelCategory


@dataclass(frozen=True, slots=True)
class Kernel:
    name: str
    category: KernelCategory
    #: Op types of the member nodes, anchor first (fused-away nodes included).
    ops: tuple[str, ...]
    #: IR node names of the members.
    nodes: tuple[str, ...]
    #: ``Node.source`` of the members: how measured profiles map back onto kernels.
    sources: tuple[str, ...]
    flops: int
    macs: int
    #: External inputs read (weights included) + outputs written; tensors internal to the kernel
    #: and nodes folded into weights add nothing.
    bytes: int
    #: Distinct tensors the kernel touches (inputs, weights, outputs): picks the memory level.
    working_set_bytes: int
    dtype: DType
    #: False when a member op has no cost rule (costed as memory traffic only).
    modeled: bool = True
    #: Name of the fusion rule or pattern that formed the kernel ("" for a single node).
    fusion: str = ""
    #: FLOP-equivalents the runtime executes when they differ from ``flops`` (an elementary
    #: function such as erf takes tens of vector instructions per element; the reporting
    #: convention counts one FLOP). The engine's compute roof uses :attr:`compute_work`.
    work: int | None = None
    #: The elementary-work table entry ``work`` came from (op or pattern name) and the output
    #: elements it was multiplied by, so a device's own table can replace the runtime's.
    elementary: str | None = None
    elements: int = 0

    @property
    def compute_work(self) -> int:
        return self.flops if self.work is None else self.work

    def work_on(self, table: Mapping[str, float] | None) -> int | None:
        """The work on a device whose own table is ``table`` (None: the runtime's default);
        None where the FLOP convention applies. An entry the device table lacks was not
        compute-bound there, so it falls back to the convention."""
        if table is None or self.elementary is None:
            return self.work
        per = table.get(self.elementary)
        return None if per is None else max(round(per * self.elements), self.flops)


@dataclass(slots=True)
class KernelPlan:
    """Kernels of one graph for one runtime, plus their columns for the engine."""

    graph_name: str
    runtime: str
    kernels: list[Kernel]
    #: Nodes that run no kernel (views, ops the runtime drops): name -> op.
    skipped: dict[str, str] = field(default_factory=dict)
    #: Shape features per kernel (``estimator.kernelmodel.features``), None when not computed.
    features: NDArray[np.float64] | None = None
    #: The blocked-layout block the plan was partitioned for (its layout reorders are kernels);
    #: None: no blocked layout.
    nchwc_block: int | None = None
    #: Engine columns, built once.
    arrays: KernelArrays = field(init=False)
    #: Engine columns under devices' own elementary-work tables, keyed by the table's items.
    _device_arrays: dict[tuple[tuple[str, float], ...], KernelArrays] = field(
        init=False, default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        ks = self.kernels
        n = len(ks)
        self.arrays = KernelArrays.build(
            np.fromiter((k.compute_work for k in ks), np.float64, n),
            np.fromiter((k.bytes for k in ks), np.float64, n),
            np.fromiter((k.working_set_bytes for k in ks), np.float64, n),
            np.fromiter((CATEGORY_INDEX[k.category] for k in ks), np.int32, n),
            np.fromiter((DTYPE_INDEX[dtype_key(k.dtype)] for k in ks), np.int32, n),
            features=self.features,
        )

    def arrays_for(self, table: Mapping[str, float] | None) -> KernelArrays:
        """Engine columns with a device's own elementary-work table (None: the runtime's)."""
        if table is None or not any(k.elementary for k in self.kernels):
            return self.arrays
        key = tuple(sorted(table.items()))
        hit = self._device_arrays.get(key)
        if hit is None:
            a = self.arrays
            work = [k.work_on(table) for k in self.kernels]
            flops = [k.flops if w is None else w for k, w in zip(self.kernels, work, strict=True)]
            hit = KernelArrays.build(
                flops, a.bytes, a.working_set, a.category, a.dtype, features=a.features
            )
            self._device_arrays[key] = hit
        return hit

    @property
    def compute_work(self) -> NDArray[np.float64]:
        """Per-kernel compute work the engine uses (FLOPs, or the runtime's FLOP-equivalents)."""
        return self.arrays.flops

    @property
    def flops(self) -> NDArray[np.float64]:
        """Per-kernel FLOPs as reported (the convention, whatever the compute roof used)."""
        return np.fromiter((k.flops for k in self.kernels), np.float64, len(self.kernels))

    @property
    def bytes(self) -> NDArray[np.float64]:
        return self.arrays.bytes

    @property
    def working_set(self) -> NDArray[np.float64]:
        return self.arrays.working_set

    @property
    def category(self) -> NDArray[np.int32]:
        return self.arrays.category

    @property
    def dtype(self) -> NDArray[np.int32]:
        return self.arrays.dtype

    def __len__(self) -> int:
        return len(self.kernels)

    def __iter__(self) -> Iterator[Kernel]:
        return iter(self.kernels)

    @property
    def unmodeled(self) -> dict[str, int]:
        """Op type -> number of unmodeled nodes inside kernels."""
        out: dict[str, int] = {}
        for k in self.kernels:
            if not k.modeled:
                for op in k.ops:
                    out[op] = out.get(op, 0) + 1
        return out
