"""Partition an IR graph into the kernels a runtime launches (fusion rules as data)."""

from estimator.partition.categories import CATEGORIES, CATEGORY_INDEX, DTYPE_KEYS, classify
from estimator.partition.kernel import Kernel, KernelPlan
from estimator.partition.partitioner import partition
from estimator.partition.rules import FusionRules, load_rules, resolve_runtime, runtime_names

__all__ = [
    "CATEGORIES",
    "CATEGORY_INDEX",
    "DTYPE_KEYS",
    "FusionRules",
    "Kernel",
    "KernelPlan",
    "classify",
    "load_rules",
    "partition",
    "resolve_runtime",
    "runtime_names",
]
