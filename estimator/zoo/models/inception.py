"""Inception-v3 in the torchvision layout, inference graph only (no AuxLogits branch).

torchvision builds the auxiliary classifier (3,326,696 parameters) but runs it only in training
mode, so the counted inference model omits it: 27,161,264 - 3,326,696 = 23,834,568 parameters.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class BasicConv2d(nn.Sequential):
    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__(
            nn.Conv2d(in_chs, out_chs, kernel, stride, padding, bias=False),
            nn.BatchNorm2d(out_chs, eps=0.001),
            nn.ReLU(),
        )


def _avg3(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)


class InceptionA(nn.Module):
    def __init__(self, in_chs: int, pool_features: int) -> None:
        super().__init__()
        self.b1 = BasicConv2d(in_chs, 64, 1)
        self.b5 = nn.Sequential(BasicConv2d(in_chs, 48, 1), BasicConv2d(48, 64, 5, padding=2))
        self.b3 = nn.Sequential(
            BasicConv2d(in_chs, 64, 1),
            BasicConv2d(64, 96, 3, padding=1),
            BasicConv2d(96, 96, 3, padding=1),
        )
        self.pool = BasicConv2d(in_chs, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b5(x), self.b3(x), self.pool(_avg3(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, in_chs: int) -> None:
        super().__init__()
        self.b3 = BasicConv2d(in_chs, 384, 3, stride=2)
        self.b3dbl = nn.Sequential(
            BasicConv2d(in_chs, 64, 1),
            BasicConv2d(64, 96, 3, padding=1),
            BasicConv2d(96, 96, 3, stride=2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b3(x), self.b3dbl(x), F.max_pool2d(x, 3, 2)], 1)


class InceptionC(nn.Module):
    def __init__(self, in_chs: int, c7: int) -> None:
        super().__init__()
        self.b1 = BasicConv2d(in_chs, 192, 1)
        self.b7 = nn.Sequential(
            BasicConv2d(in_chs, c7, 1),
            BasicConv2d(c7, c7, (1, 7), padding=(0, 3)),
            BasicConv2d(c7, 192, (7, 1), padding=(3, 0)),
        )
        self.b7dbl = nn.Sequential(
            BasicConv2d(in_chs, c7, 1),
            BasicConv2d(c7, c7, (7, 1), padding=(3, 0)),
            BasicConv2d(c7, c7, (1, 7), padding=(0, 3)),
            BasicConv2d(c7, c7, (7, 1), padding=(3, 0)),
            BasicConv2d(c7, 192, (1, 7), padding=(0, 3)),
        )
        self.pool = BasicConv2d(in_chs, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b7(x), self.b7dbl(x), self.pool(_avg3(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, in_chs: int) -> None:
        super().__init__()
        self.b3 = nn.Sequential(BasicConv2d(in_chs, 192, 1), BasicConv2d(192, 320, 3, stride=2))
        self.b7x3 = nn.Sequential(
            BasicConv2d(in_chs, 192, 1),
            BasicConv2d(192, 192, (1, 7), padding=(0, 3)),
            BasicConv2d(192, 192, (7, 1), padding=(3, 0)),
            BasicConv2d(192, 192, 3, stride=2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b3(x), self.b7x3(x), F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    def __init__(self, in_chs: int) -> None:
        super().__init__()
        self.b1 = BasicConv2d(in_chs, 320, 1)
        self.b3_1 = BasicConv2d(in_chs, 384, 1)
        self.b3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.b3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.dbl_1 = nn.Sequential(BasicConv2d(in_chs, 448, 1), BasicConv2d(448, 384, 3, padding=1))
        self.dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.pool = BasicConv2d(in_chs, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.b3_1(x)
        dbl = self.dbl_1(x)
        return torch.cat(
            [
                self.b1(x),
                self.b3_2a(b3),
                self.b3_2b(b3),
                self.dbl_3a(dbl),
                self.dbl_3b(dbl),
                self.pool(_avg3(x)),
            ],
            1,
        )


class InceptionV3(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            BasicConv2d(3, 32, 3, stride=2),
            BasicConv2d(32, 32, 3),
            BasicConv2d(32, 64, 3, padding=1),
            nn.MaxPool2d(3, 2),
            BasicConv2d(64, 80, 1),
            BasicConv2d(80, 192, 3),
            nn.MaxPool2d(3, 2),
            InceptionA(192, 32),
            InceptionA(256, 64),
            InceptionA(288, 64),
            InceptionB(288),
            InceptionC(768, 128),
            InceptionC(768, 160),
            InceptionC(768, 160),
            InceptionC(768, 192),
            InceptionD(768),
            InceptionE(1280),
            InceptionE(2048),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.fc(self.dropout(x))


def inception_v3() -> nn.Module:
    return InceptionV3()
