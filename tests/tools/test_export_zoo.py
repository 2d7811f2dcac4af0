"""estimator.zoo.export (and its CLI tools/export_zoo.py) writes valid ONNX files that onnxruntime
runs like the torch module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from estimator.zoo.decoders import decoder_module, tiny_llama
from estimator.zoo.export import export, export_module, file_stem
from estimator.zoo.nb201 import nb201_module

ARCH = "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def tool(repo_root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("export_zoo", repo_root / "tools/export_zoo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["export_zoo"] = module
    spec.loader.exec_module(module)
    return module


def _run(path: Path, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in session.run(None, feed)]


def test_export_nb201(tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tool.main([str(tmp_path), "--models", f"nb201:{ARCH}", "--batch", "2"]) == 0
    path = tmp_path / "nb201-c3-p-c1-s-n-c3.onnx"
    assert str(path) in capsys.readouterr().out
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 17
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    (got,) = _run(path, {"input": x})
    torch.manual_seed(0)  # the tool builds every model right after seeding 0
    with torch.no_grad():
        want = nb201_module(ARCH)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_export_tiny_llama_prefill(tool: ModuleType, tmp_path: Path) -> None:
    assert tool.main([str(tmp_path), "--models", "tiny_llama", "--seq-len", "5"]) == 0
    path = tmp_path / "tiny_llama.onnx"
    onnx.checker.check_model(onnx.load(str(path)))
    ids = np.array([[3, 1, 4, 1, 5]], dtype=np.int64)
    logits, k0, *_ = _run(path, {"input_ids": ids})
    torch.manual_seed(0)
    with torch.no_grad():
        want, present = decoder_module(tiny_llama())(torch.from_numpy(ids))
    np.testing.assert_allclose(logits, want.numpy(), rtol=1e-4, atol=1e-4)
    assert k0.shape == tuple(present[0][0].shape) == (1, 2, 5, 16)  # KV keeps 2 kv heads


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ("no_such_model", "no_such_model"),
        ("nb201:|bad~0|", "NAS-Bench-201"),
        ("llama_7b", "2 GiB"),
        (",", "--models"),
    ],
)
def test_errors_are_one_line_exit_2(
    tool: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    models: str,
    message: str,
) -> None:
    assert tool.main([str(tmp_path), "--models", models]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_export_module_any_module_atomic(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()).eval()
    path = tmp_path / "sub" / "mlp.onnx"
    out = export_module(
        module,
        torch.zeros(2, 4),
        path,
        opset=13,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
    )
    assert out == path and sorted(p.name for p in path.parent.iterdir()) == ["mlp.onnx"]
    model = onnx.load(str(path))
    assert model.opset_import[0].version == 13
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    (got,) = _run(path, {"x": x})
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_export_module_failure_leaves_no_file(tmp_path: Path) -> None:
    class Bad(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("boom")

    path = tmp_path / "bad.onnx"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        export_module(Bad(), torch.zeros(1), path)
    assert [p.name for p in tmp_path.iterdir()] == ["bad.onnx"] and path.read_bytes() == b"old"


def test_library_export_names_the_file_like_the_tool(tmp_path: Path) -> None:
    path = export(f"nb201:{ARCH}", tmp_path)
    assert (
        path
        == tmp_path / f"{file_stem(f'nb201:{ARCH}')}.onnx"
        == tmp_path / "nb201-c3-p-c1-s-n-c3.onnx"
    )
    onnx.checker.check_model(onnx.load(str(path)))


def test_example_model_matches_its_generator(repo_root: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_example", repo_root / "tools/make_example.py"
    )
    assert spec is not None and spec.loader is not None
    make_example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_example)
    path = repo_root / "examples" / "tiny_convnet.onnx"
    assert path.stat().st_size < 200 * 1024
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    ops = {n.op_type for n in model.graph.node}
    assert {"Conv", "Relu", "Add", "GlobalAveragePool", "Gemm"} <= ops
    groups = [a.i for n in model.graph.node for a in n.attribute if a.name == "group"]
    assert 32 in groups  # the depthwise conv
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32)
    (got,) = _run(path, {"input": x})
    with torch.no_grad():
        want = make_example.build()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
