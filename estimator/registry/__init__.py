"""Hardware registry: device descriptions, efficiency profiles and their priors, as validated data.

See docs/design/registry.md for the file layout and how peaks and priors are derived.
"""

from estimator.registry.loader import (
    builtin_registry,
    list_hardware,
    load_hardware,
    load_priors,
    load_profile,
    match_host,
    read_efficiency_file,
    read_hardware_file,
    read_priors_file,
    registry_roots,
    save_profiles,
)
from estimator.registry.models import (
    AuditEntry,
    CacheLevel,
    CategoryProfile,
    EfficiencyCurve,
    EfficiencyFile,
    EfficiencyProfile,
    Fingerprint,
    Hardware,
    KernelCategory,
    MeanStd,
    MemorySpec,
    PeakSpec,
    PriorsFile,
    Provenance,
    canonical_dtype,
)

__all__ = [
    "AuditEntry",
    "CacheLevel",
    "CategoryProfile",
    "EfficiencyCurve",
    "EfficiencyFile",
    "EfficiencyProfile",
    "Fingerprint",
    "Hardware",
    "KernelCategory",
    "MeanStd",
    "MemorySpec",
    "PeakSpec",
    "PriorsFile",
    "Provenance",
    "builtin_registry",
    "canonical_dtype",
    "list_hardware",
    "load_hardware",
    "load_priors",
    "load_profile",
    "match_host",
    "read_efficiency_file",
    "read_hardware_file",
    "read_priors_file",
    "registry_roots",
    "save_profiles",
]
