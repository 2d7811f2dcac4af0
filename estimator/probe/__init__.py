"""Probe an unknown machine: read its CPUs, measure its empirical roofline, write its entry.

:func:`probe` reads the machine (:func:`estimator.host.read_topology`), measures FMA and GEMM
compute ceilings and a STREAM-like bandwidth sweep on the threads asked for
(:mod:`estimator.probe.measure`), and returns the figures (:mod:`estimator.probe.roofline`) and
the registry entry built from them (:mod:`estimator.probe.entry`). :func:`register_host` also
writes that entry into the user registry (``--registry``, ``ESTIMATOR_REGISTRY`` or the XDG
data folder), never over an existing one without ``force``. ``probe-hardware`` and
``calibrate-hardware --hw host`` on an unknown machine call it; ``estimate-latency --probe``
uses a quick probe's entry in memory, uncalibrated.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from estimator.host import CpuTopology, read_topology
from estimator.probe.entry import default_id, hardware_entry, probe_threads
from estimator.probe.measure import FULL, QUICK, measure
from estimator.probe.roofline import build_roofline
from estimator.registry.models import Hardware, MeasuredRoofline

__all__ = ["Probe", "default_id", "host_entry", "probe", "probed_host", "register_host"]

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Probe:
    """What one probe read and measured, and the registry entry made of it."""

    topology: CpuTopology
    roofline: MeasuredRoofline
    hardware: Hardware
    #: The hardware.json written (None: not written).
    path: Path | None = None


def _command(threads: Sequence[int], quick: bool, command: str | None) -> str:
    if command:
        return command
    return f"probe-hardware --threads {','.join(map(str, threads))}{' --quick' if quick else ''}"


def probe(
    threads: Sequence[int] | None = None,
    *,
    quick: bool = False,
    device_id: str | None = None,
    command: str | None = None,
    progress: Progress | None = None,
    root: str | os.PathLike[str] = "/",
) -> Probe:
    """Read this machine and measure its roofline at ``threads`` (default: 1 and every core).

    ``quick``: the effort of ``estimate-latency --probe`` (<= 20 s on 2 cores); otherwise about
    a minute. ``command`` is recorded as the measuring command (default: the probe-hardware
    line that repeats this probe). Nothing is written.
    """
    import estimator

    t0 = time.perf_counter()
    topo = read_topology(root)
    ths = probe_threads(topo, threads)
    effort = QUICK if quick else FULL
    raw = measure(topo, ths, effort, progress=progress)
    roof = build_roofline(
        topo,
        raw,
        ths,
        quick=quick,
        command=_command(ths, quick, command),
        seconds=time.perf_counter() - t0,
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        tool_version=estimator.__version__,
    )
    return Probe(topo, roof, hardware_entry(topo, roof, device_id=device_id))


def register_host(
    registry: str | os.PathLike[str] | None = None,
    *,
    threads: Sequence[int] | None = None,
    quick: bool = False,
    force: bool = False,
    device_id: str | None = None,
    command: str | None = None,
    progress: Progress | None = None,
) -> Probe:
    """:func:`probe`, then write the entry into the user registry (see
    :func:`estimator.registry.loader.user_registry`). The target is checked before measuring: an
    existing hardware.json without ``force`` costs nothing."""
    from estimator.errors import RegistryError
    from estimator.registry.loader import HARDWARE_FILE, save_hardware, user_registry

    root = user_registry(registry)
    if root.exists() and not root.is_dir():
        raise RegistryError(f"registry folder '{root}' is not a folder")
    name = device_id or default_id(read_topology())
    existing = root / "cpu" / name / HARDWARE_FILE
    if existing.exists() and not force:
        raise RegistryError(
            f"{existing}: already exists (and does not match this machine, or --hw host would "
            "have found it); pass --force to replace it"
        )
    result = probe(threads, quick=quick, device_id=name, command=command, progress=progress)
    path = save_hardware(result.hardware, root, force=force)
    if progress:
        progress(f"wrote {path}")
    return Probe(result.topology, result.roofline, result.hardware, path)


def host_entry(
    registry: str | os.PathLike[str] | None = None,
    *,
    threads: Sequence[int] | None = None,
    quick: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> tuple[str, str | None, Probe | None]:
    """``--hw host`` for a command that writes (``calibrate-hardware``): (device id, registry
    to use, the probe or None). The registry entry matching this machine when there is one;
    otherwise the machine is probed at ``threads`` and its entry written into the user registry
    (:func:`register_host`), which is then the registry to use."""
    from estimator.registry.loader import match_host, user_registry

    found = match_host(registry)
    if found is not None:
        return found, None if registry is None else str(registry), None
    if progress:
        progress("no registry entry matches this machine: probing it first (probe-hardware)")
    result = register_host(registry, threads=threads, quick=quick, force=force, progress=progress)
    return result.hardware.id, str(user_registry(registry)), result


def probed_host(
    registry: str | os.PathLike[str] | None = None,
    *,
    threads: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> str | Hardware:
    """``--hw host --probe`` for a command that only reads (``estimate-latency``): "host" when a
    registry entry matches this machine, else the entry of a quick probe, in memory and not
    written (uncalibrated: the device type's efficiency priors on the measured roofline)."""
    from estimator.registry.loader import match_host

    if match_host(registry) is not None:
        return "host"
    cores = read_topology().cores or os.cpu_count() or 1
    ths = sorted({1, *(threads or [cores])})
    return probe(ths, quick=True, command=_command(ths, True, None), progress=progress).hardware
