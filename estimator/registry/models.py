"""Typed records of the hardware registry: device descriptions and efficiency profiles.

These pydantic models are the boundary between the JSON files under ``hardware_registry/`` and
the estimator. They hold data only; every efficiency, overhead and peak number comes from a file
with its provenance (shared/seeds/002: numbers in code could not be audited or recalibrated).
Models are frozen because the loader caches and shares them between estimates.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from estimator.errors import RegistryError
from estimator.host import normalize_fingerprint

DeviceType = Literal["cpu", "gpu", "mobile", "accelerator"]

#: Spellings accepted for dtype keys, mapped to the registry's canonical names.
DTYPE_ALIASES: dict[str, str] = {
    "float32": "fp32",
    "float": "fp32",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "uint8": "int8",
    "qint8": "int8",
}


def canonical_dtype(dtype: str) -> str:
    """Map ``float32``/``FLOAT16``/... to the registry keys ``fp32``/``fp16``/..."""
    key = str(dtype).lower()
    return DTYPE_ALIASES.get(key, key)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KernelCategory(StrEnum):
    CONV_DENSE = "conv_dense"
    CONV_DEPTHWISE = "conv_depthwise"
    CONV_POINTWISE = "conv_pointwise"
    CONV_GROUPED = "conv_grouped"
    GEMM = "gemm"
    ATTENTION = "attention"
    ELEMENTWISE = "elementwise"
    REDUCTION = "reduction"
    POOLING = "pooling"
    NORMALIZATION = "normalization"
    DATA_MOVEMENT = "data_movement"
    OTHER = "other"


# --------------------------------------------------------------------------- hardware


class PeakSpec(_Frozen):
    """Whole-device peak for one dtype, with the arithmetic that produced it."""

    gflops: float = Field(gt=0)
    derivation: str = Field(min_length=1)


class MemorySpec(_Frozen):
    dram_bandwidth_gbs: float = Field(gt=0)
    #: Bandwidth one core can pull on its own (Little's law or a datasheet); None: scale linearly.
    per_core_bandwidth_gbs: float | None = Field(default=None, gt=0)
    size_gb: float | None = Field(default=None, gt=0)
    type: str | None = None
    derivation: str = Field(min_length=1)


class CacheLevel(_Frozen):
    level: int = Field(ge=1, le=4)
    #: Size of one instance: per core when ``shared`` is False, whole cache when True.
    size_kib: float = Field(gt=0)
    shared: bool
    #: Per instance too: per core when not shared, aggregate when shared. None: unknown.
    bandwidth_gbs: float | None = Field(default=None, gt=0)
    derivation: str = Field(min_length=1)


class Fingerprint(_Frozen):
    """How to recognise this device on the machine at hand (see ``match_host``)."""

    cpu_model_regex: str | None = None
    #: Optional extra checks against /proc/cpuinfo, for hosts whose model name is masked (VMs).
    cpu_family: int | None = None
    cpu_model_number: int | None = None
    logical_cpus: int | None = None
    gpu_name_regex: str | None = None
    notes: str | None = None


class ComputeCeiling(_Frozen):
    """A compute ceiling measured on the machine: what ``method`` reached at ``threads``.

    ``register_fma``: independent FMA chains held in vector registers (the core's FMA
    throughput at the clock it holds under that load); ``onnxruntime_gemm``: a large MatMul
    (fp32) or MatMulInteger (int8, ops counted as FLOPs) through onnxruntime's CPU kernels;
    ``torch_gemm``: a large bf16 matrix product through torch (oneDNN), where onnxruntime has no
    kernel for the dtype.
    """

    dtype: str
    threads: int = Field(ge=1)
    method: Literal["register_fma", "onnxruntime_gemm", "torch_gemm"]
    gflops: float = Field(gt=0)
    #: Half-width of the 95% interval of the figure over the probe's repeats (same units).
    u95_gflops: float = Field(ge=0)
    runs: int = Field(ge=1)
    derivation: str = Field(min_length=1)


class BandwidthCeiling(_Frozen):
    """The bandwidth of one memory level at ``threads``, pooled from the STREAM-like sweep
    points whose working set lies inside that level (bytes read + written per second)."""

    level: Literal["L1", "L2", "L3", "L4", "DRAM"]
    threads: int = Field(ge=1)
    gbs: float = Field(gt=0)
    u95_gbs: float = Field(ge=0)
    #: Smallest and largest working set (KiB, all threads together) of the points pooled.
    working_set_kib: tuple[float, float]
    points: int = Field(ge=1)
    derivation: str = Field(min_length=1)


class SweepPoint(_Frozen):
    """One working-set size of the STREAM-like sweep (triad ``a = b + s * c``, float32)."""

    threads: int = Field(ge=1)
    #: The three arrays of every thread together, KiB.
    working_set_kib: float = Field(gt=0)
    gbs: float = Field(gt=0)
    u95_gbs: float = Field(ge=0)


class MachineCache(_Frozen):
    """A cache level as the OS reported it (``estimator.host.CacheInfo``)."""

    level: int = Field(ge=1, le=4)
    kind: Literal["data", "instruction", "unified"]
    size_kib: float = Field(gt=0)
    shared_cpus: int = Field(ge=1)
    shared_cores: int = Field(ge=1)
    line_bytes: int | None = None
    ways: int | None = None


class MachineNuma(_Frozen):
    node: int = Field(ge=0)
    cpus: list[int]
    memory_gb: float | None = None


class MachineReading(_Frozen):
    """What the probe read from /proc, sysfs and lscpu (``estimator.host.read_topology``), the
    full flag list left out: ``simd``, ``dot_products`` and ``matrix_units`` keep what matters."""

    cpu_model: str
    vendor: str | None = None
    arch: str
    family: int | None = None
    model_number: int | None = None
    stepping: int | None = None
    logical_cpus: int = Field(ge=1)
    cores: int | None = Field(default=None, ge=1)
    sockets: int | None = Field(default=None, ge=1)
    threads_per_core: int | None = Field(default=None, ge=1)
    caches: list[MachineCache] = Field(default_factory=list)
    numa: list[MachineNuma] = Field(default_factory=list)
    memory_gb: float | None = None
    base_clock_ghz: float | None = None
    max_clock_ghz: float | None = None
    clock_source: str
    hypervisor: bool
    simd_bits: int | None = None
    simd: list[str] = Field(default_factory=list)
    fma: bool
    dot_products: dict[str, list[str]] = Field(default_factory=dict)
    matrix_units: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class MeasuredRoofline(_Frozen):
    """The machine's empirical roofline, as ``probe-hardware`` measured it: compute ceilings per
    dtype and thread count, bandwidth per memory level, and the sweep they were read from.

    Kept apart from the datasheet fields of :class:`Hardware` (``peak_gflops``, ``memory``,
    ``caches``), so a reader sees which figures were measured, by which command, and when.
    """

    date: str
    tool_version: str
    #: The command that measured these figures.
    command: str = Field(min_length=1)
    quick: bool
    seconds: float = Field(ge=0)
    threads: list[int] = Field(min_length=1)
    machine: MachineReading
    compute: list[ComputeCeiling] = Field(default_factory=list)
    bandwidth: list[BandwidthCeiling] = Field(default_factory=list)
    sweep: list[SweepPoint] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def best_compute(self, dtype: str, threads: int) -> ComputeCeiling | None:
        """The highest ceiling measured for ``dtype`` at ``threads`` (any method)."""
        key = canonical_dtype(dtype)
        rows = [c for c in self.compute if canonical_dtype(c.dtype) == key and c.threads == threads]
        return max(rows, key=lambda c: c.gflops, default=None)

    def level_bandwidth(self, level: str, threads: int) -> BandwidthCeiling | None:
        for b in self.bandwidth:
            if b.level == level and b.threads == threads:
                return b
        return None


class Hardware(_Frozen):
    schema_version: int = 1
    id: str = Field(min_length=1)
    vendor: str
    model: str
    type: DeviceType
    aliases: list[str] = Field(default_factory=list)
    #: CPU/mobile: physical cores. GPU: streaming multiprocessors (documented per device).
    cores: int = Field(ge=1)
    #: CPU/mobile: hardware threads. GPU: FP32 lanes (CUDA cores).
    threads: int = Field(ge=1)
    base_clock_ghz: float = Field(gt=0)
    boost_clock_ghz: float = Field(gt=0)
    peak_gflops: dict[str, PeakSpec]
    memory: MemorySpec
    caches: list[CacheLevel] = Field(default_factory=list)
    tdp_w: float | None = Field(default=None, gt=0)
    #: Widest SIMD registers the CPU runtime's fp32 kernels use (512 with AVX-512, 256 with AVX2,
    #: 128 with NEON); picks layouts such as onnxruntime's NCHWc block. None: unknown.
    simd_bits: int | None = Field(default=None, ge=64)
    sources: list[str] = Field(min_length=1)
    fingerprint: Fingerprint | None = None
    notes: str | None = None
    #: Figures measured on the machine itself (``probe-hardware``), apart from the datasheet
    #: fields above; None for an entry written from datasheets only.
    measured: MeasuredRoofline | None = None

    _source_dir: str | None = PrivateAttr(default=None)

    @property
    def source_dir(self) -> str | None:
        """Folder the hardware.json was read from (None when built in memory)."""
        return self._source_dir

    @property
    def scales_with_threads(self) -> bool:
        """Host threads select cores on CPUs and phones; a GPU runs on all its SMs regardless."""
        return self.type in ("cpu", "mobile")

    def _core_fraction(self, threads: int | None) -> float:
        if threads is None or not self.scales_with_threads:
            return 1.0
        if threads < 1:
            raise RegistryError(f"{self.id}: threads must be >= 1, got {threads}")
        return min(threads, self.cores) / self.cores

    def peak_flops(self, dtype: str = "fp32", threads: int | None = None) -> float:
        """Peak FLOP/s for ``dtype`` on ``threads`` threads (None: whole device).

        Linear in ``min(threads, cores) / cores``: SMT threads add no FMA units, and hybrid
        (P+E) parts are treated as if every core were average (a documented approximation).
        """
        key = canonical_dtype(dtype)
        spec = self.peak_gflops.get(key)
        if spec is None:
            known = ", ".join(sorted(self.peak_gflops))
            raise RegistryError(
                f"hardware '{self.id}' has no peak for dtype '{key}'; available: {known}"
            )
        return spec.gflops * 1e9 * self._core_fraction(threads)

    def dram_bandwidth(self, threads: int | None = None) -> float:
        """DRAM bandwidth in B/s reachable from ``threads`` threads (None: whole device).

        With ``per_core_bandwidth_gbs``: ``min(total, min(threads, cores) * per_core)``, since a
        core's outstanding misses cap what it can pull. Without: linear share of the total.
        """
        total = self.memory.dram_bandwidth_gbs
        if threads is None or not self.scales_with_threads:
            return total * 1e9
        frac = self._core_fraction(threads)
        per_core = self.memory.per_core_bandwidth_gbs
        if per_core is None:
            return total * frac * 1e9
        return min(total, min(threads, self.cores) * per_core) * 1e9

    def cache(self, level: int) -> CacheLevel | None:
        for c in self.caches:
            if c.level == level:
                return c
        return None

    def cache_bandwidth(self, level: int, threads: int | None = None) -> float | None:
        """Bandwidth in B/s of cache ``level`` for ``threads`` threads; None when unknown.

        Private caches add up over the cores in use; a shared cache's figure is aggregate.
        """
        c = self.cache(level)
        if c is None or c.bandwidth_gbs is None:
            return None
        if c.shared or not self.scales_with_threads:
            return c.bandwidth_gbs * 1e9
        n = self.cores if threads is None else min(max(threads, 1), self.cores)
        return c.bandwidth_gbs * n * 1e9

    def cache_capacity_bytes(self, level: int, threads: int | None = None) -> float | None:
        """Capacity visible to ``threads`` threads: private caches add up, shared ones do not."""
        c = self.cache(level)
        if c is None:
            return None
        if c.shared or not self.scales_with_threads:
            return c.size_kib * 1024.0
        n = self.cores if threads is None else min(max(threads, 1), self.cores)
        return c.size_kib * 1024.0 * n


# --------------------------------------------------------------------------- efficiency


class MeanStd(_Frozen):
    mean: float = Field(ge=0)
    std: float = Field(ge=0)
    n: int = Field(default=0, ge=0)


class EfficiencyCurve(_Frozen):
    """Efficiency (fraction of peak, in (0, 1]) against log10 of kernel FLOPs or bytes.

    ``std`` is the absolute standard deviation of the efficiency at each knot; ``n`` and
    ``ci95`` are the sample size and 95% interval of the fit (empty for priors).
    """

    knots_log10: list[float] = Field(min_length=1)
    mean: list[Annotated[float, Field(gt=0, le=1)]]
    std: list[Annotated[float, Field(ge=0)]]
    n: list[Annotated[int, Field(ge=0)]] = Field(default_factory=list)
    ci95: list[tuple[float, float]] = Field(default_factory=list)

    _x: NDArray[np.float64] = PrivateAttr()
    _m: NDArray[np.float64] = PrivateAttr()
    _s: NDArray[np.float64] = PrivateAttr()

    @model_validator(mode="after")
    def _check(self) -> EfficiencyCurve:
        k = len(self.knots_log10)
        for name in ("mean", "std"):
            if len(getattr(self, name)) != k:
                raise ValueError(f"{name} has {len(getattr(self, name))} values, knots have {k}")
        for name in ("n", "ci95"):
            got = len(getattr(self, name))
            if got not in (0, k):
                raise ValueError(f"{name} has {got} values, knots have {k} (or leave it empty)")
        x = np.asarray(self.knots_log10, dtype=np.float64)
        if k > 1 and not bool(np.all(np.diff(x) > 0)):
            raise ValueError(f"knots_log10 must be strictly increasing, got {self.knots_log10}")
        if not all(0.0 < m <= 1.0 for m in self.mean):
            raise ValueError(f"mean efficiencies must lie in (0, 1], got {self.mean}")
        if not all(s >= 0.0 for s in self.std):
            raise ValueError(f"std must be >= 0, got {self.std}")
        if any(v < 0 for v in self.n):
            raise ValueError(f"n must be >= 0, got {self.n}")
        self._x = x
        self._m = np.asarray(self.mean, dtype=np.float64)
        self._s = np.asarray(self.std, dtype=np.float64)
        return self

    def evaluate(
        self, log10_x: float | NDArray[np.float64]
    ) -> tuple[float | NDArray[np.float64], float | NDArray[np.float64]]:
        """Linear interpolation in log10 space, clamped to the end knots."""
        if np.ndim(log10_x) == 0:
            lx = float(log10_x)
            return float(np.interp(lx, self._x, self._m)), float(np.interp(lx, self._x, self._s))
        arr = np.asarray(log10_x, dtype=np.float64)
        return np.interp(arr, self._x, self._m), np.interp(arr, self._x, self._s)

    def arrays(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(knots, mean, std) as float64 arrays, for the numba engine."""
        return self._x, self._m, self._s


