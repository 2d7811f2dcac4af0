"""The block families of the corpus: each draws its hyper-parameters and builds a module from them.

A family is a :class:`Family` with a ``draw(rng, tiny)`` that returns a JSON-ready dictionary of
plain ints, floats, strings and lists (everything the architecture depends on; the dictionary alone
rebuilds the network) and a ``build(hp)`` that constructs the ``nn.Module``. ``tiny=True`` draws a
small member (low resolution, one block per stage, narrow), for fast tests.

Inputs are ``[1, 3, R, R]`` images with ``R = hp["resolution"]``; every network ends in a classifier
with ``hp["classes"]`` outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from estimator.zoo.corpus.blocks import (
    ClassifierHead,
    ConvBNAct,
    LayerNorm2d,
    SqueezeExcite,
    act,
    divisible,
)
from estimator.zoo.models.common import Mlp, TransformerBlock
from estimator.zoo.models.mobilevit import MobileViTBlock

HParams = dict[str, Any]


class Draw:
    """Thin wrapper over ``numpy.random.Generator`` returning plain Python values."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        """Uniform integer in ``[lo, hi]`` (both ends included)."""
        return int(self.rng.integers(lo, hi + 1))

    def pick(self, options: list[Any] | tuple[Any, ...]) -> Any:
        return options[int(self.rng.integers(len(options)))]

    def coin(self, p: float = 0.5) -> bool:
        return bool(self.rng.random() < p)

    def uniform(self, lo: float, hi: float, digits: int = 3) -> float:
        return round(float(self.rng.uniform(lo, hi)), digits)

    def res(self, lo: int, hi: int, step: int) -> int:
        """Resolution: a multiple of ``step`` in ``[lo, hi]``."""
        return step * self.integer(-(-lo // step), hi // step)

    def classes(self) -> int:
        return int(self.pick([10, 100, 1000]))


@dataclass(frozen=True)
class Family:
    name: str
    description: str
    draw: Callable[[np.random.Generator, bool], HParams]
    build: Callable[[HParams], nn.Module]


def _stem(kind: str, width: int, act_name: str = "relu") -> tuple[nn.Module, int]:
    """(stem module, its total stride) for the CNN families' stem options."""
    a = act(act_name)
    if kind == "conv7":
        return nn.Sequential(ConvBNAct(3, width, 7, 2, act=a), nn.MaxPool2d(3, 2, 1)), 4
    if kind == "deep3":
        half = max(8, width // 2)
        return nn.Sequential(
            ConvBNAct(3, half, 3, 2, act=a),
            ConvBNAct(half, half, 3, act=a),
            ConvBNAct(half, width, 3, act=a),
            nn.MaxPool2d(3, 2, 1),
        ), 4
    if kind == "patch4":
        return ConvBNAct(3, width, 4, 4, act=a, padding=0), 4
    if kind == "conv3":
        return ConvBNAct(3, width, 3, 2, act=a), 2
    raise ValueError(f"unknown stem {kind!r}")


# -- (1) bottleneck ResNet ----------------------------------------------------------------------
class Bottleneck(nn.Module):
    """1x1 reduce, kxk (optionally grouped), 1x1 expand, projection shortcut when shapes change."""

    def __init__(
        self, cin: int, mid: int, cout: int, stride: int, groups: int, act_name: str
    ) -> None:
        super().__init__()
        a = act(act_name)
        self.body = nn.Sequential(
            ConvBNAct(cin, mid, 1, act=a),
            ConvBNAct(mid, mid, 3, stride, groups=groups, act=a),
            ConvBNAct(mid, cout, 1, act=None),
        )
        self.short = (
            ConvBNAct(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None
        )
        self.act = a()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x if self.short is None else self.short(x)
        return self.act(self.body(x) + s)


def draw_bottleneck(rng: np.random.Generator, tiny: bool) -> HParams:
    d = Draw(rng)
    n = 2 if tiny else d.integer(2, 4)
    base = d.pick([8, 16] if tiny else [16, 24, 32, 48, 64])
    return {
        "resolution": d.res(32, 64, 16) if tiny else d.res(96, 224, 16),
        "stem": d.pick(["conv7", "deep3", "patch4"]),
        "stem_width": d.pick([16, 24] if tiny else [24, 32, 48, 64]),
        "mids": [base * 2**i for i in range(n)],
        "depths": [1] * n if tiny else [d.integer(1, 4) for _ in range(n)],
        "expansion": d.pick([2, 4]),
        "act": d.pick(["relu", "relu", "silu"]),
        "classes": d.classes(),
    }


class StageNet(nn.Module):
    """stem -> stages -> head; the shape the residual CNN families share."""

    def __init__(self, stem: nn.Module, stages: Sequence[nn.Module], head: nn.Module) -> None:
        super().__init__()
        self.stem = stem
        self.stages = nn.Sequential(*stages)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def build_bottleneck(hp: HParams) -> nn.Module:
    stem, _ = _stem(hp["stem"], hp["stem_width"], hp["act"])
    cin = hp["stem_width"]
    blocks: list[nn.Module] = []
    for i, (mid, depth) in enumerate(zip(hp["mids"], hp["depths"], strict=True)):
        cout = mid * hp["expansion"]
        for j in range(depth):
            stride = 2 if i > 0 and j == 0 else 1
            blocks.append(Bottleneck(cin, mid, cout, stride, 1, hp["act"]))
            cin = cout
    return StageNet(stem, blocks, ClassifierHead(cin, hp["classes"]))


# -- (2) grouped bottleneck ResNeXt / RegNetX ---------------------------------------------------
def draw_grouped(rng: np.random.Generator, tiny: bool) -> HParams:
    d = Draw(rng)
    n = 2 if tiny else d.integer(2, 4)
    gw = d.pick([8, 16] if tiny else [8, 16, 24, 32, 48, 64])
    groups = [d.integer(2, 4) if tiny else d.integer(2, 8)]
    for _ in range(n - 1):
        groups.append(min(64, max(groups[-1] + 1, int(groups[-1] * d.uniform(1.3, 2.5)))))
    return {
        "resolution": d.res(32, 64, 16) if tiny else d.res(96, 224, 16),
        "stem": d.pick(["conv3", "conv7"]),
        "stem_width": d.pick([16, 32] if tiny else [24, 32, 48, 64]),
        "group_width": gw,
        "groups": groups,
        "depths": [1] * n if tiny else [d.integer(1, 4) for _ in range(n)],
        # RegNetX: bottleneck ratio 1 (out = mid); ResNeXt: out = 2 * mid
        "out_ratio": d.pick([1, 1, 2]),
        "act": "relu",
        "classes": d.classes(),
    }


def build_grouped(hp: HParams) -> nn.Module:
    stem, _ = _stem(hp["stem"], hp["stem_width"], hp["act"])
    cin = hp["stem_width"]
    blocks: list[nn.Module] = []
    for g, depth in zip(hp["groups"], hp["depths"], strict=True):
        mid = g * hp["group_width"]
        cout = mid * hp["out_ratio"]
        for j in range(depth):
            blocks.append(Bottleneck(cin, mid, cout, 2 if j == 0 else 1, g, hp["act"]))
            cin = cout
    return StageNet(stem, blocks, ClassifierHead(cin, hp["classes"]))


# -- (3) inverted residual MobileNetV2/V3 / EfficientNet ----------------------------------------
class InvertedResidual(nn.Module):
    """Expand 1x1, depthwise kxk (or a MixConv), optional SE, project 1x1, residual if it fits."""

    def __init__(
        self,
        cin: int,
        cout: int,
        stride: int,
        expansion: float,
        kernels: list[int],
        se: float,
        act_name: str,
        se_gate: str = "sigmoid",
    ) -> None:
        super().__init__()
        a = act(act_name)
        mid = divisible(cin * expansion) if expansion != 1 else cin
        self.expand = ConvBNAct(cin, mid, 1, act=a) if mid != cin else None
        self.dw = (
            ConvBNAct(mid, mid, kernels[0], stride, groups=mid, act=a)
            if len(kernels) == 1
            else MixConv(mid, kernels, stride, act_name)
        )
        gate = nn.Hardsigmoid if se_gate == "hardsigmoid" else nn.Sigmoid
        self.se = SqueezeExcite(mid, divisible(max(8, cin * se)), gate=gate) if se > 0 else None
        self.project = ConvBNAct(mid, cout, 1, act=None)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else self.expand(x)
        y = self.dw(y)
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return x + y if self.residual else y


def _mobile_stages(d: Draw, tiny: bool, kernels: list[int], mix: bool) -> list[HParams]:
    n = 2 if tiny else d.integer(3, 6)
    chans = [d.pick([8, 16]) if tiny else d.pick([16, 24, 32])]
    for _ in range(n - 1):
        chans.append(divisible(chans[-1] * d.uniform(1.2, 2.0)))
    stages = []
    for i, c in enumerate(chans):
        if mix:
            n_groups = d.integer(1, 4)
            ks = sorted(kernels[:n_groups]) if d.coin(0.6) else [d.pick(kernels)] * n_groups
            ks = sorted(set(ks)) or [3]
        else:
            ks = [d.pick(kernels)]
        stages.append(
            {
                "kernels": ks,
                "expansion": 1 if i == 0 and d.coin(0.5) else d.pick([2, 3, 4, 6]),
                "channels": c,
                "depth": 1 if tiny else d.integer(1, 4),
                "stride": 2 if i > 0 and (i % 2 == 1 or d.coin(0.5)) else 1,
            }
        )
    return stages


def draw_inverted(rng: np.random.Generator, tiny: bool) -> HParams:
    d = Draw(rng)
    acts = ["relu", "relu6", "silu", "hardswish"]
    stages = _mobile_stages(d, tiny, [3, 5, 7, 9], mix=False)
    se = d.coin(0.5)
    for st in stages:
        st["se"] = d.pick([0.0, 0.25]) if se else 0.0
        st["act"] = d.pick(acts)
    return {
        "resolution": d.res(32, 64, 16) if tiny else d.res(96, 224, 16),
        "stem_width": d.pick([8, 16] if tiny else [16, 24, 32]),
        "stem_act": d.pick(acts),
        "stages": stages,
        "se_gate": d.pick(["sigmoid", "hardsigmoid"]),
        "head_width": d.pick([64, 128] if tiny else [256, 512, 960, 1280]),
        "head_hidden": d.pick([0, 0, 256] if tiny else [0, 0, 1024, 1280]),
        "head_act": d.pick(acts),
        "classes": d.classes(),
    }


def _build_mobile(hp: HParams) -> nn.Module:
    stem = ConvBNAct(3, hp["stem_width"], 3, 2, act=act(hp["stem_act"]))
    cin = hp["stem_width"]
    blocks: list[nn.Module] = []
    for st in hp["stages"]:
        for j in range(st["depth"]):
            blocks.append(
                InvertedResidual(
                    cin,
                    st["channels"],
                    st["stride"] if j == 0 else 1,
                    st["expansion"],
                    st["kernels"],
                    st["se"],
                    st["act"],
                    hp["se_gate"],
                )
            )
            cin = st["channels"]
    head = nn.Sequential(
        ConvBNAct(cin, hp["head_width"], 1, act=act(hp["head_act"])),
        ClassifierHead(hp["head_width"], hp["classes"], hp["head_hidden"], hp["head_act"]),
    )
    return StageNet(stem, blocks, head)


# -- (4) mixed-kernel depthwise MixNet -----------------------------------------------------------
class MixConv(nn.Module):
    """Split channels into groups, a depthwise conv of its own kernel size per group, concat."""

    def __init__(self, chs: int, kernels: list[int], stride: int, act_name: str) -> None:
        super().__init__()
        n = len(kernels)
        self.splits = [chs // n + (1 if i < chs % n else 0) for i in range(n)]
        self.convs = nn.ModuleList(
            nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=False)
            for c, k in zip(self.splits, kernels, strict=True)
        )
        self.bn = nn.BatchNorm2d(chs)
        self.act = act(act_name)()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.splits, dim=1)
        y = torch.cat([conv(p) for conv, p in zip(self.convs, parts, strict=True)], dim=1)
        return self.act(self.bn(y))


def draw_mixconv(rng: np.random.Generator, tiny: bool) -> HParams:
    d = Draw(rng)
    stages = _mobile_stages(d, tiny, [3, 5, 7, 9], mix=True)
    for st in stages:
        st["se"] = d.pick([0.0, 0.25, 0.5])
        st["act"] = d.pick(["relu", "silu"])
        if len(st["kernels"]) == 1:  # keep it a MixConv: at least two kernel sizes
            st["kernels"] = [3, 5] if st["kernels"][0] != 3 else [3, 7]
    return {
        "resolution": d.res(32, 64, 16) if tiny else d.res(96, 224, 16),
        "stem_width": d.pick([8, 16] if tiny else [16, 24, 32]),
        "stem_act": "relu",
        "stages": stages,
        "se_gate": "sigmoid",
        "head_width": d.pick([64, 128] if tiny else [512, 1024, 1536]),
        "head_hidden": 0,
        "head_act": "relu",
        "classes": d.classes(),
    }


# -- (5) Ghost / concat GhostNet -----------------------------------------------------------------
class GhostModule(nn.Module):
    """Primary 1x1 conv to ceil(out/ratio) maps, cheap depthwise maps from those, concat, slice."""

    def __init__(self, cin: int, cout: int, ratio: int, dw_k: int, relu: bool) -> None:
        super().__init__()
        self.cout = cout
        init = -(-cout // ratio)
        a = nn.ReLU if relu else None
        self.primary = ConvBNAct(cin, init, 1, act=a)
        self.cheap = ConvBNAct(init, init * (ratio - 1), dw_k, groups=init, act=a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.primary(x)
        out = torch.cat([y, self.cheap(y)], dim=1)
        return out[:, : self.cout]


class GhostBottleneck(nn.Module):
    def __init__(
        self, cin: int, mid: int, cout: int, k: int, stride: int, se: bool, ratio: int
    ) -> None:
        super().__init__()
        self.ghost1 = GhostModule(cin, mid, ratio, 3, relu=True)
        self.dw = ConvBNAct(mid, mid, k, stride, groups=mid, act=None) if stride > 1 else None
        self.se = SqueezeExcite(mid, divisible(mid / 4, 4), gate=nn.Hardsigmoid) if se else None
        self.ghost2 = GhostModule(mid, cout, ratio, 3, relu=False)
        self.short = (
            None
            if stride == 1 and cin == cout
            else nn.Sequential(
                ConvBNAct(cin, cin, k, stride, groups=cin, act=None),
                ConvBNAct(cin, cout, 1, act=None),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ghost1(x)
        if self.dw is not None:
            y = self.dw(y)
        if self.se is not None:
            y = self.se(y)
        y = self.ghost2(y)
        return y + (x if self.short is None else self.short(x))


def draw_ghost(rng: np.random.Generator, tiny: bool) -> HParams:
    d = Draw(rng)
    n = 2 if tiny else d.integer(3, 6)
    chans = [d.pick([8, 16]) if tiny else d.pick([16, 24, 32])]
    for _ in range(n - 1):
        chans.append(divisible(chans[-1] * d.uniform(1.3, 2.2), 4))
    stages = [
        {
            "channels": c,
            "expansion": d.pick([1.0, 2.0, 3.0, 4.0, 6.0]),
            "kernel": d.pick([3, 5]),
            "depth": 1 if tiny else d.integer(1, 3),
            "stride": 1 if i == 0 else 2,
            "se": d.coin(0.4),
        }
        for i, c in enumerate(chans)
    ]
    return {
        "resolution": d.res(32, 64, 16) if tiny else d.res(96, 224, 16),
        "stem_width": d.pick([8, 16] if tiny else [16, 24]),
        "ratio": d.pick([2, 2, 3]),
        "stages": stages,
        "head_width": d.pick([64, 128] if tiny else [480, 960, 1280]),
        "head_hidden": d.pick([0, 256] if tiny else [0, 1280]),
        "classes": d.classes(),
    }


def build_ghost(hp: HParams) -> nn.Module:
    stem = ConvBNAct(3, hp["stem_width"], 3, 2)
    cin = hp["stem_width"]
    blocks: list[nn.Module] = []
    for st in hp["stages"]:
        mid = divisible(cin * st["expansion"], 4)
        for j in range(st["depth"]):
            stride = st["stride"] if j == 0 else 1
            blocks.append(
                GhostBottleneck(
                    cin, mid, st["channels"], st["kernel"], stride, st["se"], hp["ratio"]
                )
            )
            cin = st["channels"]
    head = nn.Sequential(
        ConvBNAct(cin, hp["head_width"], 1),
        ClassifierHead(hp["head_width"], hp["classes"], hp["head_hidden"]),
    )
    return StageNet(stem, blocks, head)


# -- (6) dense concat DenseNet -------------------------------------------------------------------
class DenseBlock(nn.Module):
    """Layers BN-ReLU-1x1-BN-ReLU-3x3 each reading the concat of every earlier output."""

    def __init__(self, cin: int, layers: int, growth: int, bn_size: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm2d(cin + i * growth),
                nn.ReLU(),
                nn.Conv2d(cin + i * growth, bn_size * growth, 1, bias=False),
                nn.BatchNorm2d(bn_size * growth),
                nn.ReLU(),
                nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False),
            )
            for i in range(layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, 1)))
        return torch.cat(feats, 1)


def draw_dense(rng: np.random.Generator, tiny: bool) -> HParams:
    d = Draw(rng)
    n = 2 if tiny else d.integer(2, 4)
    growth = d.pick([8, 12] if tiny else [12, 16, 24, 32])
    return {
        "resolution": d.res(32, 64, 16) if tiny else d.res(96, 224, 16),
        "stem": d.pick(["conv7", "conv3"]),
        "stem_width": 2 * growth,
        "growth": growth,
        "bn_size": d.pick([2, 4]),
        "blocks": [2] * n if tiny else [d.integer(2, 10) for _ in range(n)],
        "compression": d.pick([0.5, 0.5, 1.0]),
        "classes": d.classes(),
    }


def build_dense(hp: HParams) -> nn.Module:
    stem, _ = _stem(hp["stem"], hp["stem_width"])
    cin = hp["stem_width"]
    parts: list[nn.Module] = []
    for i, n in enumerate(hp["blocks"]):
        parts.append(DenseBlock(cin, n, hp["growth"], hp["bn_size"]))
        cin += n * hp["growth"]
        if i + 1 < len(hp["blocks"]):
            cout = int(cin * hp["compression"])
            parts.append(
                nn.Sequential(
                    nn.BatchNorm2d(cin),
                    nn.ReLU(),
                    nn.Conv2d(cin, cout, 1, bias=False),
                    nn.AvgPool2d(2, 2),
                )
            )
            cin = cout
    head = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), ClassifierHead(cin, hp["classes"]))
    return StageNet(stem, parts, head)


