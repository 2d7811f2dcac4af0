"""One device context: everything an estimate needs to know about where a model runs.

A latency depends on the device (peaks, caches, bandwidths), the runtime (fusion rules, its
efficiency profile), the device's own elementary-work table, the dtype and the thread count. They
are resolved here once per call, from the registry, and cached; every route to a latency (the
public estimate, batch estimates, calibration, validation, few-shot transfer) takes a
:class:`DeviceContext` and hands it to :mod:`estimator.predictor`, so none of them resolves a
device on its own or packs it differently.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from estimator.engine.layout import DTYPE_INDEX, DTYPE_KEYS
from estimator.engine.pack import DeviceArrays, pack_device
from estimator.errors import InputError
from estimator.identity_cache import IdentityCache
from estimator.partition import load_rules
from estimator.registry.elementary import load_elementary_work
from estimator.registry.loader import fill_from_prior, load_hardware, load_profile
from estimator.registry.models import EfficiencyProfile, Hardware, canonical_dtype

if TYPE_CHECKING:
    from estimator.kernelmodel.model import KernelModel

#: Runtime family assumed when the caller names none: what such a device usually runs.
DEFAULT_RUNTIME: dict[str, str] = {
    "cpu": "onnxruntime-cpu",
    "mobile": "onnxruntime-cpu",
    "gpu": "tensorrt",
    "accelerator": "tensorrt",
}


@dataclass(frozen=True, slots=True)
class DeviceContext:
    """A device configuration resolved once: the registry objects and their packed arrays."""

    hardware: Hardware
    profile: EfficiencyProfile
    #: Canonical runtime name (the fusion rules' ``runtime``).
    runtime: str
    #: Provenance of the runtime's fusion rules (reports say how they were verified).
    rules_provenance: Mapping[str, Any]
    #: Canonical dtype key (``fp32``, ``fp16``, ``bf16``, ``int8``).
    dtype: str
    threads: int
    #: The device's own elementary-work table for the runtime; None: the runtime's default.
    elementary: Mapping[str, float] | None
    arrays: DeviceArrays
    #: The device's learned shape correction for this profile; None: curves only.
    kernel_model: KernelModel | None = None
    #: The runtime's blocked-layout block on this device (onnxruntime's NCHWc), whose reorders
    #: are kernels of every plan estimated here; None: not modeled (the runtime has no such
    #: layout, the device's SIMD width is unknown, or its calibration was fitted without them).
    nchwc_block: int | None = None

    @property
    def device_sigma(self) -> float:
        return self.arrays.device_sigma


def dtype_key(dtype: str) -> str:
    """Canonical dtype key, or an InputError listing the valid ones."""
    key = canonical_dtype(dtype)
    if key not in DTYPE_INDEX:
        raise InputError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPE_KEYS)}")
    return key


def default_runtime(hw: str | Hardware, registry: Any = None) -> str:
    """The runtime family used for ``hw`` when none is given."""
    return _usual_runtime(load_hardware(hw, registry))


def _usual_runtime(device: Hardware) -> str:
    return DEFAULT_RUNTIME.get(str(device.type), "onnxruntime-cpu")


_CACHE: IdentityCache[DeviceContext] = IdentityCache(64)


def clear_cache() -> None:
    _CACHE.clear()


def device_context(
    hw: str | Hardware | DeviceContext,
    *,
    runtime: str | None = None,
    dtype: str = "fp32",
    threads: int | None = None,
    registry: Any = None,
    profile: EfficiencyProfile | None = None,
    kernel_model: KernelModel | Literal["profile"] | None = "profile",
) -> DeviceContext:
    """Resolve ``hw`` for (runtime, dtype, threads) once; cached while its files are unchanged.

    ``threads=None`` uses every physical core (onnxruntime's default intra-op thread count);
    ``runtime=None`` the usual runtime of the device type (:data:`DEFAULT_RUNTIME`).
    ``profile`` replaces the registry's (a fresh calibration or few-shot fit); categories it
    lacks come from the device type's prior, as for a stored profile. ``kernel_model``: the
    learned shape correction; ``"profile"`` (default) loads the one the profile names, None
    uses the curves alone. A DeviceContext passed as ``hw`` is returned as is.
    """
    if isinstance(hw, DeviceContext):
        return hw
    device = load_hardware(hw, registry)
    rules = load_rules(runtime or _usual_runtime(device))
    key = dtype_key(dtype)
    # an int, not 2.5, nan or inf: those slipped through ``< 1`` and priced a thread count
    # that no runtime runs (or failed later naming the wrong problem)
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1
    ):
        raise InputError(f"threads must be an integer >= 1, got {threads!r}")
    n = device.cores if threads is None else int(threads)
    if profile is None:
        prof = load_profile(device, rules.runtime, key, n, registry)
    else:
        prof = fill_from_prior(profile, device, registry)
    table = load_elementary_work(device, rules.runtime, registry)
    model: KernelModel | None = None
    if kernel_model != "profile":
        model = kernel_model
    elif prof.provenance.kernel_model is not None:
        from estimator.kernelmodel.io import load_profile_kernel_model

        pv = prof.provenance
        model = load_profile_kernel_model(
            device.source_dir, pv.kernel_model, pv.kernel_model_sha256
        )
    # The loaders return the same objects while their files are unchanged, so identity is the
    # key; the entry keeps the objects so a recycled id is never mistaken for a hit.
    parts: tuple[object, ...] = (device, prof, table, rules, model)
    hit = _CACHE.get(parts, (key, n))
    if hit is not None:
        return hit
    ctx = DeviceContext(
        hardware=device,
        profile=prof,
        runtime=rules.runtime,
        rules_provenance=rules.provenance,
        dtype=key,
        threads=n,
        elementary=table,
        arrays=pack_device(device, prof, n),
        kernel_model=model,
        nchwc_block=(
            rules.nchwc_block(device.simd_bits)
            if not prof.calibrated or prof.provenance.layout_reorders
            else None
        ),
    )
    return _CACHE.put(parts, (key, n), ctx)
