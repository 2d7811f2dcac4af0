"""A registry entry (:class:`~estimator.registry.models.Hardware`) for a probed machine.

A machine the registry does not know has no datasheet the probe could read, so the fields the
engine uses (``peak_gflops``, ``memory``, the caches' ``bandwidth_gbs``) are set from the
measured roofline, and each derivation says so and names the figures it took; the measured
figures themselves stay in ``measured`` with their own derivations and the command. A user who
knows the datasheet replaces the first kind and keeps the second. Sizes, clocks, SIMD width and
the fingerprint come from what the OS reported (:func:`estimator.host.read_topology`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from estimator.host import CacheInfo, CpuTopology
from estimator.registry.models import (
    CacheLevel,
    Fingerprint,
    Hardware,
    MeasuredRoofline,
    MemorySpec,
    PeakSpec,
)

_VENDORS = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD", "HygonGenuine": "Hygon"}
#: Words of a model name that say nothing about the part (dropped from the id).
_NOISE = re.compile(r"\((r|tm)\)|\bcpu\b|\bprocessor\b|\bwith\b.*$|@", re.I)
#: FMA pipes per core assumed only where no clock is readable at all (see :func:`_clocks`).
_ASSUMED_FMA_PIPES = 2


def default_id(topo: CpuTopology) -> str:
    """``<model name, slugged>-<N>cpu[-vm]``: unique enough per machine kind, readable, and
    stable across probes of the same machine."""
    words = _NOISE.sub(" ", topo.cpu_model).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", words).strip("-") or topo.arch
    vm = "-vm" if topo.hypervisor else ""
    return f"{slug}-{topo.logical_cpus}cpu{vm}"


def _vendor(topo: CpuTopology) -> str:
    if topo.vendor:
        return _VENDORS.get(topo.vendor, topo.vendor)
    return topo.cpu_model.split()[0] if topo.cpu_model.startswith("ARM ") else "unknown"


def _per_core(value: float, threads: int, cores: int) -> float:
    return value / min(threads, cores)


def _peaks(m: MeasuredRoofline, cores: int, topo: CpuTopology) -> dict[str, PeakSpec]:
    out: dict[str, PeakSpec] = {}
    for dtype in dict.fromkeys(c.dtype for c in m.compute):
        rows = []
        best = 0.0
        for th in m.threads:
            c = m.best_compute(dtype, th)
            if c is None:
                continue
            all_at = [x for x in m.compute if x.dtype == dtype and x.threads == th]
            rows.append(
                f"threads={th}: "
                + ", ".join(f"{x.method} {x.gflops:g} +- {x.u95_gflops:g}" for x in all_at)
            )
            best = max(best, _per_core(c.gflops, th, cores))
        if best <= 0:
            continue
        total = best * cores
        unit = "GFLOP/s" if dtype != "int8" else "GOP/s (2 ops per multiply-accumulate)"
        nominal = ""
        if dtype == "fp32" and topo.simd_bits and topo.base_clock_ghz:
            lanes = topo.simd_bits // 32
            per_pipe = cores * lanes * 2 * topo.base_clock_ghz
            nominal = (
                f" For comparison, one {topo.simd_bits}-bit FMA pipe per core at the nominal "
                f"{topo.base_clock_ghz:g} GHz gives {cores} x {lanes} lanes x 2 x "
                f"{topo.base_clock_ghz:g} = {per_pipe:.1f} GFLOP/s; the measurement is "
                f"{total / per_pipe:.2f}x that (FMA pipes per core times the clock held under "
                "load over the nominal one; neither is in the CPU flags)."
            )
        out[dtype] = PeakSpec(
            gflops=round(total, 1),
            derivation=(
                f"measured on this machine by probe-hardware (no datasheet figure): the best "
                f"ceiling per core over the thread counts probed, x {cores} cores = "
                f"{total:.1f} {unit}. Ceilings ({unit}, median +- 95% range): "
                + "; ".join(rows)
                + f". See measured.compute.{nominal}"
            ),
        )
    return out


def _memory(m: MeasuredRoofline, cores: int, topo: CpuTopology) -> MemorySpec:
    dram = sorted((b for b in m.bandwidth if b.level == "DRAM"), key=lambda b: b.threads)
    if not dram:
        raise ValueError("the probe measured no DRAM bandwidth")
    top = dram[-1]
    total = top.gbs
    scaled = ""
    if top.threads < cores:
        total = top.gbs * cores / top.threads
        scaled = f", scaled linearly from {top.threads} to {cores} cores (not measured there)"
    one = next((b for b in dram if b.threads == 1), None)
    rows = "; ".join(f"threads={b.threads}: {b.gbs:g} +- {b.u95_gbs:g} GB/s" for b in dram)
    return MemorySpec(
        dram_bandwidth_gbs=round(total, 2),
        per_core_bandwidth_gbs=round(one.gbs, 2) if one else None,
        size_gb=topo.memory_gb,
        type=None,
        derivation=(
            f"measured on this machine by probe-hardware (no datasheet figure): triad over "
            f"working sets of at least 4x the last-level cache; total = threads={top.threads}"
            f"{scaled}; per core = threads=1{'' if one else ' (not probed: left null)'}. "
            f"{rows}. See measured.bandwidth. size_gb: MemTotal of /proc/meminfo."
        ),
    )


def _cache_level(c: CacheInfo, m: MeasuredRoofline, cores: int) -> CacheLevel:
    name = f"L{c.level}"
    rows = sorted((b for b in m.bandwidth if b.level == name), key=lambda b: b.threads)
    shared = c.shared_cores > 1
    where = f"shared by {c.shared_cores} cores" if shared else "private to a core"
    shape = ", ".join(
        x
        for x in (
            f"{c.ways}-way" if c.ways else "",
            f"{c.line_bytes} B lines" if c.line_bytes else "",
        )
        if x
    )
    shape = f" ({shape})" if shape else ""
    text = f"{c.size_kib:g} KiB {c.kind}, {where}{shape}, as the OS reports it"
    bw: float | None = None
    if rows:
        listed = "; ".join(f"threads={b.threads}: {b.gbs:g} +- {b.u95_gbs:g} GB/s" for b in rows)
        if shared:
            bw = rows[-1].gbs
            how = f"aggregate at threads={rows[-1].threads}"
        else:
            bw = max(_per_core(b.gbs, b.threads, cores) for b in rows)
            how = "per core: the best of the thread counts probed, divided by the threads"
        text += f"; bandwidth measured by probe-hardware ({how}): {listed}. See measured.bandwidth"
    else:
        text += "; bandwidth not measured (no sweep point inside this level): null"
    return CacheLevel(
        level=c.level,
        size_kib=c.size_kib,
        shared=shared,
        bandwidth_gbs=round(bw, 2) if bw else None,
        derivation=text,
    )


def _clocks(topo: CpuTopology, m: MeasuredRoofline) -> tuple[float, float, str]:
    """(base, boost, note): as read; a missing turbo is the base clock; with no clock at all,
    the clock the FMA rate implies with :data:`_ASSUMED_FMA_PIPES` pipes per core."""
    base, top = topo.base_clock_ghz, topo.max_clock_ghz
    if base or top:
        b = base or top or 0.0
        t = top or b
        note = f"Clocks from {topo.clock_source}" + ("; boost set to base" if not top else "")
        return b, t, note + "."
    fma = m.best_compute("fp32", 1)
    lanes = (topo.simd_bits or 128) // 32
    ghz = round(fma.gflops / (lanes * 2 * _ASSUMED_FMA_PIPES), 2) if fma else 1.0
    return (
        ghz,
        ghz,
        (
            f"No clock readable: base and boost are what the one-thread FMA rate implies with "
            f"{_ASSUMED_FMA_PIPES} FMA pipes of {lanes} lanes ({ghz} GHz); informational only."
        ),
    )


def hardware_entry(
    topo: CpuTopology, m: MeasuredRoofline, *, device_id: str | None = None
) -> Hardware:
    """The registry entry of the probed machine (not yet written)."""
    cores = topo.cores or topo.logical_cpus
    base, boost, clock_note = _clocks(topo, m)
    caches = [_cache_level(c, m, cores) for c in topo.data_caches() if c.level <= 4]
    vm = f", {'VM guest' if topo.hypervisor else 'bare metal'}"
    notes = [
        "Written by probe-hardware: no datasheet was read, so peak_gflops, memory and the caches' "
        "bandwidth_gbs are the measured figures of `measured` (each derivation names them); "
        "replace them with datasheet figures if you have them, `measured` keeps what was measured.",
        clock_note,
        *topo.notes,
    ]
    return Hardware(
        id=device_id or default_id(topo),
        vendor=_vendor(topo),
        model=f"{topo.cpu_model} ({topo.logical_cpus} logical CPUs{vm}; probed)",
        type="cpu",
        cores=cores,
        threads=topo.logical_cpus,
        base_clock_ghz=base,
        boost_clock_ghz=max(boost, base),
        peak_gflops=_peaks(m, cores, topo),
        memory=_memory(m, cores, topo),
        caches=caches,
        simd_bits=topo.simd_bits,
        sources=[
            f"/proc/cpuinfo, /proc/meminfo and /sys/devices/system (cpu, node) of this machine, "
            f"read by probe-hardware on {m.date}",
            f"measurements: {m.command} (estimator {m.tool_version}, {m.seconds:g} s)",
        ],
        fingerprint=Fingerprint(
            cpu_model_regex="^" + re.escape(topo.cpu_model).replace("\\ ", " ") + "$",
            cpu_family=topo.family,
            cpu_model_number=topo.model_number,
            logical_cpus=topo.logical_cpus,
            notes="written by probe-hardware from this machine's /proc/cpuinfo",
        ),
        notes=" ".join(notes),
        measured=m,
    )


def probe_threads(topo: CpuTopology, threads: Sequence[int] | None) -> list[int]:
    """The thread counts to probe: those asked for, else one thread and every core."""
    if threads:
        return sorted(set(threads))
    cores = topo.cores or topo.logical_cpus
    return sorted({1, cores})
