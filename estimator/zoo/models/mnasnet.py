"""MNASNet 1.0 in the torchvision layout."""

from __future__ import annotations

import torch
from torch import nn

from estimator.zoo.models.common import ConvBNAct


class InvertedResidual(nn.Module):
    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_chs * expand
        self.layers = nn.Sequential(
            ConvBNAct(in_chs, mid, 1),
            ConvBNAct(mid, mid, kernel, stride, groups=mid),
            ConvBNAct(mid, out_chs, 1, act=None),
        )
        self.use_res = in_chs == out_chs and stride == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x) if self.use_res else self.layers(x)


def _stack(
    in_chs: int, out_chs: int, kernel: int, stride: int, expand: int, repeats: int
) -> nn.Sequential:
    blocks = [InvertedResidual(in_chs, out_chs, kernel, stride, expand)]
    blocks += [InvertedResidual(out_chs, out_chs, kernel, 1, expand) for _ in range(repeats - 1)]
    return nn.Sequential(*blocks)


class MNASNet(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        d = (32, 16, 24, 40, 80, 96, 192, 320)  # torchvision ``_get_depths(1.0)``
        self.layers = nn.Sequential(
            ConvBNAct(3, d[0], 3, 2),
            ConvBNAct(d[0], d[0], 3, 1, groups=d[0]),
            ConvBNAct(d[0], d[1], 1, act=None),
            _stack(d[1], d[2], 3, 2, 3, 3),
            _stack(d[2], d[3], 5, 2, 3, 3),
            _stack(d[3], d[4], 5, 2, 6, 3),
            _stack(d[4], d[5], 3, 1, 6, 2),
            _stack(d[5], d[6], 5, 2, 6, 4),
            _stack(d[6], d[7], 3, 1, 6, 1),
            ConvBNAct(d[7], 1280, 1),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.layers(x).mean([2, 3]))


def mnasnet1_0() -> nn.Module:
    return MNASNet()
