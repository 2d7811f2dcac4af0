"""The seeded MobileNet-style search space: deterministic, valid ONNX, weight-stripped files
estimate exactly like the weighted ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from estimator.errors import InputError
from estimator.estimate import estimate
from estimator.zoo.mbspace import SKELETON, sample_arch, sample_archs, to_onnx, write_space


def test_architectures_depend_on_seed_and_index_only() -> None:
    a = sample_archs(6, seed=3)
    assert [x.code for x in a] == [sample_arch(i, 3).code for i in range(6)]
    assert sample_arch(2, 3).code != sample_arch(2, 4).code
    assert a[0].name == "mbspace-3-00000"
    for arch in sample_archs(50, seed=0):
        assert len(arch.layers) == len(SKELETON)
        for i, layer in enumerate(arch.layers):
            cin = 16 if i == 0 else SKELETON[i - 1][0]
            if layer.skip:  # only where the layer keeps its shape
                assert SKELETON[i] == (cin, 1)
            else:
                assert layer.kernel in (3, 5, 7) and layer.expansion in (1, 3, 6)
                assert layer.option in ("none", "se", "g2")
    with pytest.raises(InputError, match="index"):
        sample_arch(-1)


def test_written_networks_run_and_stripped_files_estimate_the_same(tmp_path: Path) -> None:
    import onnxruntime as ort

    full = write_space(tmp_path / "w", 3, seed=1, weights=True)
    bare = write_space(tmp_path / "s", 3, seed=1, weights=False)
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["nets"] == {a.name: a.code for a, _ in full}
    for (_, wpath), (_, spath) in zip(full, bare, strict=True):
        onnx.checker.check_model(onnx.load(str(wpath)))
        sess = ort.InferenceSession(str(wpath), providers=["CPUExecutionProvider"])
        (out,) = sess.run(None, {"input": np.zeros((1, 3, 32, 32), np.float32)})
        assert out.shape == (1, 10)
        assert spath.stat().st_size < wpath.stat().st_size / 5
        a = estimate(str(wpath), "xeon-6-vm-2vcpu", runtime="onnxruntime-cpu", threads=1)
        b = estimate(str(spath), "xeon-6-vm-2vcpu", runtime="onnxruntime-cpu", threads=1)
        assert a.latency_ms == b.latency_ms > 0
    model = to_onnx(sample_arch(0, 1), weights=False)
    assert all(not t.raw_data and not t.float_data for t in model.graph.initializer)  # type: ignore[attr-defined]
