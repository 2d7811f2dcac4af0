"""The machine at hand: one fingerprint for registry matching, calibration provenance and the
results store.

A latency means nothing without the machine: the results store groups runs by machine, calibration
records it in a profile's provenance, and ``--hw host`` matches it to a registry device. The
fingerprint keeps what explains speed (CPU model, family and flags, cores, governor, kernel,
library versions) and leaves out what identifies a person (the hostname is hashed).

A leaf module (standard library only), so the registry and the measurement code can both use it.

Keys (:data:`KEYS`)::

    cpu_model         /proc/cpuinfo 'model name' ('Hardware' / 'Model' on ARM), else platform
    cpu_vendor        'vendor_id'           cpu_family   'cpu family'
    cpu_model_number  'model'               cpu_stepping 'stepping'
    cpu_mhz           'cpu MHz' (as written there)
    cpu_flags         sorted 'flags' / 'Features'
    simd              the SIMD extensions among them that kernels use
    hypervisor        True inside a VM (the 'hypervisor' flag)
    cores_logical     os.cpu_count()        cores_physical  distinct (core, socket) from lscpu
    arch              platform.machine()    system          platform.system()
    host_hash         sha256 of the hostname, 16 hex digits
    governor          cpufreq governor of cpu0, None where there is none
    kernel, python    platform.release(), platform.python_version()
    versions          {package: version} of onnxruntime, torch, numpy, onnx

Data written before the two fingerprints were merged used other names for some of these (see
:data:`LEGACY_KEYS`); :func:`normalize_fingerprint` reads it.

:func:`read_topology` reads what a registry entry needs beyond the fingerprint (cores and SMT,
caches per level, NUMA nodes, clocks, SIMD width and the FMA / dot-product extensions) from
/proc and sysfs, with lscpu as the fallback; it takes a root folder so that the texts of other
machines, kept as test fixtures, parse the same way. A file it cannot read becomes a note in the
result, never an exception: an unknown machine is exactly where files go missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

#: Every key :func:`machine_fingerprint` returns.
KEYS = (
    "cpu_model",
    "cpu_vendor",
    "cpu_family",
    "cpu_model_number",
    "cpu_stepping",
    "cpu_mhz",
    "cpu_flags",
    "simd",
    "hypervisor",
    "cores_logical",
    "cores_physical",
    "arch",
    "system",
    "host_hash",
    "governor",
    "kernel",
    "python",
    "versions",
)

#: Keys that identify the hardware; the machine hash covers only these, so upgrading a library
#: or switching the governor does not make a new machine (those are kept per run).
HARDWARE_KEYS = ("cpu_model", "cpu_flags", "cores_logical", "cores_physical", "arch", "host_hash")

#: Keys left out of a registry profile's provenance: shipped files are public, and the full flag
#: list is noise there (``simd`` keeps the flags that matter).
NOT_IN_PROVENANCE = frozenset({"host_hash", "cpu_flags"})

#: Old key -> key, for fingerprints written by ``estimator.registry.host.host_fingerprint``
#: (calibration provenance in hardware_registry/**/efficiency_curves.json). The results store's
#: old keys (``estimator.measure.fingerprint``) are all current keys.
LEGACY_KEYS = {
    "logical_cpus": "cores_logical",
    "machine": "arch",
    "vendor_id": "cpu_vendor",
    "model": "cpu_model_number",
    "stepping": "cpu_stepping",
    "cpu_MHz": "cpu_mhz",
}

#: SIMD extensions recorded in ``simd``, in this order.
SIMD_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "asimd")

_PACKAGES = ("onnxruntime", "torch", "numpy", "onnx")

#: /proc/cpuinfo field -> key.
_CPUINFO_FIELDS = {
    "vendor_id": "cpu_vendor",
    "cpu family": "cpu_family",
    "model": "cpu_model_number",
    "stepping": "cpu_stepping",
    "cpu MHz": "cpu_mhz",
}


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


#: Arm 'CPU part' numbers of implementer 0x41 (Arm Ltd) -> core name, for arm64 kernels whose
#: /proc/cpuinfo has no model name (what lscpu prints for them).
ARM_PARTS = {
    "0xd03": "Cortex-A53",
    "0xd04": "Cortex-A35",
    "0xd05": "Cortex-A55",
    "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72",
    "0xd09": "Cortex-A73",
    "0xd0a": "Cortex-A75",
    "0xd0b": "Cortex-A76",
    "0xd0c": "Neoverse-N1",
    "0xd0d": "Cortex-A77",
    "0xd40": "Neoverse-V1",
    "0xd41": "Cortex-A78",
    "0xd44": "Cortex-X1",
    "0xd46": "Cortex-A510",
    "0xd47": "Cortex-A710",
    "0xd48": "Cortex-X2",
    "0xd49": "Neoverse-N2",
    "0xd4f": "Neoverse-V2",
}


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """The fields of a /proc/cpuinfo text this package uses, from the first CPU that has each.

    Keys: ``model_name`` ('model name', else 'Hardware' / 'Model' as on phones and boards, else
    the Arm core named by 'CPU implementer' / 'CPU part'; None when there is none), ``flags``
    (sorted 'flags' / 'Features'), ``processors`` (count of 'processor' lines), ``cpu_cores``
    and ``physical_ids`` (x86 'cpu cores' / distinct 'physical id'), and the fields of
    :data:`_CPUINFO_FIELDS` under their fingerprint keys.
    """
    out: dict[str, Any] = dict.fromkeys(_CPUINFO_FIELDS.values())
    named: dict[str, str] = {}
    flags: list[str] | None = None
    processors = 0
    physical: set[str] = set()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "processor":
            processors += 1
        elif key in ("flags", "Features") and flags is None:
            flags = sorted(value.split())
        elif key == "physical id":
            physical.add(value)
        elif key in ("model name", "Hardware", "Model", "CPU implementer", "CPU part", "cpu cores"):
            named.setdefault(key, value)
        name = _CPUINFO_FIELDS.get(key)
        if name is not None and out[name] is None:
            out[name] = value
    model = named.get("model name") or named.get("Hardware") or named.get("Model")
    if model is None and named.get("CPU implementer") == "0x41":
        part = ARM_PARTS.get(named.get("CPU part", "").lower())
        model = f"ARM {part}" if part else None
    cores = named.get("cpu cores")
    out.update(
        model_name=model,
        flags=flags or [],
        processors=processors,
        cpu_cores=int(cores) if cores and cores.isdigit() else None,
        physical_ids=len(physical),
    )
    return out


@lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, Any]:
    return parse_cpuinfo(_read("/proc/cpuinfo"))


@lru_cache(maxsize=1)
def cpu_model_name() -> str:
    """CPU model string: /proc/cpuinfo 'model name' on Linux (see :func:`parse_cpuinfo`),
    platform.processor() elsewhere."""
    name: str | None = _cpuinfo()["model_name"]
    return name or platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The first CPU's flags from /proc/cpuinfo, sorted; empty where there is none."""
    return list(_cpuinfo()["flags"])


