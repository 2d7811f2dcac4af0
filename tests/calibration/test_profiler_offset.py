"""The profiler's per-node cost: measured from whole runs, taken out of every profiled kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from estimator.calibration.attribute import Attribution, KernelPoint, prepared
from estimator.calibration.calibrate import (
    WholeModel,
    calibrate,
    profiler_offset,
    without_profiler,
)
from estimator.calibration.dataset import load_dataset
from estimator.registry import load_hardware
from estimator.registry.models import KernelCategory
from tests.calibration.test_end_to_end import HW, measured  # noqa: F401  (fixture)

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny_convnet.onnx"


def _net(name: str, profiled_us: float, run_us: float, nodes: int) -> WholeModel:
    att = Attribution(name, [], n_kernels=nodes, n_measured=nodes, matched_us=profiled_us * 0.9,
                      unmatched_us=profiled_us * 0.1, profiled_nodes=nodes)  # fmt: skip
    return WholeModel(name, prepared(str(TINY)).plan, run_us * 1e-6, att)


def _point(t_us: float, nodes: int) -> KernelPoint:
    return KernelPoint("m", "k", KernelCategory.ELEMENTWISE, 1e3, 1e3, 1e3, t_us * 1e-6,
                       1e-9, 1e-9, nodes=nodes)  # fmt: skip


def test_offset_is_the_median_excess_per_profiled_node() -> None:
    # (profiled - run) / nodes = 1, 2 and 10 us: the median, 2 us, robust to the third.
    nets = [_net("a", 1100, 1000, 100), _net("b", 700, 500, 100), _net("c", 2000, 1000, 100)]
    assert profiler_offset(nets) == pytest.approx(2e-6)


def test_offset_is_never_negative_and_zero_without_attributions() -> None:
    assert profiler_offset([_net("a", 900, 1000, 50), _net("b", 950, 1000, 50)]) == 0.0
    bare = WholeModel("x", prepared(str(TINY)).plan, 1e-3, None)
    assert profiler_offset([bare]) == 0.0


def test_offset_comes_out_of_each_node_with_a_floor() -> None:
    pts = [_point(10, 2), _point(3, 1), _point(2, 1)]
    got = [p.t * 1e6 for p in without_profiler(pts, 2e-6, 0.25)]
    # 10 - 2 x 2; 3 - 2; 2 - 2 = 0 held at a quarter of 2 us.
    assert got == pytest.approx([6.0, 1.0, 0.5])
    assert without_profiler(pts, 0.0, 0.25) == pts


def test_calibration_records_the_offset_it_took_out(measured: Path) -> None:  # noqa: F811
    hw = load_hardware(HW)
    ds = load_dataset(measured, hw, 1)
    want = profiler_offset(ds.models)
    assert want > 0  # the fixture's small networks: their profiled nodes add up past the run
    cal = calibrate(ds.all_points, ds.models, hw, 1, kernel_model=False, score=False)
    assert cal.profile.network_fit is not None
    assert cal.profile.network_fit.profiler_offset_us == pytest.approx(want * 1e6)
    # Kernel prices only: nothing from whole runs, the offset included.
    plain = calibrate(ds.all_points, ds.models, hw, 1, kernel_model=False, score=False,
                      use_network_fit=False)  # fmt: skip
    assert plain.profile.network_fit is None
