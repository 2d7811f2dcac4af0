"""estimate() and estimate_many() end to end, on a synthetic registry with hand-computed answers.

Synthetic device (tests/engine/_synthetic.py): 1 core, 100 GFLOP/s fp32, DRAM 10 GB/s, L1 32 KiB
at 100 GB/s, L2 1 MiB at 50 GB/s; every efficiency 1.0 with no spread, no overhead, and a 10%
device-level sigma.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from estimator.engine import lognormal_interval
from estimator.errors import InputError, UnsupportedOpError
from estimator.estimate import Estimate, estimate, estimate_many, prepare
from estimator.ir import Graph
from estimator.partition import partition
from estimator.registry.models import EfficiencyFile
from tests.engine._synthetic import hardware, profile
from tests.partition._graphs import conv, conv_bn_relu, graph, node, t, unary


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("registry")
    folder = root / "cpu" / "synthetic"
    folder.mkdir(parents=True)
    (folder / "hardware.json").write_text(hardware().model_dump_json(indent=1))
    profiles = [
        profile(device_sigma=0.1, runtime=rt) for rt in ("onnxruntime-cpu", "pytorch-eager")
    ]
    curves = EfficiencyFile(device="synthetic", profiles=profiles)
    (folder / "efficiency_curves.json").write_text(curves.model_dump_json(indent=1))
    return root


def _gemm_1e9() -> Graph:
    # Y[1000, 1000] = A[1000, 500] @ B[500, 1000]: 2 * 1000 * 500 * 1000 = 1e9 FLOPs.
    a, b = t("A", 1000, 500), t("B", 500, 1000, const=True)
    y = t("Y", 1000, 1000)
    return graph("gemm", [node("gemm", "Gemm", [a, b], [y], transA=0, transB=0)], [a], [y])


def test_gemm_of_1e9_flops_takes_10_ms(registry: Path) -> None:
    e = estimate(_gemm_1e9(), "synthetic", registry=registry)
    # compute 1e9 / 100e9 = 10 ms; memory (2e6 + 2e6 + 4e6 B) / 10 GB/s = 0.8 ms
    assert e.latency_ms == pytest.approx(10.0, rel=1e-9)
    assert e.kernels[0].bound == "compute" and e.bound_summary["compute"] == 1.0
    # only the device term: sd = 0.1 * 10 ms
    assert e.std_ms == pytest.approx(1.0, rel=1e-9)
    lo, hi = lognormal_interval(10.0, 1.0)
    assert e.ci95_low_ms == pytest.approx(float(lo)) and e.ci95_high_ms == pytest.approx(float(hi))
    assert e.ci95_low_ms < e.latency_ms < e.ci95_high_ms
    assert e.calibrated and e.calibration_source == "synthetic test"
    assert e.threads == 1  # threads=None -> hw.cores
    assert e.flops == 1_000_000_000 and e.macs == 500_000_000
    assert e.kernels[0].share == 1.0


def test_depthwise_conv_is_memory_bound(registry: Path) -> None:
    x = t("x", 1, 64, 64, 64)
    c = conv("dw", x, 64, 3, "y", group=64)
    e = estimate(graph("dw", [c], [x], [c.outputs[0]]), "synthetic", registry=registry)
    # FLOPs 2 * 9 * 64*64*64 = 4718592 -> 47.2 us; bytes: x and y 1 MiB each + W 64*9*4 = 2304
    # B from DRAM (2.1 MB > L2) at 10 GB/s -> 209.94 us
    k = e.kernels[0]
    assert k.category == "conv_depthwise" and k.bound == "memory"
    assert k.time_ms == pytest.approx((2 * 1048576 + 2304) / 10e9 * 1e3, rel=1e-9)


def test_fusion_changes_the_estimate_by_the_bytes_it_saves(registry: Path) -> None:
    g = conv_bn_relu(16, 64)
    ort = estimate(g, "synthetic", runtime="onnxruntime", registry=registry)
    eager = estimate(g, "synthetic", runtime="torch", registry=registry)
    assert ort.runtime == "onnxruntime-cpu" and eager.runtime == "pytorch-eager"
    assert len(ort.kernels) == 1 and len(eager.kernels) == 3
    # eager adds BN (reads c + 4*16 floats, writes b) and Relu (reads b, writes y), each memory
    # bound: act = 16*64*64*4 = 262144 B; each working set (~2 act = 0.5 MiB) fits the 1 MiB L2,
    # so the 4*act + 256 B move at 50 GB/s
    act = 262144
    extra = sum(k.time_ms for k in eager.kernels[1:])
    assert [k.bound for k in eager.kernels[1:]] == ["memory", "memory"]
    assert extra == pytest.approx((4 * act + 256) / 50e9 * 1e3, rel=1e-9)


def test_to_dict_is_versioned_json(registry: Path) -> None:
    e = estimate(conv_bn_relu(16, 8), "synthetic", registry=registry)
    d = e.to_dict()
    assert next(iter(d)) == "schema_version" and d["schema_version"] == 1
    text = json.dumps(d)
    back = json.loads(text)
    assert back["kernels"][0]["ops"] == ["Conv", "BatchNormalization", "Relu"]
    assert back["kernels"][0]["fusion"] == "conv_fold_affine+conv_activation"
    assert back["hardware"] == "synthetic" and back["notes"]
    for key in ("latency_ms", "ci95_low_ms", "ci95_high_ms", "peak_activation_bytes", "unmodeled"):
        assert key in back


def test_unmodeled_ops_are_reported_and_strict_refuses_them(registry: Path) -> None:
    x = t("x", 1, 16, 8, 8)
    c = conv("conv", x, 16, 3, "c")
    u = unary("custom", "com.example.Mystery", c.outputs[0], "y")
    g = graph("unknown", [c, u], [x], [u.outputs[0]])
    e = estimate(g, "synthetic", registry=registry)
    assert e.unmodeled == {"com.example.Mystery": 1}
    assert [k.modeled for k in e.kernels] == [True, False]
    assert e.kernels[1].time_ms > 0  # costed as memory traffic, never zero
    assert any("com.example.Mystery" in n for n in e.notes)
    with pytest.raises(UnsupportedOpError):
        estimate(g, "synthetic", registry=registry, strict=True)


def test_user_errors_are_one_line_input_errors(registry: Path) -> None:
    g = conv_bn_relu(16, 8)
    with pytest.raises(InputError, match="valid runtimes"):
        estimate(g, "synthetic", runtime="tvm", registry=registry)
    with pytest.raises(InputError, match="fp16"):
        estimate(g, "synthetic", dtype="fp16", registry=registry)  # no fp16 peak
    with pytest.raises(InputError, match="unknown dtype"):
        estimate(g, "synthetic", dtype="fp8", registry=registry)
    with pytest.raises(InputError, match="threads"):
        estimate(g, "synthetic", threads=0, registry=registry)


def test_estimate_many_agrees_with_estimate(registry: Path) -> None:
    graphs = [_gemm_1e9(), conv_bn_relu(16, 8), conv_bn_relu(32, 16)]
    singles = [estimate(g, "synthetic", registry=registry) for g in graphs]
    plans = [partition(graphs[0], "onnxruntime-cpu"), prepare(graphs[1]), graphs[2]]
    batch = estimate_many(plans, "synthetic", registry=registry)
    assert batch.names == ("gemm", "conv_bn_relu", "conv_bn_relu")
    for i, e in enumerate(singles):
        assert batch.latency_ms[i] == pytest.approx(e.latency_ms, rel=1e-12)
        assert batch.std_ms[i] == pytest.approx(e.std_ms, rel=1e-12)
        assert batch.ci95_high_ms[i] == pytest.approx(e.ci95_high_ms, rel=1e-12)
    assert np.all(batch.ci95_low_ms > 0)


def test_prepared_models_are_cached_per_graph_object() -> None:
    g = conv_bn_relu(16, 8)
    assert prepare(g) is prepare(g)
    eager = prepare(prepare(g), runtime="torch")  # a Prepared for another runtime is re-partitioned
    assert eager.plan.runtime == "pytorch-eager" and len(eager.plan) == 3


def test_large_gemm_is_compute_bound_on_a_registry_gpu() -> None:
    n = 4096
    a, b, y = t("A", n, n), t("B", n, n, const=True), t("Y", n, n)
    g = graph("big_gemm", [node("gemm", "Gemm", [a, b], [y], transA=0, transB=0)], [a], [y])
    e = estimate(g, "a100", runtime="tensorrt")
    assert e.kernels[0].bound == "compute"
    assert not e.calibrated or e.calibration_source
    # 2 * 4096^3 FLOPs can never beat the fp32 peak of the A100 (19.5 TFLOP/s datasheet)
    assert e.latency_ms > 2 * n**3 / 19.5e12 * 1e3


def test_every_registry_device_gives_a_positive_estimate_with_an_interval() -> None:
    from estimator.registry.loader import list_hardware

    g = conv_bn_relu(16, 16)
    names = list_hardware()
    assert names
    for name in names:
        for runtime in ("onnxruntime-cpu", "pytorch-eager", "tensorrt"):
            e = estimate(g, name, runtime=runtime)
            assert 0 < e.ci95_low_ms < e.latency_ms < e.ci95_high_ms, (name, runtime)


def test_elementary_function_work_is_reported_and_used() -> None:
    """On onnxruntime a lone Erf is timed by the runtime's measured work, reported next to the
    conventional FLOPs; on a runtime without a table the FLOPs are used (work is null)."""
    from estimator.partition.rules import load_rules

    x = t("x", 1, 64, 32, 32)
    g = graph("erf", [unary("erf", "Erf", x, "y")], [x], [t("y", 1, 64, 32, 32)])
    n = 64 * 32 * 32
    ort = estimate(g, "epyc-milan-vm-2vcpu", runtime="onnxruntime", threads=1)
    (k,) = ort.kernels
    assert k.flops == n
    assert k.work == round(load_rules("onnxruntime-cpu").elementary_work["Erf"] * n)
    assert json.loads(json.dumps(ort.to_dict()))["kernels"][0]["work"] == k.work
    eager = estimate(g, "epyc-milan-vm-2vcpu", runtime="pytorch-eager", threads=1)
    assert eager.kernels[0].work is None and eager.kernels[0].flops == n


def test_a_devices_own_elementary_work_replaces_the_runtime_table(tmp_path: Path) -> None:
    """elementary_work.json next to a device's hardware.json prices its elementary functions;
    an op the device table lacks falls back to the FLOP convention."""
    from estimator.partition.rules import load_rules
    from estimator.registry.elementary import save_elementary_work
    from tests.registry.test_elementary import table
    from tests.registry.test_loader import shipped_hardware, write_device

    folder = write_device(tmp_path, "cpu", "ew-dev", shipped_hardware("cpu/epyc-milan-vm-2vcpu"))
    x = t("x", 1, 64, 32, 32)
    g = graph("erf", [unary("erf", "Erf", x, "y")], [x], [t("y", 1, 64, 32, 32)])
    n = 64 * 32 * 32

    def run() -> Estimate:
        return estimate(g, "ew-dev", runtime="onnxruntime", threads=1, registry=tmp_path)

    default = run()
    assert default.kernels[0].work == round(
        load_rules("onnxruntime-cpu").elementary_work["Erf"] * n
    )

    def write(values: dict[str, float]) -> None:
        save_elementary_work(folder, "ew-dev", "onnxruntime-cpu", table(**values))

    write({"Erf": 4000.0})  # far above the runtime's figure: the kernel becomes compute-bound
    own = run()
    assert own.kernels[0].work == 4000 * n and own.kernels[0].flops == n
    assert own.kernels[0].bound == "compute"
    assert own.latency_ms > default.latency_ms
    write({"Tanh": 40.0})  # no Erf entry: not compute-bound on this device
    assert run().kernels[0].work is None


NB201_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|" + (
    "nor_conv_3x3~1|skip_connect~2|"
)


@pytest.mark.parametrize("batch", [0, -1, 2.5, float("nan"), float("inf"), True, 10**30])
def test_prepare_refuses_a_batch_that_is_not_a_sane_integer(batch: object) -> None:
    """0 was read as no batch and 10**30 gave a 4e29 ms estimate (issue 15)."""
    with pytest.raises(InputError, match="batch must be an integer"):
        prepare(NB201_ARCH, batch=batch)  # type: ignore[arg-type]


@pytest.mark.parametrize("threads", [0, 2.5, float("nan"), float("inf"), True])
def test_estimate_many_refuses_a_thread_count_that_is_not_an_integer(threads: object) -> None:
    """nan failed naming a missing peak, inf and 2.5 were priced (issue 15)."""
    with pytest.raises(InputError, match="threads must be an integer"):
        estimate_many([NB201_ARCH], "i7-12700K", threads=threads)  # type: ignore[arg-type]
    assert estimate_many([NB201_ARCH], "i7-12700K", threads=np.int64(2)).latency_ms[0] > 0


def test_a_graph_of_views_only_estimates_to_zero(tmp_path: Path) -> None:
    """No kernel at all (a lone Reshape) gave a traceback in the engine (issue 15)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape0")
    g = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array([1, -1], np.int64), "s")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 9
    onnx.save(m, tmp_path / "r.onnx")
    assert estimate(str(tmp_path / "r.onnx"), "i7-12700K").latency_ms == 0.0