def _cpuinfo_fields() -> dict[str, str | None]:
    info = _cpuinfo()
    return {k: info[k] for k in _CPUINFO_FIELDS.values()}


@lru_cache(maxsize=1)
def _physical_cores() -> int | None:
    """Distinct (core, socket) pairs from ``lscpu -p``; None when lscpu is missing."""
    exe = shutil.which("lscpu")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "-p=CORE,SOCKET"], capture_output=True, text=True, timeout=5, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    pairs = {line.strip() for line in out.splitlines() if line and not line.startswith("#")}
    return len(pairs) or None


def _governor() -> str | None:
    return _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").strip() or None


@cache
def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_fingerprint() -> dict[str, Any]:
    """Describe this machine and its software (:data:`KEYS`); JSON-serializable, no raw
    hostname."""
    flags = cpu_flags()
    return {
        "cpu_model": cpu_model_name(),
        **_cpuinfo_fields(),
        "cpu_flags": flags,
        "simd": [f for f in SIMD_FLAGS if f in flags],
        "hypervisor": "hypervisor" in flags,
        "cores_logical": os.cpu_count(),
        "cores_physical": _physical_cores(),
        "arch": platform.machine(),
        "system": platform.system(),
        "host_hash": hashlib.sha256(socket.gethostname().encode()).hexdigest()[:16],
        "governor": _governor(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in _PACKAGES},
    }


