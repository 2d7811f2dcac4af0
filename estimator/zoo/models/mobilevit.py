"""MobileViT-XXS (timm ``mobilevit_xxs``, 256x256): MobileNetV2 blocks plus MobileViT blocks.

A MobileViT block runs a local 3x3 conv, projects to the transformer width, unfolds the map into
2x2 patches (each of the 4 pixel positions becomes its own token sequence), runs transformer
blocks, folds back, projects, and fuses with the block input through a 3x3 conv.
"""

from __future__ import annotations

import torch
from torch import nn

from estimator.zoo.models.common import ConvBNAct, TransformerBlock


class InvertedResidual(nn.Module):
    """timm byobnet ``bottle`` block with ``bottle_in``/``linear_out`` and no conv shortcut."""

    def __init__(self, in_chs: int, out_chs: int, stride: int, expand: float) -> None:
        super().__init__()
        mid = int(in_chs * expand)
        self.layers = nn.Sequential(
            ConvBNAct(in_chs, mid, 1, act=nn.SiLU),
            ConvBNAct(mid, mid, 3, stride, groups=mid, act=nn.SiLU),
            ConvBNAct(mid, out_chs, 1, act=None),
        )
        self.use_res = in_chs == out_chs and stride == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x) if self.use_res else self.layers(x)


class MobileViTBlock(nn.Module):
    def __init__(self, chs: int, dim: int, depth: int, patch: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.patch = patch
        self.conv_kxk = ConvBNAct(chs, chs, 3, act=nn.SiLU)
        self.conv_1x1 = nn.Conv2d(chs, dim, 1, bias=False)
        self.transformer = nn.Sequential(
            *[TransformerBlock(dim, heads, 2.0, act=nn.SiLU, eps=1e-5) for _ in range(depth)]
        )
        self.norm = nn.LayerNorm(dim)
        self.conv_proj = ConvBNAct(dim, chs, 1, act=nn.SiLU)
        self.conv_fusion = ConvBNAct(2 * chs, chs, 3, act=nn.SiLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        p = self.patch
        # [B, C, nh*p, nw*p] -> [B, p, p, nh, nw, C] -> [B*p*p, nh*nw, C]: one token sequence per
        # pixel position inside a patch (timm's unfold). Only unflatten/flatten/reshape_as are
        # used so that torch.fx symbolic tracing needs no concrete sizes.
        y = self.conv_1x1(self.conv_kxk(x)).unflatten(3, (-1, p)).unflatten(2, (-1, p))
        grid = y.permute(0, 3, 5, 2, 4, 1)
        seq = self.norm(self.transformer(grid.flatten(3, 4).flatten(0, 2)))
        y = seq.reshape_as(grid).permute(0, 5, 3, 1, 4, 2).flatten(4, 5).flatten(2, 3)
        return self.conv_fusion(torch.cat([shortcut, self.conv_proj(y)], 1))


class MobileViT(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        # (out channels, repeats, stride, transformer width or 0, transformer depth): XXS config.
        stages = (
            (16, 1, 1, 0, 0),
            (24, 3, 2, 0, 0),
            (48, 1, 2, 64, 2),
            (64, 1, 2, 80, 4),
            (80, 1, 2, 96, 3),
        )
        layers: list[nn.Module] = [ConvBNAct(3, 16, 3, 2, act=nn.SiLU)]
        in_chs = 16
        for out_chs, repeats, stride, dim, depth in stages:
            for i in range(repeats):
                layers.append(InvertedResidual(in_chs, out_chs, stride if i == 0 else 1, 2.0))
                in_chs = out_chs
            if dim:
                layers.append(MobileViTBlock(out_chs, dim, depth))
        layers.append(ConvBNAct(in_chs, 320, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(320, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


def mobilevit_xxs() -> nn.Module:
    return MobileViT()
