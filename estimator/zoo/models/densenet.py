"""DenseNet-121 in the torchvision layout (BN-ReLU-Conv pre-activation layers)."""

from __future__ import annotations

import torch
from torch import nn


def _bn_relu_conv(in_chs: int, out_chs: int, kernel: int) -> list[nn.Module]:
    return [
        nn.BatchNorm2d(in_chs),
        nn.ReLU(),
        nn.Conv2d(in_chs, out_chs, kernel, padding=kernel // 2, bias=False),
    ]


class DenseLayer(nn.Module):
    def __init__(self, in_chs: int, growth: int, bn_size: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_bn_relu_conv(in_chs, bn_size * growth, 1), *_bn_relu_conv(bn_size * growth, growth, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], 1)


class DenseNet(nn.Module):
    def __init__(
        self,
        growth: int = 32,
        blocks: tuple[int, ...] = (6, 12, 24, 16),
        init_features: int = 64,
        bn_size: int = 4,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, init_features, 7, 2, 3, bias=False),
            nn.BatchNorm2d(init_features),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, 1),
        ]
        chs = init_features
        for i, n in enumerate(blocks):
            for _ in range(n):
                layers.append(DenseLayer(chs, growth, bn_size))
                chs += growth
            if i != len(blocks) - 1:
                layers += [*_bn_relu_conv(chs, chs // 2, 1), nn.AvgPool2d(2, 2)]
                chs //= 2
        layers += [nn.BatchNorm2d(chs), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(chs, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def densenet121() -> nn.Module:
    return DenseNet()
