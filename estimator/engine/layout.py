"""Index vocabularies shared by the kernel columns and the packed device arrays.

A kernel's category and dtype travel to the engine as small integers; both sides must agree on
the numbering, so it is defined once here.
"""

from __future__ import annotations

from estimator.registry.models import KernelCategory

#: Category -> row of the packed curve tables (the enum's declaration order).
CATEGORIES: tuple[KernelCategory, ...] = tuple(KernelCategory)
CATEGORY_INDEX: dict[KernelCategory, int] = {c: i for i, c in enumerate(CATEGORIES)}

#: Dtype keys of ``Hardware.peak_gflops`` -> index in the packed peak array.
DTYPE_KEYS: tuple[str, ...] = ("fp32", "fp16", "bf16", "int8")
DTYPE_INDEX: dict[str, int] = {k: i for i, k in enumerate(DTYPE_KEYS)}
