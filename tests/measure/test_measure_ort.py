"""measure() on real onnxruntime sessions of tiny models built with onnx.helper."""

from __future__ import annotations

import math
import weakref
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from estimator.errors import InputError, ModelLoadError
from estimator.measure import Measurement, measure, ort_runtime

OPS = ("Tanh", "Abs", "Neg", "Exp")  # unary chain onnxruntime has no fusion for


def _chain_model(shape: list[int | str] | None = None) -> onnx.ModelProto:
    shape = shape or ["N", 64]
    names = ["x"] + [f"t{i}" for i in range(len(OPS) - 1)] + ["y"]
    nodes = [
        helper.make_node(op, [names[i]], [names[i + 1]], name=f"{op.lower()}_node{i}")
        for i, op in enumerate(OPS)
    ]
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model


@pytest.fixture
def chain_path(tmp_path: Path) -> Path:
    p = tmp_path / "chain.onnx"
    onnx.save(_chain_model(), p)
    return p


def test_measure_gives_positive_finite_stats(chain_path: Path) -> None:
    m = measure(chain_path, batch=4, warmup=2, repeats=20, threads=1)
    assert isinstance(m, Measurement)
    assert m.samples_ms.shape == (20,) and m.status == "complete"
    s = m.summary
    assert s is not None
    for v in (s.mean_ms, s.std_ms, s.min_ms, s.p50_ms, s.p99_ms, s.throughput_sps):
        assert math.isfinite(v) and v > 0
    assert s.min_ms <= s.median_ci95_low_ms <= s.p50_ms <= s.median_ci95_high_ms <= s.max_ms
    assert m.batch == 4 and m.threads == 1 and m.dtype == "float32"
    assert m.runtime == "onnxruntime" and m.runtime_version
    # sha256 of the exact file bytes identifies the model
    import hashlib

    assert m.model_hash == hashlib.sha256(chain_path.read_bytes()).hexdigest()
    assert m.peak_rss_bytes is not None and m.peak_rss_bytes > 0
    assert m.fingerprint["cores_logical"] >= 1
    assert m.fingerprint["threads_used"] == 1


def test_bytes_and_proto_inputs_hash_alike(chain_path: Path) -> None:
    data = chain_path.read_bytes()
    a = measure(data, warmup=0, repeats=3)
    b = measure(onnx.load_model_from_string(data), warmup=0, repeats=3)
    assert a.model_hash == b.model_hash
    assert a.batch == 1  # dynamic batch defaults to 1


def test_profile_names_match_onnx_nodes(chain_path: Path) -> None:
    m = measure(chain_path, batch=2, warmup=2, repeats=10, profile=True)
    onnx_names = {n.name for n in onnx.load(chain_path).graph.node}
    times = m.node_times()
    assert set(times) == onnx_names
    assert all(v > 0 for v in times.values())
    assert {k.op_type for k in m.kernel_times} == set(OPS)
    assert all(k.calls == 10 for k in m.kernel_times)  # one call per node per timed run


def test_profiled_pass_opens_after_the_timing_session_is_gone(
    chain_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A live timing session's intra-op pool spins and takes cores from the profiled session's
    # (1.6x slower nodes at 2 threads on 2 cores), so it must be released first.
    runner = ort_runtime.OrtRunner(str(chain_path), label="chain", threads=2, batch=2)
    timing = weakref.ref(runner.session)
    alive_at_open: list[bool] = []
    real = ort_runtime.open_session

    def spy(*args: object, **kwargs: object) -> object:
        alive_at_open.append(timing() is not None)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ort_runtime, "open_session", spy)
    kernels = runner.profile(warmup=1, runs=3)
    assert alive_at_open == [False]
    assert {k.op_type for k in kernels} == set(OPS)


def test_min_time_mode_runs_at_least_floor(chain_path: Path) -> None:
    m = measure(chain_path, warmup=0, min_time=0.01)  # contract alias of min_time_s
    # the loop stops once 0.01 s of timed calls and at least 10 samples are in
    assert m.repeats >= 10
    assert float(np.sum(m.samples_ms)) >= 10.0 or m.repeats == 10


def test_interrupt_keeps_completed_samples(chain_path: Path) -> None:
    def stop_at_five(i: int, ms: float) -> None:
        if i == 4:
            raise KeyboardInterrupt

    m = measure(chain_path, warmup=0, repeats=1000, on_sample=stop_at_five)
    assert m.status == "interrupted"
    assert m.repeats == 5  # samples 0..4 completed before the interrupt


