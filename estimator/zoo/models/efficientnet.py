"""EfficientNet-B0 in the torchvision layout (MBConv with SE on the block input width)."""

from __future__ import annotations

import torch
from torch import nn

from estimator.zoo.models.common import ConvBNAct, SqueezeExcite


class MBConv(nn.Module):
    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = in_chs * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNAct(in_chs, hidden, 1, act=nn.SiLU, eps=1e-3))
        layers += [
            ConvBNAct(hidden, hidden, kernel, stride, groups=hidden, act=nn.SiLU, eps=1e-3),
            # torchvision squeezes to a quarter of the *block input* width, not the expanded one.
            SqueezeExcite(hidden, max(1, in_chs // 4), nn.SiLU, nn.Sigmoid),
            ConvBNAct(hidden, out_chs, 1, act=None, eps=1e-3),
        ]
        self.block = nn.Sequential(*layers)
        self.use_res = stride == 1 and in_chs == out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.use_res else self.block(x)


class EfficientNet(nn.Module):
    # (expand, kernel, stride, in, out, repeats): EfficientNet paper Table 1, width/depth 1.0.
    B0 = (
        (1, 3, 1, 32, 16, 1),
        (6, 3, 2, 16, 24, 2),
        (6, 5, 2, 24, 40, 2),
        (6, 3, 2, 40, 80, 3),
        (6, 5, 1, 80, 112, 3),
        (6, 5, 2, 112, 192, 4),
        (6, 3, 1, 192, 320, 1),
    )

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNAct(3, 32, 3, 2, act=nn.SiLU, eps=1e-3)]
        for expand, kernel, stride, in_chs, out_chs, repeats in self.B0:
            stage = [
                MBConv(
                    in_chs if i == 0 else out_chs, out_chs, kernel, stride if i == 0 else 1, expand
                )
                for i in range(repeats)
            ]
            layers.append(nn.Sequential(*stage))
        layers.append(ConvBNAct(320, 1280, 1, act=nn.SiLU, eps=1e-3))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def efficientnet_b0() -> nn.Module:
    return EfficientNet()
