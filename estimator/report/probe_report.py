"""``probe-hardware``: the machine as read, and its measured roofline, as text."""

from __future__ import annotations

from estimator.registry.models import Hardware, MeasuredRoofline
from estimator.report import render


def _kib(kib: float) -> str:
    return f"{kib / 1024:g} MiB" if kib >= 1024 else f"{kib:g} KiB"


def machine_line(m: MeasuredRoofline) -> str:
    """One paragraph: model, cores and SMT, sockets, NUMA, SIMD, caches."""
    r = m.machine
    smt = f", {r.threads_per_core} thread(s)/core" if r.threads_per_core else ""
    cores = f"{r.cores} cores" if r.cores else "cores unknown"
    simd = f"{r.simd_bits}-bit SIMD" if r.simd_bits else "SIMD width unknown"
    dots = "; ".join(f"{dt} dot products ({', '.join(f)})" for dt, f in r.dot_products.items())
    caches = ", ".join(
        f"L{c.level}{c.kind[0] if c.kind != 'unified' else ''} {_kib(c.size_kib)}"
        + (f"/{c.shared_cores} cores" if c.shared_cores > 1 else "/core")
        for c in r.caches
    )
    parts = [
        f"{r.cpu_model} ({r.arch}{', VM guest' if r.hypervisor else ''}): {r.logical_cpus} "
        f"logical CPUs, {cores}{smt}, {r.sockets or '?'} socket(s), {len(r.numa)} NUMA node(s)",
        f"{simd}{', FMA' if r.fma else ''} ({' '.join(r.simd) or 'none'})"
        + (f"; {dots}" if dots else "")
        + (f"; matrix units {', '.join(r.matrix_units)}" if r.matrix_units else ""),
        f"caches: {caches or 'unknown'}",
    ]
    return "\n".join(parts) + "\n"


def roofline_table(m: MeasuredRoofline, *, width: int = 120) -> str:
    """Compute ceilings and level bandwidths per thread count (median +- 95% range)."""
    compute = sorted({(c.dtype, c.method) for c in m.compute})
    levels = [
        lv for lv in ("L1", "L2", "L3", "L4", "DRAM") if any(b.level == lv for b in m.bandwidth)
    ]
    cols: list[tuple[str, render.Justify]] = [("threads", "right")]
    cols += [(f"{dt} {meth.replace('_', ' ')}", "right") for dt, meth in compute]
    cols += [(f"{lv} GB/s", "right") for lv in levels]
    kind = "quick" if m.quick else "full"
    title = f"measured roofline ({kind} probe, {m.seconds:g} s; median +- 95% range of the runs)"
    table = render.table(cols, title)
    for th in m.threads:
        row = [str(th)]
        for dt, meth in compute:
            c = next(
                (x for x in m.compute if (x.dtype, x.method, x.threads) == (dt, meth, th)), None
            )
            row.append(f"{c.gflops:,.1f} +- {c.u95_gflops:,.1f}" if c else "-")
        for lv in levels:
            b = m.level_bandwidth(lv, th)
            row.append(f"{b.gbs:,.1f} +- {b.u95_gbs:,.1f}" if b else "-")
        table.add_row(*row)
    console = render.console(width)
    console.print(table)
    return console.export_text()


def probe_report(hw: Hardware) -> str:
    """What ``probe-hardware`` prints: the machine, the roofline, the entry's headline figures
    and the notes."""
    m = hw.measured
    if m is None:
        return f"{hw.id}: no measured roofline\n"
    fp32 = hw.peak_gflops.get("fp32")
    head = (
        f"entry {hw.id}: fp32 peak {fp32.gflops:,.1f} GFLOP/s, " if fp32 else f"entry {hw.id}: "
    ) + f"DRAM {hw.memory.dram_bandwidth_gbs:,.1f} GB/s\n"
    notes = "".join(f"note: {n}\n" for n in [*m.machine.notes, *m.notes])
    return machine_line(m) + roofline_table(m) + head + notes
