"""Real onnxruntime: sweep models measure, attribute to kernels, calibrate, validate, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from estimator.calibration.attribute import attribute, name_candidates
from estimator.calibration.collect import (
    Budget,
    CalibrationStore,
    collect,
    models_dir,
    split_trace,
)
from estimator.calibration.sweep import case_by_name, sweep_cases
from estimator.cli.calibrate_hardware import main as calibrate_hardware
from estimator.cli.validate_calibration import main as validate_calibration
from estimator.registry import load_hardware, load_priors, load_profile
from tests._nets import calibration_models

REPO = Path(__file__).resolve().parents[2]
HW = "epyc-milan-vm-2vcpu"
CASES = [
    "sweep/gemm/m8-k16-n16",
    "sweep/gemm/m64-k256-n1024",
    "sweep/elementwise/add-c16-r8",
    "sweep/conv_pointwise/c8x8-r8",
    "sweep/conv_dense/c8x8-r14-k3-s1",
]
TINY = Budget(warmup=2, min_time_s=0.03, profile_runs=5, max_profile_runs=20, min_repeats=5)


def _gelu_net() -> onnx.ModelProto:
    """MatMul then the decomposed GELU that onnxruntime fuses into one node named just 'Gelu'."""
    rng = np.random.default_rng(0)

    def const(name: str, value: float) -> onnx.TensorProto:
        return numpy_helper.from_array(np.array(value, np.float32), name)

    w = numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), "w")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"),
        helper.make_node("Div", ["h", "sqrt2"], ["d"], name="g_div"),
        helper.make_node("Erf", ["d"], ["e"], name="g_erf"),
        helper.make_node("Add", ["e", "one"], ["a"], name="g_add"),
        helper.make_node("Mul", ["h", "a"], ["m"], name="g_mul"),
        helper.make_node("Mul", ["m", "half"], ["y"], name="g_mul2"),
    ]
    graph = helper.make_graph(
        nodes,
        "gelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [32, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [32, 64])],
        initializer=[w, const("sqrt2", 2**0.5), const("one", 1.0), const("half", 0.5)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("calib") / "results.sqlite"
    folder = models_dir(db)
    paths = calibration_models(folder, CASES)
    gelu = folder / "zoo__gelu.onnx"
    onnx.save(_gelu_net(), str(gelu))
    paths.append(gelu)
    res = collect(paths, db, 1, budget=TINY, progress=False)
    assert len(res.measured) == len(paths) and not res.skipped
    return db


def test_every_sweep_case_is_a_valid_onnxruntime_model() -> None:
    cases = sweep_cases()
    assert len({c.name for c in cases}) == len(cases)
    assert {str(c.category) for c in cases} >= {
        "conv_dense", "conv_depthwise", "conv_pointwise", "conv_grouped", "gemm", "attention",
        "elementwise", "normalization", "pooling", "reduction", "data_movement",
    }  # fmt: skip
    case = case_by_name("sweep/conv_dense/c3x16-r56-k3-s2")
    assert case is not None
    model = case.build()
    onnx.checker.check_model(model, full_check=True)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {"x": np.zeros((1, 3, 56, 56), np.float32)})
    # 'same' padding, stride 2: ceil(56 / 2) = 28.
    assert out.shape == (1, 16, 28, 28)
    # Deterministic bytes: the model hash (the store's identity) survives regeneration.
    assert case.build().SerializeToString() == model.SerializeToString()
    assert len(sweep_cases(quick=True)) < len(cases) / 2


def test_split_trace_assigns_nodes_to_runs() -> None:
    events = [
        {"cat": "Session", "name": "model_run", "ts": 0, "dur": 100},
        {"cat": "Session", "name": "model_run", "ts": 200, "dur": 100},
        {"cat": "Session", "name": "model_run", "ts": 400, "dur": 50},
        {"cat": "Node", "name": "a_kernel_time", "ts": 10, "dur": 30, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "a_kernel_time", "ts": 210, "dur": 40, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "b_kernel_time", "ts": 260, "dur": 5, "args": {"op_name": "Relu"}},
        {"cat": "Node", "name": "b_kernel_time", "ts": 270, "dur": 6, "args": {"op_name": "Relu"}},
        {"cat": "Node", "name": "a_kernel_time", "ts": 410, "dur": 20, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "a_fence_before", "ts": 411, "dur": 1},
    ]
    per_run, run_ms, ops = split_trace(events, skip_runs=1)  # first run is warmup
    assert per_run == [{"a": 40.0, "b": 11.0}, {"a": 20.0}]
    assert run_ms == [0.1, 0.05]
    assert ops == {"a": "Conv", "b": "Relu"}


def test_fused_node_names_resolve_to_their_first_member() -> None:
    assert "/fc1/MatMul" in name_candidates("/fc1/MatMul/MatMulAddFusion")
    assert "/b/Mul" in name_candidates("/b/Mul/QuickGeluFusion/")
    assert "mm0" in name_candidates("fused mm0/MatMulAddFusion_token_3")
    # NCHWc nodes are named after the tensor they write (a BatchNorm turned into a conv).
    assert "tensor:/f/BN_output_0" in name_candidates("/f/BN_output_0_bn_nchwc")
    assert "tensor:y" in name_candidates("y_nchwc")


def test_unnamed_fused_gelu_goes_to_the_gelu_kernel(measured: Path) -> None:
    hw = load_hardware(HW)
    with CalibrationStore(measured) as store:
        run = next(r for r in store.calibration_runs(1) if r.model_name == "zoo__gelu")
    # onnxruntime names the fused node 'Gelu': no ONNX node of that name exists.
    assert {n.node_name for n in run.nodes} == {"fc", "Gelu"}
    att = attribute(run, hw, load_priors(hw.type), 1)
    assert att.time_match_rate == 1.0 and att.n_measured == att.n_kernels == 2
    gelu = next(p for p in att.points if p.kernel == "g_div")
    assert gelu.t * 1e6 == pytest.approx(
        next(n.median_us for n in run.nodes if n.op_type == "Gelu")
    )


def test_collection_resumes_and_kernels_are_attributed(measured: Path) -> None:
    folder = measured.parent / "calibration_models"
    again = collect(sorted(folder.glob("*.onnx")), measured, 1, budget=TINY, progress=False)
    assert not again.measured and len(again.skipped) == len(CASES) + 4
    # A second pass of one model: calibration reads the pass with the lower median.
    gemm_path = folder / "sweep__gemm__m8-k16-n16.onnx"
    twice = collect([gemm_path], measured, 1, budget=TINY, progress=False, passes=2)
    assert len(twice.measured) == 1 and len(twice.skipped) == 1
    with CalibrationStore(measured) as store:
        stored = [
            r
            for r in store.results.runs(runtime="onnxruntime")
            if r.model_path == str(gemm_path.resolve())
        ]
        best = next(r for r in store.calibration_runs(1) if r.model_name == gemm_path.stem)
        newest = next(
            r for r in store.calibration_runs(1, "latest") if r.model_name == gemm_path.stem
        )
    assert len(stored) == 2
    assert best.median_ms == min(r.summary["stats"]["p50_ms"] for r in stored)
    assert newest.run_id == max(r.id for r in stored)
    hw = load_hardware(HW)
    prior = load_priors(hw.type)
    with CalibrationStore(measured) as store:
        runs = {r.model_name: r for r in store.calibration_runs(1)}
    gemm = attribute(runs["sweep__gemm__m8-k16-n16"], hw, prior, 1)
    assert gemm.n_kernels == 1 and gemm.n_measured == 1 and gemm.time_match_rate == 1.0
    (p,) = gemm.points
    # MatMul [8,16]x[16,16]: 2*8*16*16 = 4096 FLOPs; F/P at 1 thread = 4096 / peak(1).
    assert p.flops == 4096
    assert p.t_compute == pytest.approx(4096 / hw.peak_flops("fp32", 1))
    assert 0 < p.t < 0.01
    net = attribute(runs["zoo__net0"], hw, prior, 1)
    # Conv+Relu fuse into one kernel in both onnxruntime and the partitioner.
    conv = [q for q in net.points if q.kernel == "conv"]
    assert len(conv) == 1 and conv[0].flops >= 2 * 16 * 8 * 9 * 32 * 32
    assert net.kernel_match_rate >= 0.5
    assert runs["zoo__net0"].cpu_median_ms > 0 and runs["zoo__net0"].median_ms > 0


@pytest.mark.slow
def test_calibrate_and_validate_cli(measured: Path, tmp_path: Path) -> None:
    dev = tmp_path / "reg" / "cpu" / HW
    dev.mkdir(parents=True)
    shutil.copy(REPO / "hardware_registry" / "cpu" / HW / "hardware.json", dev)
    common = ["--hw", HW, "--db", str(measured), "--threads", "1"]
    rc = calibrate_hardware(
        [*common, "--no-measure", "--zoo", "net0,net1,net2", "--out", str(dev), "--note", "t"]
    )
    assert rc == 0
    prof = load_profile(HW, "onnxruntime-cpu", "fp32", 1, registry=tmp_path / "reg")
    assert prof.calibrated and prof.provenance.n_measurements > 0
    assert "gemm" in prof.provenance.fit_r2
    out = tmp_path / "v.json"
    nets = ["--models", "net0,net1,net2"]
    assert (
        validate_calibration([*common, *nets, "--max-median-error", "50", "--json", str(out)]) == 0
    )
    report = json.loads(out.read_text())
    assert report["1"]["metrics"]["n"] == 3
    assert validate_calibration([*common, *nets, "--min-coverage", "1.01"]) == 1
    assert validate_calibration(["--hw", "no-such-device", "--db", str(measured)]) == 2


def test_missing_out_folder_fails_before_measuring(
    measured: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong --out must cost nothing: the error comes before any run, in one line."""
    missing = tmp_path / "no" / "such" / "folder"
    rc = calibrate_hardware(
        [
            "--hw",
            HW,
            "--db",
            str(tmp_path / "fresh.sqlite"),
            "--threads",
            "1",
            "--out",
            str(missing),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(missing) in err[0]
    assert not (tmp_path / "fresh.sqlite").exists()


def test_calibration_measures_a_missing_elementary_table_once(tmp_path: Path) -> None:
    from estimator.calibration.pipeline import measure_elementary_table
    from estimator.registry.elementary import ELEMENTARY_FILE, load_elementary_work

    dev = tmp_path / "reg" / "cpu" / "ew-new"
    dev.mkdir(parents=True)
    doc = json.loads((REPO / "hardware_registry" / "cpu" / HW / "hardware.json").read_text())
    (dev / "hardware.json").write_text(json.dumps({**doc, "id": "ew-new", "aliases": []}))
    hw = load_hardware("ew-new", registry=tmp_path / "reg")
    assert (
        measure_elementary_table(hw, True, tmp_path) is None
    )  # curves written elsewhere: the device folder untouched
    assert not (dev / ELEMENTARY_FILE).exists()
    assert measure_elementary_table(hw, True, dev) == dev / ELEMENTARY_FILE
    table = load_elementary_work(hw, "onnxruntime-cpu")
    assert table is not None and table.keys() >= {"Gelu", "Erf", "QuickGelu"}
    stamp = (dev / ELEMENTARY_FILE).stat().st_mtime_ns
    assert measure_elementary_table(hw, True, dev) is None  # a device with a table keeps it
    assert (dev / ELEMENTARY_FILE).stat().st_mtime_ns == stamp
