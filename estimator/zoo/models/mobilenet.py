"""MobileNetV2 and MobileNetV3 (Large/Small) in the torchvision layout."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from estimator.zoo.models.common import ActFactory, ConvBNAct, SqueezeExcite, make_divisible


class InvertedResidualV2(nn.Module):
    def __init__(self, in_chs: int, out_chs: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = in_chs * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNAct(in_chs, hidden, 1, act=nn.ReLU6))
        layers += [
            ConvBNAct(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
            ConvBNAct(hidden, out_chs, 1, act=None),
        ]
        self.conv = nn.Sequential(*layers)
        self.use_res = stride == 1 and in_chs == out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    # (expand t, out channels c, repeats n, first stride s) from the MobileNetV2 paper, Table 2.
    SETTINGS = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNAct(3, 32, 3, 2, act=nn.ReLU6)]
        in_chs = 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidualV2(in_chs, c, s if i == 0 else 1, t))
                in_chs = c
        layers.append(ConvBNAct(in_chs, 1280, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class BneckV3(NamedTuple):
    in_chs: int
    kernel: int
    expanded: int
    out_chs: int
    use_se: bool
    hardswish: bool
    stride: int


class InvertedResidualV3(nn.Module):
    def __init__(self, cfg: BneckV3) -> None:
        super().__init__()
        act: ActFactory = nn.Hardswish if cfg.hardswish else nn.ReLU
        layers: list[nn.Module] = []
        if cfg.expanded != cfg.in_chs:
            layers.append(ConvBNAct(cfg.in_chs, cfg.expanded, 1, act=act, eps=1e-3))
        layers.append(
            ConvBNAct(
                cfg.expanded, cfg.expanded, cfg.kernel, cfg.stride, cfg.expanded, act, eps=1e-3
            )
        )
        if cfg.use_se:
            squeeze = make_divisible(cfg.expanded // 4, 8)
            layers.append(SqueezeExcite(cfg.expanded, squeeze, nn.ReLU, nn.Hardsigmoid))
        layers.append(ConvBNAct(cfg.expanded, cfg.out_chs, 1, act=None, eps=1e-3))
        self.block = nn.Sequential(*layers)
        self.use_res = cfg.stride == 1 and cfg.in_chs == cfg.out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.use_res else self.block(x)


# Rows of the MobileNetV3 paper, Tables 1 and 2 (torchvision's ``_mobilenet_v3_conf``).
_B = BneckV3
V3_LARGE = (
    _B(16, 3, 16, 16, False, False, 1),
    _B(16, 3, 64, 24, False, False, 2),
    _B(24, 3, 72, 24, False, False, 1),
    _B(24, 5, 72, 40, True, False, 2),
    _B(40, 5, 120, 40, True, False, 1),
    _B(40, 5, 120, 40, True, False, 1),
    _B(40, 3, 240, 80, False, True, 2),
    _B(80, 3, 200, 80, False, True, 1),
    _B(80, 3, 184, 80, False, True, 1),
    _B(80, 3, 184, 80, False, True, 1),
    _B(80, 3, 480, 112, True, True, 1),
    _B(112, 3, 672, 112, True, True, 1),
    _B(112, 5, 672, 160, True, True, 2),
    _B(160, 5, 960, 160, True, True, 1),
    _B(160, 5, 960, 160, True, True, 1),
)
V3_SMALL = (
    _B(16, 3, 16, 16, True, False, 2),
    _B(16, 3, 72, 24, False, False, 2),
    _B(24, 3, 88, 24, False, False, 1),
    _B(24, 5, 96, 40, True, True, 2),
    _B(40, 5, 240, 40, True, True, 1),
    _B(40, 5, 240, 40, True, True, 1),
    _B(40, 5, 120, 48, True, True, 1),
    _B(48, 5, 144, 48, True, True, 1),
    _B(48, 5, 288, 96, True, True, 2),
    _B(96, 5, 576, 96, True, True, 1),
    _B(96, 5, 576, 96, True, True, 1),
)


class MobileNetV3(nn.Module):
    def __init__(
        self, settings: tuple[BneckV3, ...], last_channel: int, num_classes: int = 1000
    ) -> None:
        super().__init__()
        # torchvision builds MobileNetV3 with BatchNorm eps=1e-3.
        first = ConvBNAct(3, settings[0].in_chs, 3, 2, act=nn.Hardswish, eps=1e-3)
        layers: list[nn.Module] = [first, *(InvertedResidualV3(cfg) for cfg in settings)]
        last_conv = 6 * settings[-1].out_chs
        layers.append(ConvBNAct(settings[-1].out_chs, last_conv, 1, act=nn.Hardswish, eps=1e-3))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(last_conv, last_channel),
            nn.Hardswish(),
            nn.Dropout(0.2),
            nn.Linear(last_channel, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def mobilenet_v2() -> nn.Module:
    return MobileNetV2()


def mobilenet_v3_large() -> nn.Module:
    return MobileNetV3(V3_LARGE, 1280)


def mobilenet_v3_small() -> nn.Module:
    return MobileNetV3(V3_SMALL, 1024)
