"""measure() on eager torch with a tiny nn.Module (real torch, CPU)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from estimator.errors import InputError
from estimator.measure import measure


class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(32, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x))


def test_torch_module_measure_and_profile() -> None:
    torch.manual_seed(0)
    threads_before = torch.get_num_threads()
    m = measure(
        _Tiny(),
        runtime="torch",
        example_inputs=torch.randn(1, 32),
        batch=4,
        threads=1,
        warmup=2,
        repeats=20,
        profile=True,
    )
    assert m.runtime == "torch" and m.runtime_version == torch.__version__
    assert m.batch == 4 and m.threads == 1 and m.dtype == "float32"
    assert m.repeats == 20 and m.summary is not None
    assert math.isfinite(m.summary.p50_ms) and m.summary.p50_ms > 0
    ops = m.node_times()
    assert "aten::relu" in ops and any(k in ops for k in ("aten::addmm", "aten::linear"))
    assert torch.get_num_threads() == threads_before  # global setting restored


def test_same_weights_same_hash() -> None:
    torch.manual_seed(1)
    a = _Tiny()
    b = _Tiny()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 32)
    ha = measure(a, runtime="torch", example_inputs=x, warmup=0, repeats=2).model_hash
    hb = measure(b, runtime="torch", example_inputs=x, warmup=0, repeats=2).model_hash
    assert ha == hb
    with torch.no_grad():
        b.fc.bias.add_(1.0)
    assert measure(b, runtime="torch", example_inputs=x, warmup=0, repeats=2).model_hash != ha


def test_torch_refuses_onnx_and_missing_inputs(tmp_path: Path) -> None:
    p = tmp_path / "m.onnx"
    p.write_bytes(b"x")
    with pytest.raises(InputError, match="torch runtime needs a zoo model name"):
        measure(p, runtime="torch")
    with pytest.raises(InputError, match="example_inputs"):
        measure(_Tiny(), runtime="torch")
    with pytest.raises(InputError, match="cannot bind --batch 4"):
        measure(_Tiny(), runtime="torch", example_inputs=torch.randn(3, 32), batch=4)
