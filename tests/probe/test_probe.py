"""Probes of this machine: repeated probes agree within their stated uncertainty, and ``--hw
host`` for a writing command (calibrate-hardware) probes only when no entry matches. Quick
probes at one thread, into registries of the test's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from estimator.probe import Probe, host_entry, probe
from estimator.registry.models import MeasuredRoofline


@pytest.fixture(autouse=True)
def _own_user_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESTIMATOR_REGISTRY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def _figures(m: MeasuredRoofline) -> dict[str, tuple[float, float]]:
    out = {f"{c.dtype}/{c.method}/t{c.threads}": (c.gflops, c.u95_gflops) for c in m.compute}
    out.update({f"{b.level}/t{b.threads}": (b.gbs, b.u95_gbs) for b in m.bandwidth})
    return out


#: Two probes see the host's noise, not another test worker's load (the test is ``serial``: on a
#: 2-vCPU guest whose vCPUs may be SMT siblings, a busy sibling cut the FMA figure by a third):
#: they must agree within their stated 95% ranges, or within this share of the figure (the
#: host's other guests still move a figure between probes).
LOAD_SLACK = 0.25


@pytest.mark.serial
def test_host_entry_probes_an_unknown_machine_once_and_probes_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from estimator.registry import loader

    # this machine unknown whatever the shipped registry holds: the shipped registry without
    # its CPU entries (CI may draw a machine the registry knows)
    shipped = loader.builtin_registry()
    builtin = tmp_path / "builtin"
    shutil.copytree(
        shipped, builtin, ignore=lambda d, names: names if Path(d) == shipped / "cpu" else []
    )
    monkeypatch.setattr(loader, "builtin_registry", lambda: builtin)
    registry = tmp_path / "registry"
    registry.mkdir()
    name, used, first = host_entry(registry, threads=[1], quick=True)
    assert isinstance(first, Probe) and first.path == registry / "cpu" / name / "hardware.json"
    assert used == str(registry) and first.hardware.id == name
    # the entry now matches this machine: no second probe
    assert host_entry(registry, threads=[1], quick=True) == (name, str(registry), None)

    second = probe([1], quick=True)
    a, b = _figures(first.roofline), _figures(second.roofline)
    assert set(a) == set(b) and {"fp32/register_fma/t1", "fp32/onnxruntime_gemm/t1"} <= set(a)
    apart = {k for k in a if not _agree(a[k], b[k])}
    if apart:
        # A third probe decides each figure the first two disagree on. A figure the probe makes
        # irreproducible (a cold first pass, a working set that lands in another level from run
        # to run) disagrees in all three; a transient of the host (CI: DRAM 24.0 +- 1.5 then
        # 16.3 +- 1.6 GB/s seconds apart, nothing else running in the guest) moves one probe.
        c = _figures(probe([1], quick=True).roofline)
        still = {
            k: (a[k], b[k], c[k]) for k in apart if not (_agree(a[k], c[k]) or _agree(b[k], c[k]))
        }
        assert not still, still


def _agree(x: tuple[float, float], y: tuple[float, float]) -> bool:
    return abs(x[0] - y[0]) <= max(x[1] + y[1], LOAD_SLACK * max(x[0], y[0]))
