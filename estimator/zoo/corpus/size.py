"""Size of a drawn network, from one forward pass on the meta device, and the budget it must meet.

The counts are exact for what they cover: convolution and linear MACs from the layer shapes,
attention matmul MACs from the token count, parameters from the module. ``rough_ms`` turns them
into a deliberately simple single-thread CPU time (fixed rates written here, not read from the
hardware registry, so a corpus never changes when a calibration does). It only decides which
draws are kept; the estimator proper checks the result (tests/zoo/test_corpus.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from estimator.zoo.models.common import SelfAttention

#: Rates of the rough single-thread time (a 2-core server VM running onnxruntime fp32).
DENSE_MACS_PER_S = 55e9
#: Depthwise and narrow grouped convolutions (< 8 input channels per group) run far slower.
NARROW_MACS_PER_S = 25e9
ATTENTION_MACS_PER_S = 22e9
#: Weights up to CACHED_WEIGHT_BYTES stay in cache between warm runs; the rest stream from DRAM
#: (a 270 MB fully connected stack ran at 6.9 GB/s at one thread on the development VM).
WEIGHT_BYTES_PER_S = 22e9
CACHED_WEIGHT_BYTES = 32e6
DRAM_WEIGHT_BYTES_PER_S = 6e9
#: Every leaf module's output is written once and read about once.
ACTIVATION_BYTES_PER_S = 40e9
#: Per-op fixed cost (dispatch, small kernels), per leaf module.
OP_OVERHEAD_S = 3.5e-6
#: Input channels per group below which a convolution counts as narrow.
NARROW_GROUP_WIDTH = 8

#: Leaf modules whose output has their input's shape: on the meta device their forward is skipped
#: while counting (meta batch norm runs a slow Python decomposition).
_SHAPE_PRESERVING = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.LayerNorm,
    nn.ReLU,
    nn.ReLU6,
    nn.SiLU,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Sigmoid,
    nn.GELU,
    nn.Identity,
)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


@dataclass(frozen=True)
class Size:
    macs: int
    dense_macs: int
    narrow_macs: int
    attention_macs: int
    params: int
    weight_bytes: int
    activation_bytes: int
    ops: int
    rough_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Budget:
    """What a kept draw must satisfy."""

    min_macs: float
    max_macs: float
    min_ms: float
    max_ms: float
    max_weight_bytes: float

    def admits(self, s: Size) -> bool:
        return (
            self.min_macs <= s.macs <= self.max_macs
            and self.min_ms <= s.rough_ms <= self.max_ms
            and s.weight_bytes <= self.max_weight_bytes
        )


#: Full-size corpus members: about 0.5-40 ms at one thread.
NORMAL = Budget(20e6, 3e9, 0.5, 40.0, 450e6)
#: Tiny members for tests: a few MMACs, under a few MB of weights.
TINY = Budget(0.0, 25e6, 0.0, 5.0, 8e6)


def measure_size(module: nn.Module, input_shape: tuple[int, ...]) -> Size:
    """Count ``module`` (best built on the meta device) on one input of ``input_shape``."""
    counts = {"dense": 0, "narrow": 0, "attn": 0, "act": 0, "ops": 0}

    def leaf_hook(mod: nn.Module, inputs: tuple[Any, ...], out: Any) -> None:
        counts["ops"] += 1
        if isinstance(out, torch.Tensor):
            counts["act"] += out.numel() * out.element_size()
        if isinstance(mod, nn.Conv2d):
            per_group = mod.in_channels // mod.groups
            macs = out.numel() * per_group * mod.kernel_size[0] * mod.kernel_size[1]
            counts["narrow" if per_group < NARROW_GROUP_WIDTH else "dense"] += macs
        elif isinstance(mod, nn.Linear):
            counts["dense"] += out.numel() * mod.in_features

    def attn_hook(mod: nn.Module, inputs: tuple[Any, ...], out: Any) -> None:
        b, n, d = inputs[0].shape
        counts["attn"] += 2 * b * n * n * d  # q @ k^T and attn @ v
        counts["act"] += 2 * b * mod.num_heads * n * n * 4  # scores and probabilities
        counts["ops"] += 4

    handles = []
    shortcut: list[nn.Module] = []
    for mod in module.modules():
        if isinstance(mod, SelfAttention):
            handles.append(mod.register_forward_hook(attn_hook))
        elif not any(True for _ in mod.children()):
            handles.append(mod.register_forward_hook(leaf_hook))
            if isinstance(mod, _SHAPE_PRESERVING) and "forward" not in mod.__dict__:
                setattr(mod, "forward", _identity)  # noqa: B010 (instance attribute, removed below)
                shortcut.append(mod)
    try:
        device = next((p.device for p in module.parameters()), torch.device("meta"))
        with torch.no_grad():
            module(torch.empty(input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
        for mod in shortcut:
            del mod.forward
    params = sum(p.numel() for p in module.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in module.parameters()) + sum(
        b.numel() * b.element_size() for b in module.buffers()
    )
    rough_s = (
        counts["dense"] / DENSE_MACS_PER_S
        + counts["narrow"] / NARROW_MACS_PER_S
        + counts["attn"] / ATTENTION_MACS_PER_S
        + min(weight_bytes, CACHED_WEIGHT_BYTES) / WEIGHT_BYTES_PER_S
        + max(0.0, weight_bytes - CACHED_WEIGHT_BYTES) / DRAM_WEIGHT_BYTES_PER_S
        + counts["act"] / ACTIVATION_BYTES_PER_S
        + counts["ops"] * OP_OVERHEAD_S
    )
    return Size(
        macs=counts["dense"] + counts["narrow"] + counts["attn"],
        dense_macs=counts["dense"],
        narrow_macs=counts["narrow"],
        attention_macs=counts["attn"],
        params=params,
        weight_bytes=weight_bytes,
        activation_bytes=counts["act"],
        ops=counts["ops"],
        rough_ms=round(rough_s * 1e3, 4),
    )