class CategoryProfile(_Frozen):
    #: Efficiency against log10 FLOPs of the kernel.
    compute: EfficiencyCurve
    #: Efficiency against log10 bytes moved by the kernel.
    memory: EfficiencyCurve
    overhead_us: MeanStd


class Provenance(_Frozen):
    date: str
    tool_version: str
    machine_fingerprint: dict[str, Any] = Field(default_factory=dict)
    n_measurements: int = Field(default=0, ge=0)
    fit_r2: dict[str, float] = Field(default_factory=dict)
    source: str = Field(min_length=1)
    #: What NAS-Bench-201 arch strings meant in the measurements a profile was fitted on
    #: (``reference`` or ``pruned``); None when none were NAS-Bench-201 networks.
    nb201_semantics: Literal["reference", "pruned"] | None = None
    #: File (next to hardware.json) of the learned shape correction the curves were fitted with,
    #: and its sha256: the two are one model, so a changed file is refused.
    kernel_model: str | None = None
    kernel_model_sha256: str | None = None
    #: True when the runtime's layout reorders (onnxruntime's NCHWc) were kernels of the fit:
    #: the curves then price them, and estimates with this profile include them.
    layout_reorders: bool = False

    @field_validator("machine_fingerprint", mode="before")
    @classmethod
    def _current_keys(cls, v: Any) -> Any:
        """Files calibrated before ``estimator.host`` carry the old key names: read them under
        the current ones (``estimator.host.LEGACY_KEYS``)."""
        return normalize_fingerprint(v) if isinstance(v, dict) else v