def provenance_fingerprint() -> dict[str, Any]:
    """The fingerprint a calibrated profile records: :func:`machine_fingerprint` without
    :data:`NOT_IN_PROVENANCE`."""
    return {k: v for k, v in machine_fingerprint().items() if k not in NOT_IN_PROVENANCE}


def normalize_fingerprint(fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """``fingerprint`` with :data:`LEGACY_KEYS` renamed (a current key wins over an old one);
    other keys, current or unknown, kept as they are."""
    out = {LEGACY_KEYS.get(k, k): v for k, v in fingerprint.items() if k not in KEYS}
    out.update({k: v for k, v in fingerprint.items() if k in KEYS})
    return out


def fingerprint_hash(fingerprint: Mapping[str, Any]) -> str:
    """sha256 over the hardware keys only (see :data:`HARDWARE_KEYS`); old key names accepted."""
    fp = normalize_fingerprint(fingerprint)
    hw = {k: fp.get(k) for k in HARDWARE_KEYS}
    return hashlib.sha256(json.dumps(hw, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- topology

#: x86 flags of the widest SIMD register width they bring, widest first.
_X86_SIMD_BITS = (("avx512f", 512), ("avx", 256), ("sse2", 128))
#: Extensions that compute int8 or bf16 dot products (or matrix tiles) in hardware: with one, a
#: low-precision peak is worth measuring; without, int8/bf16 run through fp32 or widening paths.
DOT_PRODUCT_FLAGS = {
    "int8": ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm", "svei8mm"),
    "bf16": ("avx512_bf16", "amx_bf16", "bf16", "svebf16"),
}
#: Matrix units (tiles), listed apart from the vector extensions.
MATRIX_FLAGS = ("amx_tile", "amx_bf16", "amx_int8", "amx_fp16", "sme", "sme2")

_SIZE = re.compile(r"^\s*([0-9.]+)\s*([KMG])?(?:i?B)?\s*(?:\((\d+) instances?\))?", re.I)
_UNIT_KIB = {None: 1.0 / 1024.0, "K": 1.0, "M": 1024.0, "G": 1024.0 * 1024.0}
_CLOCK_IN_NAME = re.compile(r"@\s*([0-9.]+)\s*GHz", re.I)
_LSCPU_CACHE = re.compile(r"^L(\d)([di])?\s+cache$")


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """One cache level as the OS reports it (one instance of it)."""

    level: int
    #: "data", "instruction" or "unified".
    kind: str
    size_kib: float
    #: Logical CPUs and physical cores sharing one instance (1 core: private to a core).
    shared_cpus: int
    shared_cores: int
    line_bytes: int | None = None
    ways: int | None = None


@dataclass(frozen=True, slots=True)
class NumaNode:
    node: int
    cpus: list[int]
    memory_gb: float | None = None


@dataclass(slots=True)
class CpuTopology:
    """What /proc, sysfs (or lscpu) say about a machine's CPUs; fields the machine did not
    expose are None (or empty) and ``notes`` says which and why."""

    cpu_model: str
    vendor: str | None
    arch: str
    family: int | None
    model_number: int | None
    stepping: int | None
    flags: list[str]
    logical_cpus: int
    cores: int | None
    sockets: int | None
    threads_per_core: int | None
    caches: list[CacheInfo]
    numa: list[NumaNode]
    memory_gb: float | None
    #: Clocks in GHz and where they were read (cpufreq, the model name, 'cpu MHz').
    base_clock_ghz: float | None
    max_clock_ghz: float | None
    clock_source: str
    hypervisor: bool
    #: Widest SIMD registers (bits) and the SIMD extensions seen.
    simd_bits: int | None
    simd: list[str]
    #: Fused multiply-add instructions on the vector units.
    fma: bool
    #: dtype -> the flags that compute its dot products in hardware (int8, bf16).
    dot_products: dict[str, list[str]]
    matrix_units: list[str]
    notes: list[str] = field(default_factory=list)

    def data_caches(self) -> list[CacheInfo]:
        """The data and unified caches, one per level, ascending (instruction caches left out)."""
        by_level: dict[int, CacheInfo] = {}
        for c in sorted(self.caches, key=lambda c: (c.level, c.kind != "data")):
            if c.kind != "instruction":
                by_level.setdefault(c.level, c)
        return [by_level[k] for k in sorted(by_level)]


def parse_cpulist(text: str) -> list[int]:
    """``0-3,8,10-11`` -> [0, 1, 2, 3, 8, 10, 11]; [] for an empty or malformed text."""
    out: list[int] = []
    for part in text.strip().split(","):
        lo, sep, hi = part.strip().partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            return []
        out.extend(range(int(lo), int(hi if sep else lo) + 1))
    return out


def parse_size_kib(text: str) -> tuple[float, int] | None:
    """A cache size as sysfs (``48K``) or lscpu (``2.5 MiB (2 instances)``, ``32K``) writes it:
    (KiB of one instance, instances); None when unreadable. lscpu's totals are divided by the
    instance count it names."""
    m = _SIZE.match(text)
    if m is None:
        return None
    total = float(m.group(1)) * _UNIT_KIB[m.group(2).upper() if m.group(2) else None]
    instances = int(m.group(3)) if m.group(3) else 1
    return total / instances, instances


def parse_lscpu(text: str) -> dict[str, Any]:
    """The fields of plain ``lscpu`` output used as a fallback: ``model_name``,
    ``threads_per_core``, ``cores_per_socket``, ``sockets``, ``numa_nodes`` (count),
    ``numa_cpus`` ({node: cpus}) and ``caches`` ([(level, kind, KiB per instance, instances)])."""
    out: dict[str, Any] = {"caches": [], "numa_cpus": {}}
    ints = {"Thread(s) per core": "threads_per_core", "Core(s) per socket": "cores_per_socket",
            "Socket(s)": "sockets", "NUMA node(s)": "numa_nodes"}  # fmt: skip
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Model name":
            out.setdefault("model_name", value)
        elif key in ints and value.isdigit():
            out[ints[key]] = int(value)
        elif (m := re.fullmatch(r"NUMA node(\d+) CPU\(s\)", key)) is not None:
            out["numa_cpus"][int(m.group(1))] = parse_cpulist(value)
        elif (m := _LSCPU_CACHE.match(key)) is not None:
            size = parse_size_kib(value)
            if size is not None:
                kind = {"d": "data", "i": "instruction", None: "unified"}[m.group(2)]
                out["caches"].append((int(m.group(1)), kind, size[0], size[1]))
    return out


def simd_capabilities(flags: list[str], arch: str) -> dict[str, Any]:
    """SIMD width, FMA, dot-product and matrix extensions that ``flags`` name.

    x86: AVX-512F 512 bits, AVX/AVX2 256, SSE2 128; FMA from ``fma`` (FMA3) or AVX-512F. Arm:
    NEON (``asimd``) 128 bits with FMLA; SVE's width is read separately (see
    :func:`read_topology`). The number of FMA units per core is not in any flag: the measured
    FMA peak (``estimator.probe``) stands for it.
    """
    fl = set(flags)
    bits: int | None = None
    simd: list[str] = []
    for flag, width in _X86_SIMD_BITS:
        if flag in fl and bits is None:
            bits = width
    simd = [f for f in ("sse2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl") if f in fl]
    fma = "fma" in fl or "avx512f" in fl
    if arch.lower() in ("aarch64", "arm64") or "asimd" in fl or "neon" in fl:
        simd = [f for f in ("neon", "asimd", "sve", "sve2") if f in fl]
        if "asimd" in fl or "neon" in fl:
            bits, fma = 128, True
    dots = {dt: [f for f in names if f in fl] for dt, names in DOT_PRODUCT_FLAGS.items()}
    return {
        "simd_bits": bits,
        "simd": simd,
        "fma": fma,
        "dot_products": {dt: v for dt, v in dots.items() if v},
        "matrix_units": [f for f in MATRIX_FLAGS if f in fl],
    }


def _run_lscpu() -> str | None:
    exe = shutil.which("lscpu")
    if exe is None:
        return None
    try:
        return subprocess.run(
            [exe], capture_output=True, text=True, timeout=5, check=True, env={"LC_ALL": "C"}
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None


class _Reader:
    """Reads files under one root; every file that exists but cannot be read becomes a note."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.notes: list[str] = []

    def text(self, rel: str, *, quiet: bool = False) -> str | None:
        path = self.root / rel.lstrip("/")
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None
        except OSError as exc:
            if not quiet:
                self.notes.append(f"/{rel.lstrip('/')}: unreadable ({exc.strerror or exc})")
            return None

    def int(self, rel: str) -> int | None:
        raw = self.text(rel)
        raw = raw.strip() if raw else ""
        return int(raw) if raw.lstrip("-").isdigit() else None

    def dirs(self, rel: str, pattern: str) -> list[Path]:
        base = self.root / rel.lstrip("/")
        try:
            found = [p for p in base.iterdir() if re.fullmatch(pattern, p.name)]
        except FileNotFoundError:
            return []
        except OSError as exc:
            self.notes.append(f"/{rel.lstrip('/')}: unreadable ({exc.strerror or exc})")
            return []
        return sorted(found, key=lambda p: int(re.sub(r"\D", "", p.name) or 0))


_CPU = "sys/devices/system/cpu"


def _cores_from_sysfs(rd: _Reader, cpus: list[int]) -> dict[int, tuple[int, int]]:
    """cpu -> (package, core) for every CPU whose topology files are readable."""
    out: dict[int, tuple[int, int]] = {}
    for cpu in cpus:
        pkg = rd.int(f"{_CPU}/cpu{cpu}/topology/physical_package_id")
        core = rd.int(f"{_CPU}/cpu{cpu}/topology/core_id")
        if pkg is not None and core is not None:
            out[cpu] = (pkg, core)
    return out


def _caches_from_sysfs(
    rd: _Reader, cpus: list[int], core_of: dict[int, tuple[int, int]]
) -> list[CacheInfo]:
    """The first CPU's caches; a note when other CPUs report different ones (hybrid parts)."""
    per_cpu: dict[int, list[CacheInfo]] = {}
    for cpu in cpus:
        found: list[CacheInfo] = []
        for idx in rd.dirs(f"{_CPU}/cpu{cpu}/cache", r"index\d+"):
            rel = idx.relative_to(rd.root).as_posix()
            level = rd.int(f"{rel}/level")
            size = parse_size_kib(rd.text(f"{rel}/size") or "")
            kind = (rd.text(f"{rel}/type") or "").strip().lower()
            if level is None or size is None or kind not in ("data", "instruction", "unified"):
                continue
            shared = parse_cpulist(rd.text(f"{rel}/shared_cpu_list") or "") or [cpu]
            cores = {core_of.get(c, (0, c)) for c in shared}
            found.append(
                CacheInfo(
                    level,
                    kind,
                    size[0],
                    len(shared),
                    len(cores),
                    rd.int(f"{rel}/coherency_line_size"),
                    rd.int(f"{rel}/ways_of_associativity"),
                )
            )
        if found:
            per_cpu[cpu] = found
    if not per_cpu:
        return []
    first = per_cpu[min(per_cpu)]
    sig = {(c.level, c.kind, c.size_kib) for c in first}
    odd = [cpu for cpu, cs in per_cpu.items() if {(c.level, c.kind, c.size_kib) for c in cs} != sig]
    if odd:
        rd.notes.append(
            f"caches differ between CPUs (a hybrid part?): cpu{min(per_cpu)}'s are recorded, "
            f"{len(odd)} CPU(s) report others (cpu{odd[0]} first)"
        )
    return first


def _numa_from_sysfs(rd: _Reader) -> list[NumaNode]:
    nodes = []
    for d in rd.dirs("sys/devices/system/node", r"node\d+"):
        rel = d.relative_to(rd.root).as_posix()
        cpus = parse_cpulist(rd.text(f"{rel}/cpulist") or "")
        mem = re.search(r"MemTotal:\s*(\d+)\s*kB", rd.text(f"{rel}/meminfo") or "")
        gb = round(int(mem.group(1)) / 1024**2, 2) if mem else None
        nodes.append(NumaNode(int(d.name[4:]), cpus, gb))
    return nodes


def _clocks(
    rd: _Reader, model: str, cpuinfo_mhz: str | None
) -> tuple[float | None, float | None, str]:
    """(base, max) GHz: cpufreq where it exists, else the '@ X GHz' of the model name, else the
    'cpu MHz' of /proc/cpuinfo (in a VM often the TSC rate, not the core clock)."""
    base = rd.int(f"{_CPU}/cpu0/cpufreq/base_frequency")
    top = rd.int(f"{_CPU}/cpu0/cpufreq/cpuinfo_max_freq")
    if top is not None:
        b = base / 1e6 if base else None
        return b, top / 1e6, "cpufreq (cpu0 base_frequency, cpuinfo_max_freq)"
    m = _CLOCK_IN_NAME.search(model)
    if m:
        return float(m.group(1)), None, "the model name's '@ GHz' (nominal clock; turbo unknown)"
    try:
        mhz = float(cpuinfo_mhz) if cpuinfo_mhz else None
    except ValueError:
        mhz = None
    if mhz:
        return round(mhz / 1000.0, 3), None, "/proc/cpuinfo 'cpu MHz' (the current or TSC clock)"
    return None, None, "none readable"


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.strip().isdigit() else None


def read_topology(
    root: str | os.PathLike[str] = "/",
    *,
    lscpu: str | Literal["run"] | None = "run",
    arch: str | None = None,
) -> CpuTopology:
    """Read this machine (or the tree of files under ``root``) as a :class:`CpuTopology`.

    /proc/cpuinfo and sysfs first; ``lscpu`` output (``"run"``: run lscpu when ``root`` is "/";
    a text: that output; None: none) fills in what sysfs did not say. ``arch`` defaults to
    platform.machine() for "/", else to what the flags imply. Never raises on a missing or
    unreadable file: each becomes a line of ``notes``.
    """
    rd = _Reader(Path(root))
    live = Path(root).resolve() == Path("/")
    raw_cpuinfo = rd.text("proc/cpuinfo")
    if raw_cpuinfo is None:
        rd.notes.append("/proc/cpuinfo: not readable; model, flags and family unknown")
    info = parse_cpuinfo(raw_cpuinfo or "")
    flags: list[str] = info["flags"]
    if arch is None:
        arch = platform.machine() if live else ("aarch64" if "asimd" in flags else "x86_64")
    lscpu_text = (_run_lscpu() if live else None) if lscpu == "run" else lscpu
    ls = parse_lscpu(lscpu_text) if lscpu_text else None
    model = (
        info["model_name"]
        or (ls or {}).get("model_name")
        or (platform.processor() if live else "")
        or arch
    )

    cpus = parse_cpulist(rd.text(f"{_CPU}/online") or "")
    if not cpus:
        cpus = [int(d.name[3:]) for d in rd.dirs(_CPU, r"cpu\d+")]
    logical = len(cpus) or info["processors"] or ((os.cpu_count() or 1) if live else 1)
    if not cpus:
        cpus = list(range(logical))
    core_of = _cores_from_sysfs(rd, cpus)
    cores: int | None = None
    sockets: int | None = None
    tpc: int | None = None
    if len(core_of) == len(cpus):
        cores = len(set(core_of.values()))
        sockets = len({p for p, _ in core_of.values()})
        tpc = max(1, round(len(cpus) / cores))
    elif ls and ls.get("cores_per_socket") and ls.get("sockets"):
        sockets = ls["sockets"]
        cores = ls["cores_per_socket"] * ls["sockets"]
        tpc = ls.get("threads_per_core")
        rd.notes.append("cores and sockets from lscpu (sysfs topology not readable)")
    elif info["cpu_cores"] and info["physical_ids"]:
        sockets = info["physical_ids"]
        cores = info["cpu_cores"] * sockets
        tpc = max(1, round(logical / cores))
        rd.notes.append("cores and sockets from /proc/cpuinfo (sysfs topology not readable)")
    else:
        missing = "lscpu not found" if lscpu_text is None else "lscpu did not say"
        rd.notes.append(
            f"physical cores unknown: sysfs topology not readable and {missing}; "
            f"each of the {logical} logical CPUs is taken as a core"
        )

    caches = _caches_from_sysfs(rd, cpus, core_of)
    if not caches and ls and ls["caches"]:
        caches = [
            CacheInfo(level, kind, kib, max(1, logical // n), max(1, (cores or logical) // n))
            for level, kind, kib, n in ls["caches"]
        ]
        rd.notes.append("cache sizes from lscpu (sysfs cache folders not readable)")
    elif not caches:
        missing = "lscpu not found" if lscpu_text is None else "lscpu lists none"
        rd.notes.append(f"cache sizes unknown: sysfs cache folders not readable and {missing}")

    numa = _numa_from_sysfs(rd)
    if not numa and ls and ls["numa_cpus"]:
        numa = [NumaNode(n, c) for n, c in sorted(ls["numa_cpus"].items())]
        rd.notes.append("NUMA nodes from lscpu (sysfs node folders not readable)")
    elif not numa:
        numa = [NumaNode(0, cpus)]
        rd.notes.append("NUMA layout not readable: one node with every CPU assumed")

    mem = re.search(r"MemTotal:\s*(\d+)\s*kB", rd.text("proc/meminfo") or "")
    base, top, clock_source = _clocks(rd, model, info["cpu_mhz"])
    caps = simd_capabilities(flags, arch)
    if "sve" in flags:
        vl = _int_or_none(rd.text("proc/sys/abi/sve_default_vector_length", quiet=True))
        if vl:
            caps["simd_bits"] = vl * 8
        else:
            rd.notes.append(
                "SVE present but its vector length is not readable; NEON's 128 bits used"
            )
    return CpuTopology(
        cpu_model=model,
        vendor=info["cpu_vendor"],
        arch=arch,
        family=_int_or_none(info["cpu_family"]),
        model_number=_int_or_none(info["cpu_model_number"]),
        stepping=_int_or_none(info["cpu_stepping"]),
        flags=flags,
        logical_cpus=logical,
        cores=cores,
        sockets=sockets,
        threads_per_core=tpc,
        caches=caches,
        numa=numa,
        memory_gb=round(int(mem.group(1)) / 1024**2, 2) if mem else None,
        base_clock_ghz=base,
        max_clock_ghz=top,
        clock_source=clock_source,
        hypervisor="hypervisor" in flags,
        notes=rd.notes,
        **caps,
    )
