"""Layers the corpus families share, from standard ``torch.nn`` modules only.

Everything here exports through the TorchScript ONNX exporter to plain ONNX ops (Conv,
BatchNormalization, LayerNormalization, MatMul/Gemm, Softmax, Concat, Split/Slice, Reshape,
Transpose, pooling, activations).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from estimator.zoo.models.common import ActFactory, ConvBNAct, SelfAttention, SqueezeExcite

__all__ = [
    "ACTIVATIONS",
    "ConvBNAct",
    "LayerNorm2d",
    "SelfAttention",
    "SqueezeExcite",
    "act",
    "divisible",
]

#: Activation names the hyper-parameter dictionaries use.
ACTIVATIONS: dict[str, ActFactory] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "silu": nn.SiLU,
    "hardswish": nn.Hardswish,
    "gelu": nn.GELU,
}


def act(name: str) -> ActFactory:
    """Activation factory for a hyper-parameter name (``relu``, ``relu6``, ``silu``, ...)."""
    return ACTIVATIONS[name]


def divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to a positive multiple of ``divisor`` (channel counts)."""
    return max(divisor, round(value / divisor) * divisor)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel axis of an NCHW tensor (permute, normalize, permute back)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ClassifierHead(nn.Module):
    """Global average pool, flatten, optional dropout-free hidden layer, Linear."""

    def __init__(self, chs: int, classes: int, hidden: int = 0, act_name: str = "relu") -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        layers: list[nn.Module] = []
        if hidden:
            layers += [nn.Linear(chs, hidden), act(act_name)()]
            chs = hidden
        layers.append(nn.Linear(chs, classes))
        self.fc = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(x), 1))