def test_dynamic_dims_need_binding(tmp_path: Path) -> None:
    p = tmp_path / "dyn.onnx"
    onnx.save(_chain_model(["N", "S"]), p)
    with pytest.raises(InputError, match=r"'x' dim 1 .*--input-shape x="):
        measure(p, warmup=0, repeats=2)
    m = measure(p, warmup=0, repeats=2, input_shapes={"x": (3, 7)})
    assert m.batch == 3
    with pytest.raises(InputError, match="unknown input"):
        measure(p, warmup=0, repeats=2, input_shapes={"nope": (1, 2)})
    with pytest.raises(InputError, match="rank 3"):
        measure(p, warmup=0, repeats=2, input_shapes={"x": (1, 2, 3)})


def test_fixed_batch_cannot_be_rebound(tmp_path: Path) -> None:
    p = tmp_path / "fixed.onnx"
    onnx.save(_chain_model([1, 8]), p)
    with pytest.raises(InputError, match="fixed batch of 1"):
        measure(p, batch=4, warmup=0, repeats=2)


def test_bad_models(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such model file"):
        measure(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"definitely not protobuf")
    with pytest.raises(ModelLoadError, match=r"junk\.onnx"):
        measure(junk)
    with pytest.raises(InputError, match="unknown runtime"):
        measure(junk, runtime="tvm")


def _matmul_model(weight: np.ndarray) -> onnx.ModelProto:
    w = onnx.numpy_helper.from_array(weight, "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm0")],
        "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", weight.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", weight.shape[1]])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model


def test_external_data_found_and_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "models"
    d.mkdir()
    w = np.ones((32, 32), np.float32)
    onnx.save(_matmul_model(w), d / "a.onnx", save_as_external_data=True, size_threshold=0)
    assert (d / "a.onnx.data").exists() or any(d.glob("*.data"))
    monkeypatch.chdir(tmp_path)  # weights must be found next to the model, not in the cwd
    h1 = measure(d / "a.onnx", warmup=0, repeats=2).model_hash
    onnx.save(_matmul_model(w * 2), d / "a.onnx", save_as_external_data=True, size_threshold=0)
    h2 = measure(d / "a.onnx", warmup=0, repeats=2).model_hash
    assert h1 != h2  # same graph file layout, different external weights


def test_peak_memory_sees_large_tensors(tmp_path: Path) -> None:
    p = tmp_path / "big.onnx"
    onnx.save(_chain_model(["N", 1 << 20]), p)
    m = measure(p, batch=8, warmup=0, repeats=2)
    # the random input alone is 8 * 2**20 float32 = 32 MiB, allocated after the baseline reading
    assert m.rss_growth_bytes is not None and m.rss_growth_bytes >= 32 * 2**20
    assert m.peak_rss_bytes is not None and m.peak_rss_bytes >= m.rss_growth_bytes


def test_profile_sources_are_onnx_nodes_after_fusion(tmp_path: Path) -> None:
    # Conv -> Relu -> Conv -> Clip: onnxruntime fuses activations into convs and may move them
    # to the NCHWc layout (renaming them); every profiled kernel must still name an ONNX node,
    # except the layout reorders onnxruntime inserts itself.
    rng = np.random.default_rng(0)
    w1 = onnx.numpy_helper.from_array(rng.standard_normal((16, 8, 3, 3)).astype(np.float32), "w1")
    w2 = onnx.numpy_helper.from_array(rng.standard_normal((16, 16, 1, 1)).astype(np.float32), "w2")
    lo = onnx.numpy_helper.from_array(np.array(0.0, np.float32), "lo")
    hi = onnx.numpy_helper.from_array(np.array(6.0, np.float32), "hi")
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], name="conv_a", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["b"], name="relu_b"),
        helper.make_node("Conv", ["b", "w2"], ["c"], name="conv_c"),
        helper.make_node("Clip", ["c", "lo", "hi"], ["y"], name="clip_y"),
    ]
    graph = helper.make_graph(
        nodes,
        "convs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16, 16, 16])],
        [w1, w2, lo, hi],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    p = tmp_path / "convs.onnx"
    onnx.save(model, p)
    m = measure(p, warmup=1, repeats=5, profile=True, threads=1)
    onnx_names = {n.name for n in nodes}
    kernels = [k for k in m.kernel_times if not k.op_type.startswith("Reorder")]
    assert kernels, "profile produced kernel rows"
    assert {k.source for k in kernels} <= onnx_names
    sources = {k.source for k in kernels}
    assert sources <= onnx_names
    # each Conv+activation group is timed by at least one kernel (fused: the kernel takes the
    # activation's output name, which resolves to the activation node, e.g. relu_b / clip_y)
    assert sources & {"conv_a", "relu_b"} and sources & {"conv_c", "clip_y"}