# -- (7) plain VGG stacks with a large FC head ---------------------------------------------------
class VGG(nn.Module):
    def __init__(self, hp: HParams) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for w, n in zip(hp["widths"], hp["convs"], strict=True):
            for _ in range(n):
                if hp["bn"]:
                    layers.append(ConvBNAct(cin, w, 3))
                else:
                    layers += [nn.Conv2d(cin, w, 3, padding=1), nn.ReLU()]
                cin = w
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        p, side = hp["pool"], hp["resolution"] >> len(hp["widths"])
        if side % p:  # the ONNX exporter only takes adaptive pooling by a whole factor
            raise ValueError(f"VGG: pool {p} does not divide the final map side {side}")
        self.pool = nn.AdaptiveAvgPool2d(p)
        fc: list[nn.Module] = []
        width = cin * p * p
        for h in hp["hidden"]:
            fc += [nn.Linear(width, h), nn.ReLU()]
            width = h
        fc.append(nn.Linear(width, hp["classes"]))
        self.classifier = nn.Sequential(*fc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def draw_vgg(rng: np.random.Generator, tiny: bool) -> HParams:
    d = Draw(rng)
    n = 2 if tiny else d.integer(3, 5)
    base = d.pick([8, 16] if tiny else [16, 24, 32, 48, 64])
    large = not tiny and d.coin(0.35)
    hidden_opts = [2048, 3072, 4096] if large else [256, 512, 1024]
    hp: HParams = {
        "resolution": d.res(32, 64, 16) if tiny else d.res(64, 224, 16),
        "widths": [min(512, base * 2**i) for i in range(n)],
        "convs": [1] * n if tiny else [d.integer(1, 3) for _ in range(n)],
        "bn": d.coin(0.5),
        "pool": d.pick([5, 6, 7]) if large else d.pick([1, 2]),  # made a divisor below
        "hidden": [d.pick(hidden_opts) for _ in range(d.integer(1, 2))] if not tiny else [64],
        "classes": d.classes(),
    }
    side = hp["resolution"] >> len(hp["widths"])
    hp["pool"] = max(q for q in range(1, hp["pool"] + 1) if side % q == 0)
    return hp


def build_vgg(hp: HParams) -> nn.Module:
    return VGG(hp)


# -- (8) re-parameterizable multi-branch blocks in training form (RepVGG / MobileOne) -------------
class RepVGGBlock(nn.Module):
    """BN(conv3x3) + BN(conv1x1) + BN(identity when shapes match), summed, then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int, groups: int = 1) -> None:
        super().__init__()
        self.dense = ConvBNAct(cin, cout, 3, stride, groups=groups, act=None)
        self.one = ConvBNAct(cin, cout, 1, stride, groups=groups, act=None, padding=0)
        self.identity = nn.BatchNorm2d(cin) if cin == cout and stride == 1 else None
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dense(x) + self.one(x)
        if self.identity is not None:
            y = y + self.identity(x)
        return self.act(y)


class MobileOneBlock(nn.Module):
    """k over-parameterized kxk branches + a 1x1 scale branch + identity BN, summed, act."""

    def __init__(
        self, cin: int, cout: int, k: int, stride: int, groups: int, branches: int
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            ConvBNAct(cin, cout, k, stride, groups=groups, act=None) for _ in range(branches)
        )
        self.scale = (
            ConvBNAct(cin, cout, 1, stride, groups=groups, act=None, padding=0) if k > 1 else None
        )
        self.identity = nn.BatchNorm2d(cin) if cin == cout and stride == 1 else None
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.convs[0](x)
        for conv in self.convs[1:]:
            y = y + conv(x)
        if self.scale is not None:
            y = y + self.scale(x)
        if self.identity is not None:
            y = y + self.identity(x)
        return self.act(y)


def draw_repvgg(rng: np.random.Generator, tiny: bool) -> HParams:
    d = Draw(rng)
    n = 2 if tiny else d.integer(3, 4)
    base = d.pick([8, 16] if tiny else [16, 24, 32, 48, 64])
    return {
        "resolution": d.res(32, 64, 16) if tiny else d.res(96, 224, 16),
        "variant": d.pick(["repvgg", "mobileone"]),
        "stem_width": d.pick([8, 16] if tiny else [16, 32, 48]),
        "widths": [base * 2**i for i in range(n)],
        "depths": [1] * n if tiny else [d.integer(1, 4) for _ in range(n)],
        "branches": d.integer(1, 4),
        "classes": d.classes(),
    }


def build_repvgg(hp: HParams) -> nn.Module:
    variant = hp["variant"]

    def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
        if variant == "repvgg":
            return [RepVGGBlock(cin, cout, stride)]
        # MobileOne: a depthwise kxk block then a pointwise 1x1 block
        return [
            MobileOneBlock(cin, cin, 3, stride, cin, hp["branches"]),
            MobileOneBlock(cin, cout, 1, 1, 1, hp["branches"]),
        ]

    stem = nn.Sequential(*block(3, hp["stem_width"], 2))
    cin = hp["stem_width"]
    blocks: list[nn.Module] = []
    for w, depth in zip(hp["widths"], hp["depths"], strict=True):
        for j in range(depth):
            blocks += block(cin, w, 2 if j == 0 else 1)
            cin = w
    return StageNet(stem, blocks, ClassifierHead(cin, hp["classes"]))


# -- (9) ConvNeXt --------------------------------------------------------------------------------
class ConvNeXtBlock(nn.Module):
    """7x7 depthwise, channels-last LayerNorm, Linear(r*dim), GELU, Linear(dim), layer scale."""

    def __init__(self, dim: int, kernel: int, mlp_ratio: int, layer_scale: bool) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_ratio * dim)
        self.gamma = nn.Parameter(torch.full((dim,), 0.1)) if layer_scale else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.dwconv(x).permute(0, 2, 3, 1)))
        if self.gamma is not None:
            y = y * self.gamma
        return x + y.permute(0, 3, 1, 2)


def draw_convnext(rng: np.random.Generator, tiny: bool) -> HParams:
    d = Draw(rng)
    n = 2 if tiny else d.integer(2, 4)
    d0 = d.pick([16, 24] if tiny else [24, 32, 48, 64, 96])
    return {
        "resolution": d.res(32, 64, 32) if tiny else d.res(64, 224, 32),
        "dims": [d0 * 2**i for i in range(n)],
        "depths": [1] * n if tiny else [d.integer(1, 4) for _ in range(n)],
        "kernel": 7,
        "mlp_ratio": d.pick([2, 3, 4]),
        "layer_scale": d.coin(0.7),
        "classes": d.classes(),
    }


class ConvNeXt(nn.Module):
    def __init__(self, hp: HParams) -> None:
        super().__init__()
        dims = hp["dims"]
        layers: list[nn.Module] = [nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0], eps=1e-6)]
        for i, (dim, depth) in enumerate(zip(dims, hp["depths"], strict=True)):
            if i > 0:
                layers += [LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], dim, 2, 2)]
            layers += [
                ConvNeXtBlock(dim, hp["kernel"], hp["mlp_ratio"], hp["layer_scale"])
                for _ in range(depth)
            ]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], hp["classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(torch.flatten(self.pool(self.features(x)), 1)))


# -- (10) ViT ------------------------------------------------------------------------------------
class ViT(nn.Module):
    """Patch embedding conv, optional class token, learned positions, pre-norm blocks, head."""

    def __init__(self, hp: HParams) -> None:
        super().__init__()
        dim, p = hp["heads"] * hp["head_dim"], hp["patch"]
        tokens = (hp["resolution"] // p) ** 2 + (1 if hp["cls_token"] else 0)
        self.patch = nn.Conv2d(3, dim, p, p)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim)) if hp["cls_token"] else None
        self.pos = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.Sequential(
            *[
                TransformerBlock(dim, hp["heads"], hp["mlp_ratio"], act=act(hp["act"]))
                for _ in range(hp["depth"])
            ]
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, hp["classes"])
        self.mean_pool = hp["pool"] == "mean" or self.cls is None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        if self.cls is not None:
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.norm(self.blocks(x + self.pos))
        return self.head(x.mean(1) if self.mean_pool else x[:, 0])


def draw_vit(rng: np.random.Generator, tiny: bool) -> HParams:
    d = Draw(rng)
    patch = d.pick([8, 16] if tiny else [4, 8, 14, 16, 32])
    # at most 256 pixels (MobileViT's published size), at most 400 tokens
    lo, hi = (2, 4) if tiny else (4, min(20, 256 // patch))
    grid = d.integer(lo, hi)
    return {
        "resolution": patch * grid,
        "patch": patch,
        "heads": d.integer(1, 2) if tiny else d.integer(1, 8),
        "head_dim": d.pick([16] if tiny else [16, 32, 48, 64]),
        "depth": 1 if tiny else d.integer(1, 12),
        "mlp_ratio": float(d.pick([2, 3, 4])),
        "cls_token": d.coin(0.6),
        "pool": d.pick(["cls", "mean"]),
        "act": d.pick(["gelu", "gelu", "silu"]),
        "classes": d.classes(),
    }


# -- (11) MLP-Mixer and PoolFormer ---------------------------------------------------------------
class MixerBlock(nn.Module):
    def __init__(self, tokens: int, dim: int, token_hidden: int, channel_hidden: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.token_mlp = Mlp(tokens, token_hidden)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.channel_mlp = Mlp(dim, channel_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


class PoolFormerBlock(nn.Module):
    """norm -> avgpool(3) - x -> scale, residual; norm -> 1x1 conv MLP -> scale, residual."""

    def __init__(self, dim: int, mlp_ratio: int, norm: str) -> None:
        super().__init__()

        def make_norm() -> nn.Module:
            return nn.BatchNorm2d(dim) if norm == "bn" else LayerNorm2d(dim, eps=1e-6)

        self.norm1 = make_norm()
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.norm2 = make_norm()
        self.mlp = nn.Sequential(
            nn.Conv2d(dim, mlp_ratio * dim, 1), nn.GELU(), nn.Conv2d(mlp_ratio * dim, dim, 1)
        )
        self.scale1 = nn.Parameter(torch.full((dim, 1, 1), 0.1))
        self.scale2 = nn.Parameter(torch.full((dim, 1, 1), 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.scale1 * (self.pool(y) - y)
        return x + self.scale2 * self.mlp(self.norm2(x))


class Mixer(nn.Module):
    def __init__(self, hp: HParams) -> None:
        super().__init__()
        dim, p = hp["dim"], hp["patch"]
        tokens = (hp["resolution"] // p) ** 2
        self.patch = nn.Conv2d(3, dim, p, p)
        self.blocks = nn.Sequential(
            *[
                MixerBlock(
                    tokens, dim, int(tokens * hp["token_ratio"]), int(dim * hp["channel_ratio"])
                )
                for _ in range(hp["depth"])
            ]
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, hp["classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.patch(x).flatten(2).transpose(1, 2))
        return self.head(self.norm(x).mean(1))


class PoolFormer(nn.Module):
    def __init__(self, hp: HParams) -> None:
        super().__init__()
        dims = hp["dims"]
        layers: list[nn.Module] = [nn.Conv2d(3, dims[0], 7, 4, 2)]
        for i, (dim, depth) in enumerate(zip(dims, hp["depths"], strict=True)):
            if i > 0:
                layers.append(nn.Conv2d(dims[i - 1], dim, 3, 2, 1))
            layers += [PoolFormerBlock(dim, hp["mlp_ratio"], hp["norm"]) for _ in range(depth)]
        self.features = nn.Sequential(*layers)
        self.head = ClassifierHead(dims[-1], hp["classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def draw_mixer(rng: np.random.Generator, tiny: bool) -> HParams:
    d = Draw(rng)
    if d.coin(0.5):
        patch = d.pick([8, 16] if tiny else [4, 8, 16, 32])
        return {
            "variant": "mixer",
            "resolution": patch
            * (d.integer(2, 4) if tiny else d.integer(4, min(14, 256 // patch))),
            "patch": patch,
            "dim": d.pick([32, 64] if tiny else [64, 128, 192, 256, 384, 512]),
            "depth": 1 if tiny else d.integer(2, 12),
            "token_ratio": d.pick([0.5, 1.0, 2.0]),
            "channel_ratio": d.pick([2.0, 4.0]),
            "classes": d.classes(),
        }
    n = 2 if tiny else d.integer(2, 4)
    d0 = d.pick([16, 32] if tiny else [32, 48, 64, 96])
    return {
        "variant": "poolformer",
        "resolution": d.res(32, 64, 32) if tiny else d.res(64, 224, 32),
        "dims": [d0 * 2**i for i in range(n)],
        "depths": [1] * n if tiny else [d.integer(1, 4) for _ in range(n)],
        "mlp_ratio": d.pick([2, 4]),
        "norm": d.pick(["bn", "ln"]),
        "classes": d.classes(),
    }


def build_mixer(hp: HParams) -> nn.Module:
    return Mixer(hp) if hp["variant"] == "mixer" else PoolFormer(hp)


# -- (12) hybrid conv-attention (MobileViT / LeViT-like) -----------------------------------------
class ConvTokens(nn.Module):
    """LeViT-like: conv stem to 1/16, transformer stages, conv downsampling between them."""

    def __init__(self, hp: HParams) -> None:
        super().__init__()
        a = act(hp["act"])
        dims, res = hp["dims"], hp["resolution"]
        stem, c = [], 3
        for i in range(4):
            w = dims[0] // 2 ** (3 - i)
            stem.append(ConvBNAct(c, w, 3, 2, act=a if i < 3 else None))
            c = w
        self.stem = nn.Sequential(*stem)
        side = res // 16
        self.sides: list[int] = []
        self.stages = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i, (dim, depth) in enumerate(zip(dims, hp["depths"], strict=True)):
            if i > 0:
                self.downs.append(ConvBNAct(dims[i - 1], dim, 3, 2, act=a))
                side = (side - 1) // 2 + 1
            self.sides.append(side)
            self.stages.append(
                nn.Sequential(
                    *[
                        TransformerBlock(dim, dim // hp["head_dim"], hp["mlp_ratio"], act=a)
                        for _ in range(depth)
                    ]
                )
            )
        self.norm = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], hp["classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for i, stage in enumerate(self.stages):
            if i > 0:
                side = self.sides[i - 1]
                x = self.downs[i - 1](x.transpose(1, 2).unflatten(2, (side, side)))
            x = stage(x.flatten(2).transpose(1, 2))
        return self.head(self.norm(x).mean(1))


class MobileViTNet(nn.Module):
    """MobileNetV2 stages to 1/8, then stride-2 MV2 + MobileViT block stages, 1x1 conv, head."""

    def __init__(self, hp: HParams) -> None:
        super().__init__()
        chans, e = hp["mv2_chans"], hp["expansion"]
        layers: list[nn.Module] = [ConvBNAct(3, chans[0], 3, 2, act=nn.SiLU)]
        c = chans[0]
        for i, w in enumerate(chans[1:]):
            layers.append(InvertedResidual(c, w, 2 if i < 2 else 1, e, [3], 0.0, "silu"))
            c = w
        for w, dim, depth in zip(hp["vit_chans"], hp["dims"], hp["depths"], strict=True):
            layers.append(InvertedResidual(c, w, 2, e, [3], 0.0, "silu"))
            layers.append(MobileViTBlock(w, dim, depth, 2, max(1, dim // hp["head_dim"])))
            c = w
        layers.append(ConvBNAct(c, 4 * c, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.head = ClassifierHead(4 * c, hp["classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def draw_hybrid(rng: np.random.Generator, tiny: bool) -> HParams:
    d = Draw(rng)
    if d.coin(0.5):
        n = 1 if tiny else d.integer(1, 3)
        # MobileViT folds 2x2 patches: the map entering stage i (1/16, 1/32, ...) must be even.
        step = 2 ** (4 + n)
        c0 = d.pick([8, 16] if tiny else [16, 24, 32])
        return {
            "variant": "mobilevit",
            "resolution": d.res(step, 64, step) if tiny else d.res(max(96, step), 256, step),
            "mv2_chans": [c0, c0 * 2, c0 * 3, c0 * 3][: 2 if tiny else d.integer(3, 4)],
            "expansion": d.pick([2, 4]),
            "vit_chans": [c0 * 4 + 16 * i for i in range(n)],
            "dims": [d.pick([32, 48] if tiny else [64, 96, 128, 144])] * n,
            "depths": [1] * n if tiny else [d.integer(1, 4) for _ in range(n)],
            "head_dim": d.pick([16, 32]),
            "classes": d.classes(),
        }
    n = 1 if tiny else d.integer(2, 3)
    hd = d.pick([16, 32])
    d0 = d.pick([32, 64] if tiny else [64, 96, 128, 192])
    return {
        "variant": "levit",
        "resolution": d.res(32, 64, 16) if tiny else d.res(96, 224, 16),
        "dims": [d0 + i * d.pick([32, 64, 96]) // hd * hd for i in range(n)],
        "depths": [1] * n if tiny else [d.integer(1, 4) for _ in range(n)],
        "head_dim": hd,
        "mlp_ratio": float(d.pick([2, 3, 4])),
        "act": d.pick(["hardswish", "gelu"]),
        "classes": d.classes(),
    }


def build_hybrid(hp: HParams) -> nn.Module:
    return MobileViTNet(hp) if hp["variant"] == "mobilevit" else ConvTokens(hp)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("bottleneck", "ResNet bottleneck blocks", draw_bottleneck, build_bottleneck),
        Family("grouped", "ResNeXt / RegNetX grouped bottlenecks", draw_grouped, build_grouped),
        Family("inverted", "MobileNetV2/V3, EfficientNet MBConv", draw_inverted, _build_mobile),
        Family("mixconv", "MixNet mixed-kernel depthwise", draw_mixconv, _build_mobile),
        Family("ghost", "GhostNet cheap-feature concat", draw_ghost, build_ghost),
        Family("dense", "DenseNet concat growth + transitions", draw_dense, build_dense),
        Family("vgg", "VGG conv stacks + large FC head", draw_vgg, build_vgg),
        Family("repvgg", "RepVGG / MobileOne training-form branches", draw_repvgg, build_repvgg),
        Family("convnext", "ConvNeXt 7x7 depthwise + LN + MLP", draw_convnext, ConvNeXt),
        Family("vit", "ViT patch embed + MHSA + MLP", draw_vit, ViT),
        Family("mixer", "MLP-Mixer and PoolFormer", draw_mixer, build_mixer),
        Family("hybrid", "MobileViT / LeViT-like conv + attention", draw_hybrid, build_hybrid),
    )
}
