"""Python API and the ``--from-latencies`` entry point, end to end on real registry files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from estimator.errors import EstimatorError, InputError
from estimator.registry import load_hardware, load_profile
from estimator.transfer import (
    calibrate_from_latencies,
    column_setup,
    estimate_nb201,
    fit_from_latencies,
    resolve_references,
    write_from_latencies,
)
from estimator.transfer.nb201_fast import nb201_kernel_set
from estimator.zoo.nb201 import random_archs


def _measured(archs: list[str], scale: float) -> np.ndarray:
    """Stand-in measurements: the prior's own estimate times ``scale`` (the fit must find it)."""
    return scale * estimate_nb201("titan-x-pascal", archs, batch=1).latency_ms


def test_calibrate_from_latencies_moves_toward_data() -> None:
    archs = random_archs(12, seed=4)
    y = _measured(archs, 3.0)
    prof = calibrate_from_latencies("titanx", archs, y, runtime="pytorch-eager")
    assert prof.calibrated and prof.provenance.n_measurements == 12
    est = estimate_nb201("titanx", archs, profile=prof)
    np.testing.assert_allclose(est.latency_ms, y, rtol=0.05)
    prior = calibrate_from_latencies("titanx", archs, y, runtime="pytorch-eager", shots=0)
    assert not prior.calibrated


def test_shots_are_seeded_subsets() -> None:
    archs = random_archs(20, seed=5)
    y = _measured(archs, 2.0)
    a = fit_from_latencies("titanx", archs, y, runtime="torch", shots=5, seed=1)
    b = fit_from_latencies("titanx", archs, y, runtime="torch", shots=5, seed=1)
    assert a.k == 5 and np.array_equal(a.theta, b.theta)
    with pytest.raises(InputError, match="shots=30 but only 20"):
        fit_from_latencies("titanx", archs, y, runtime="torch", shots=30)


def test_mixed_references_keep_order() -> None:
    from estimator.frontends.onnx_frontend import load_onnx
    from estimator.partition import partition

    archs = random_archs(3, seed=6)
    onnx_path = str(Path(__file__).resolve().parents[2] / "examples" / "tiny_convnet.onnx")
    refs = [archs[0], onnx_path, archs[1], archs[2]]
    ks = resolve_references(refs, runtime="pytorch-eager", batch=[1, 1, 2, 1])
    assert ks.names == tuple(refs)
    alone = nb201_kernel_set([archs[1]], batch=2)
    assert float((ks.counts[2] @ ks.kernels.flops)[0]) == float(
        (alone.counts[0] @ alone.kernels.flops)[0]
    )
    direct = partition(load_onnx(onnx_path), "pytorch-eager")
    assert float((ks.counts[1] @ ks.kernels.flops)[0]) == direct.flops.sum()


def test_write_from_latencies_writes_a_loadable_profile(tmp_path: Path) -> None:
    archs = random_archs(15, seed=7)
    y = _measured(archs, 4.0)
    csv_path = tmp_path / "lat.csv"
    csv_path.write_text(
        "model,latency_ms\n" + "".join(f"{a},{v:.4f}\n" for a, v in zip(archs, y, strict=True))
    )
    reg = tmp_path / "reg"
    reg.mkdir()
    res = write_from_latencies(
        "titan-x-pascal", csv_path, shots=10, runtime="pytorch-eager", out_registry=reg
    )
    assert res.fit.k == 10 and res.profile.calibrated
    written = reg / "gpu" / "titan-x-pascal" / "efficiency_curves.json"
    assert res.path == written and written.is_file()
    hw = load_hardware("titan-x-pascal", registry=reg)
    prof = load_profile(hw, "pytorch-eager", "fp32", None, registry=reg)
    assert prof.calibrated and prof.provenance.n_measurements == 10
    assert str(csv_path) in prof.provenance.source


def test_write_from_latencies_input_errors(tmp_path: Path) -> None:
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(
        "model,latency_ms\n|nor_conv_3x3~0|+|x~0|none~1|+|none~0|none~1|none~2|,1\n"
    )
    with pytest.raises(InputError, match="line 2"):
        write_from_latencies("titan-x-pascal", csv_path, runtime="pytorch-eager")
    with pytest.raises(InputError, match="fits nothing"):
        write_from_latencies("titan-x-pascal", csv_path, shots=0, runtime="pytorch-eager")


