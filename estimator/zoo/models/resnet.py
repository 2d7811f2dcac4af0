"""ResNet-18 / ResNet-50 in the torchvision layout (stride on the 3x3 conv, "ResNet v1.5")."""

from __future__ import annotations

import torch
from torch import nn

from estimator.zoo.models.common import ConvBNAct


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_chs: int, chs: int, stride: int = 1) -> None:
        super().__init__()
        out_chs = chs * self.expansion
        self.conv1 = ConvBNAct(in_chs, chs, 3, stride)
        self.conv2 = ConvBNAct(chs, out_chs, 3, act=None)
        self.downsample = _shortcut(in_chs, out_chs, stride)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv2(self.conv1(x)) + self.downsample(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_chs: int, chs: int, stride: int = 1) -> None:
        super().__init__()
        out_chs = chs * self.expansion
        self.conv1 = ConvBNAct(in_chs, chs, 1)
        self.conv2 = ConvBNAct(chs, chs, 3, stride)
        self.conv3 = ConvBNAct(chs, out_chs, 1, act=None)
        self.downsample = _shortcut(in_chs, out_chs, stride)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + self.downsample(x))


def _shortcut(in_chs: int, out_chs: int, stride: int) -> nn.Module:
    if stride == 1 and in_chs == out_chs:
        return nn.Identity()
    return ConvBNAct(in_chs, out_chs, 1, stride, act=None)


class ResNet(nn.Module):
    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        depths: tuple[int, int, int, int],
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            ConvBNAct(3, 64, 7, 2), nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        )
        stages: list[nn.Module] = []
        in_chs = 64
        for i, depth in enumerate(depths):
            chs = 64 * 2**i
            blocks: list[nn.Module] = []
            for j in range(depth):
                blocks.append(block(in_chs, chs, 2 if (j == 0 and i > 0) else 1))
                in_chs = chs * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_chs, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.stages(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


def resnet18() -> nn.Module:
    return ResNet(BasicBlock, (2, 2, 2, 2))


def resnet50() -> nn.Module:
    return ResNet(Bottleneck, (3, 4, 6, 3))
