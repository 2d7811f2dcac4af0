"""Building blocks shared by several families (conv-BN-act, squeeze-excite, ViT blocks)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

ActFactory = Callable[[], nn.Module]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count the way MobileNet/EfficientNet papers do (never below 90%)."""
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


class ConvBNAct(nn.Sequential):
    """Conv (no bias) + BatchNorm + optional activation, 'same' padding for odd kernels."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        act: ActFactory | None = nn.ReLU,
        padding: int | None = None,
        eps: float = 1e-5,
    ) -> None:
        pad = (kernel_size - 1) // 2 if padding is None else padding
        layers: list[nn.Module] = [
            nn.Conv2d(in_chs, out_chs, kernel_size, stride, pad, groups=groups, bias=False),
            nn.BatchNorm2d(out_chs, eps=eps),
        ]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """torchvision-style SE: avg-pool, 1x1 conv (bias), act, 1x1 conv (bias), gate."""

    def __init__(
        self,
        channels: int,
        squeeze: int,
        act: ActFactory = nn.ReLU,
        gate: ActFactory = nn.Sigmoid,
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.act = act()
        self.gate = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.gate(self.fc2(self.act(self.fc1(self.avgpool(x)))))
        return x * scale


class SelfAttention(nn.Module):
    """timm ``Attention``: fused qkv projection and explicit matmuls.

    Written with ``@`` instead of ``scaled_dot_product_attention`` so the attention matmuls show
    up as plain MatMul nodes in traced graphs and are counted by the cost model.
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Shapes via unflatten/flatten only, so torch.fx symbolic tracing needs no concrete sizes.
        qkv = self.qkv(x).unflatten(-1, (3, self.num_heads, self.head_dim)).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).flatten(2))


class Mlp(nn.Module):
    """Two linear layers with an activation between them (timm ``Mlp``)."""

    def __init__(self, dim: int, hidden: int, act: ActFactory = nn.GELU) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = act()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TransformerBlock(nn.Module):
    """Pre-norm ViT block (timm ``Block``): x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        act: ActFactory = nn.GELU,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = SelfAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))