def test_column_setup() -> None:
    s = column_setup("1080ti_32")
    assert (s.hardware, s.batch, s.runtime, s.semantics) == (
        "gtx-1080-ti",
        32,
        "pytorch-eager",
        "reference",
    )
    assert column_setup("silver_4114").batch == 1
    assert column_setup("samsung_a50", np.array([3.0, 4.0])).quantum_ms == 1.0
    with pytest.raises(InputError, match="names no registry device"):
        column_setup("mystery_8")


def test_onnx_reference_resolves_to_its_partition() -> None:
    from estimator.frontends.onnx_frontend import load_onnx
    from estimator.partition import partition
    from estimator.transfer import resolve_plan

    path = Path(__file__).resolve().parents[2] / "examples" / "tiny_convnet.onnx"
    plan = resolve_plan(str(path), runtime="onnxruntime-cpu")
    direct = partition(load_onnx(path), "onnxruntime-cpu")
    assert len(plan) == len(direct)
    assert plan.compute_work.sum() == direct.compute_work.sum()
    ks = resolve_references([str(path)], runtime="onnxruntime-cpu")
    assert float((ks.counts[0] @ ks.kernels.bytes)[0]) == direct.bytes.sum()


@pytest.mark.slow
def test_zoo_name_reference() -> None:
    ks = resolve_references(["resnet18"], runtime="pytorch-eager")
    # torchvision-style ResNet-18 at 224x224: 1.82 GMACs (published) -> ~3.6 GFLOPs
    assert 3.4e9 < float((ks.counts[0] @ ks.kernels.flops)[0]) < 3.8e9


def test_calibrate_hardware_script_takes_from_latencies(tmp_path: Path) -> None:
    # the console script of issue 6 routes --from-latencies to the few-shot fit
    import subprocess
    import sys

    archs = random_archs(12, seed=3)
    y = _measured(archs, 4.0)
    csv_path = tmp_path / "lat.csv"
    csv_path.write_text(
        "model,latency_ms\n" + "".join(f"{a},{v:.4f}\n" for a, v in zip(archs, y, strict=True))
    )
    script = Path(__file__).resolve().parents[2] / "calibration" / "calibrate_hardware.py"
    cmd = [sys.executable, str(script), "--hw", "titan-x-pascal", "--from-latencies"]
    ok = subprocess.run(
        [*cmd, str(csv_path), "--shots", "8", "--runtime", "pytorch-eager", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "gpu" / "titan-x-pascal" / "efficiency_curves.json").is_file()
    bad = subprocess.run(
        [*cmd, str(tmp_path / "absent.csv"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_fit_from_onnx_files_chooses_a_level_and_names_bad_files(tmp_path: Path) -> None:
    # weight-stripped ONNX networks of the MobileNet-style space as references
    from estimator.transfer import fit_from_latencies
    from estimator.zoo.mbspace import write_space

    nets = write_space(tmp_path, 8, seed=2, weights=False)
    refs = [str(p) for _, p in nets]
    truth = estimate_many_ms(refs)
    f = fit_from_latencies("xeon-6-vm-2vcpu", refs, 3.0 * truth, runtime="onnxruntime-cpu")
    assert f.k == 8 and f.level in ("roofline", "scale", "cmo", "full")
    mean, _, _ = f.predict(resolve_references(refs, runtime="onnxruntime-cpu"))
    assert float(np.mean(np.abs(mean / (3.0 * truth) - 1))) < 0.15
    missing = str(tmp_path / "nope.onnx")
    with pytest.raises(EstimatorError, match=r"nope\.onnx"):
        fit_from_latencies("xeon-6-vm-2vcpu", [*refs[:2], missing], [1.0, 1.0, 1.0],
                           runtime="onnxruntime-cpu")  # fmt: skip


def estimate_many_ms(refs: list[str]) -> np.ndarray:
    from estimator.estimate import estimate_many

    est = estimate_many(refs, "xeon-6-vm-2vcpu", runtime="onnxruntime-cpu")
    return np.asarray(est.latency_ms, dtype=np.float64)