class PercentileCurve(_Frozen):
    """One run-to-run percentile over the median: ``log(p / median) = a + b * log10(median_ms)``
    (short runs scatter more, relative to their length, than long ones)."""

    a: float
    b: float
    #: sd of the per-network residuals of that line (log units).
    resid_sd: float = Field(ge=0)

    def at(self, median_ms: float) -> float:
        """The percentile (ms) of runs whose median is ``median_ms`` (never below it)."""
        if median_ms <= 0:
            return 0.0
        return median_ms * math.exp(max(self.a + self.b * math.log10(median_ms), 0.0))


class Dispersion(_Frozen):
    """Run-to-run dispersion of whole-model latency on this device and thread count, fitted on
    the timed runs of the calibration networks: estimates predict the median and report these
    percentiles with it."""

    p90: PercentileCurve
    p99: PercentileCurve
    #: Networks fitted, and the fewest timed runs any of them had (a p99 of fewer than 100 runs
    #: is an interpolation between the largest samples).
    n_networks: int = Field(ge=1)
    min_runs: int = Field(ge=1)


class NetworkFit(_Frozen):
    """How kernels cost inside whole networks, fitted on the median runs of many networks.

    A kernel timed alone, or by the runtime's profiler inside a network, is not what it adds to
    an unprofiled run of the network: profiling adds per-node timestamps, the thread pool wakes
    between nodes, caches hold the neighbours' tensors. Per category, ``scales`` multiply the
    kernels' times; ``gap_us`` is the per-kernel dispatch time already folded into every
    category's overhead. Both are fitted together by least squares on log(measured / predicted)
    of the networks, with each log scale shrunk toward 0 (a scale of 1) by a normal prior of sd
    ``prior_log_sd``: a category the networks hardly use keeps its kernel-level price."""

    scales: dict[KernelCategory, Annotated[float, Field(gt=0)]]
    #: Posterior sd of each log scale (from the fit's Jacobian, prior included).
    log_sd: dict[KernelCategory, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    gap_us: float = 0.0
    prior_log_sd: float = Field(gt=0)
    n_networks: int = Field(ge=1)
    #: Families (or names) of the networks fitted on, so a validation can tell what was seen.
    families: list[str] = Field(default_factory=list)
    #: What the runtime's profiler adds to each node it times beyond what the node adds to an
    #: unprofiled run (us): the median over the fitted networks of (sum of profiled node times -
    #: whole run) / profiled nodes. Taken out of every measured kernel before the curves and the
    #: shape correction were fitted.
    profiler_offset_us: float = Field(default=0.0, ge=0)


class EfficiencyProfile(_Frozen):
    runtime: str
    dtype: str
    #: Threads the profile was fitted at; None for priors (apply to any thread count).
    threads: int | None = Field(default=None, ge=1)
    calibrated: bool
    #: Relative sd of the device-level error shared by every kernel of a model.
    device_sigma: float = Field(ge=0)
    categories: dict[KernelCategory, CategoryProfile]
    provenance: Provenance
    #: Run-to-run dispersion of whole-model latency (None: not calibrated).
    dispersion: Dispersion | None = None
    #: Per-category scales of kernel time inside whole networks (None: kernel prices only).
    network_fit: NetworkFit | None = None
    #: Set by ``load_profile``: False when the nearest thread count (or a prior) stood in.
    threads_matched: bool = True
    #: Set by ``load_profile``: categories filled in from the device-type prior.
    prior_categories: list[KernelCategory] = Field(default_factory=list)

    def category(self, cat: KernelCategory | str) -> CategoryProfile:
        key = KernelCategory(cat)
        prof = self.categories.get(key)
        if prof is None:
            raise RegistryError(
                f"profile {self.runtime}/{self.dtype}/{self.threads} has no category '{key}'"
            )
        return prof


class AuditEntry(_Frozen):
    timestamp: str
    action: str
    n_profiles: int = Field(ge=0)
    tool_version: str
    note: str = ""
    backup: str | None = None


class EfficiencyFile(_Frozen):
    schema_version: int = 1
    device: str
    profiles: list[EfficiencyProfile]
    audit: list[AuditEntry] = Field(default_factory=list)


class PriorsFile(_Frozen):
    """One documented prior per device type, used (uncalibrated) for any runtime/dtype/threads."""

    schema_version: int = 1
    device_type: DeviceType
    profile: EfficiencyProfile
    notes: str = ""


class ElementaryWorkTable(_Frozen):
    """What one output element of an elementary function costs on this device, in
    FLOP-equivalents (measured ns per element x the device's one-thread fp32 peak)."""

    #: Op or pattern name (as in the runtime's fusion rules) -> FLOP-equivalents per element.
    #: A name of the runtime's default table missing here keeps the FLOP convention.
    flop_equivalents: dict[str, Annotated[float, Field(gt=0)]]
    #: The command that measured it, on what, and when.
    source: str = Field(min_length=1)
    date: str
    ns_per_element: dict[str, float] = Field(default_factory=dict)
    peak_gflops_one_thread: float = Field(gt=0)


class ElementaryWorkFile(_Frozen):
    """``elementary_work.json`` next to a device's hardware.json: per runtime, the device's own
    figures for the runtime's elementary-work table (the instruction paths differ by ISA: MLAS
    takes AVX-512 kernels on Zen 4, AVX2 on Zen 3)."""

    schema_version: int = 1
    device: str
    runtimes: dict[str, ElementaryWorkTable]


_SCHEMA_ROOTS: dict[str, type[BaseModel]] = {
    "hardware.schema.json": Hardware,
    "efficiency_curves.schema.json": EfficiencyFile,
    "priors.schema.json": PriorsFile,
    "elementary_work.schema.json": ElementaryWorkFile,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schemas shipped in hardware_registry/schema/, derived from these models.

    Shipping them as files lets non-Python tools validate registry files; tests check the shipped
    copies still equal what the models generate.
    """
    out: dict[str, dict[str, Any]] = {}
    for fname, model in _SCHEMA_ROOTS.items():
        schema = model.model_json_schema(mode="validation")
        out[fname] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": fname,
            **schema,
        }
    return out
