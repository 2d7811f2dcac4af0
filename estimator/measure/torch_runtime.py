"""Eager PyTorch (CPU) as a measured runtime: a module and its example input, in inference mode.

torch's thread count is process-global, so the runner sets it for the duration of a measurement
and puts the old value back (:meth:`TorchRunner.close`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from estimator.errors import InputError, ModelLoadError
from estimator.measure.profile import KernelTime, aggregate_torch_events


def import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise InputError("runtime 'torch' is not installed: pip install torch") from exc
    return torch


def zoo_model(name: str, batch: int | None) -> tuple[Any, Any]:
    """(module, example input) of a zoo model; ONNX files are refused with a one-line reason."""
    if name.endswith(".onnx") or Path(name).is_file():
        raise InputError(f"{name}: torch runtime needs a zoo model name, not a file")
    try:
        from estimator import zoo
    except ImportError as exc:
        raise InputError(f"{name}: the model zoo is not available ({exc})") from exc
    try:
        known = list(zoo.names())
    except Exception:  # the zoo is optional here; fall through to get()
        known = []
    if known and name not in known:
        raise InputError(f"{name}: unknown zoo model; known: {', '.join(sorted(known))}")
    try:
        module, example = zoo.get(name, batch or 1)
    except InputError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{name}: cannot build zoo model: {exc}") from exc
    return module, example


def module_hash(module: Any, label: str) -> str:
    """sha256 over the module's structure and parameter bytes: same weights, same hash."""
    h = hashlib.sha256(label.encode())
    h.update(repr(module).encode())
    for key, tensor in module.state_dict().items():
        h.update(key.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class TorchRunner:
    """A module in eval mode with a fixed example input; ``run()`` is what the loop times."""

    runtime = "torch"

    def __init__(self, module: Any, example: Any, *, threads: int | None, batch: int | None):
        torch = import_torch()
        self._torch = torch
        if not isinstance(module, torch.nn.Module):
            raise InputError(f"runtime torch needs an nn.Module, got {type(module).__name__}")
        self.module = module.eval()
        self.example = self._batched(example, batch)
        self._old_threads = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        self.threads = torch.get_num_threads()
        first = self.example[0] if self.example else None
        self.batch = int(first.shape[0]) if first is not None and first.ndim else (batch or 1)
        self.dtype = str(first.dtype).removeprefix("torch.") if first is not None else "float32"
        self.version = str(torch.__version__)

    def _batched(self, example: Any, batch: int | None) -> tuple[Any, ...]:
        torch = self._torch
        args = tuple(example) if isinstance(example, tuple | list) else (example,)
        if not all(isinstance(a, torch.Tensor) for a in args):
            raise InputError("runtime torch needs example inputs as tensors")
        if batch is None:
            return args
        out = []
        for a in args:
            if a.ndim and a.shape[0] == batch:
                out.append(a)
            elif a.ndim and a.shape[0] == 1:
                out.append(a.expand(batch, *a.shape[1:]).contiguous())
            else:
                raise InputError(
                    f"example input has batch {a.shape[0]}; cannot bind --batch {batch}"
                )
        return tuple(out)

    def run(self) -> object:
        with self._torch.inference_mode():
            return self.module(*self.example)

    def profile(self, *, warmup: int, runs: int) -> list[KernelTime]:
        from torch.profiler import ProfilerActivity, profile

        for _ in range(warmup):
            self.run()
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for _ in range(runs):
                self.run()
        return aggregate_torch_events(prof.key_averages(), runs)

    def close(self) -> None:
        self._torch.set_num_threads(self._old_threads)
