"""LeViT-128S (timm ``levit_128s``, the distilled classifier as published with 7.8M params).

Linear layers act on token sequences [B, N, C] followed by BatchNorm1d; attention adds a learned
per-head bias indexed by relative position, exactly as in timm's ``Attention`` and
``AttentionDownsample``.
"""

from __future__ import annotations

import torch
from torch import nn

from estimator.zoo.models.common import ConvBNAct


class LinearNorm(nn.Module):
    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.bn = nn.BatchNorm1d(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear(x)
        return self.bn(x.flatten(0, 1)).reshape_as(x)


class NormLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(in_features)
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.norm(x))


def _rel_pos_index(res: int, stride: int) -> torch.Tensor:
    """Index into the per-head bias table: |dy| * res + |dx| between query and key positions."""
    k = torch.stack(torch.meshgrid(torch.arange(res), torch.arange(res), indexing="ij")).flatten(1)
    q_axis = torch.arange(0, res, step=stride)
    q = torch.stack(torch.meshgrid(q_axis, q_axis, indexing="ij")).flatten(1)
    rel = (q[..., :, None] - k[..., None, :]).abs()
    return rel[0] * res + rel[1]


class Attention(nn.Module):
    """LeViT attention; with ``stride`` 2 it subsamples the queries (``AttentionDownsample``)."""

    bias_idxs: torch.Tensor

    def __init__(
        self,
        dim: int,
        out_dim: int,
        key_dim: int,
        heads: int,
        attn_ratio: float,
        res: int,
        stride: int = 1,
    ) -> None:
        super().__init__()
        self.heads, self.key_dim, self.res, self.stride = heads, key_dim, res, stride
        self.val_dim = int(attn_ratio * key_dim)
        self.scale = key_dim**-0.5
        q_dim = key_dim * heads if stride == 1 else 0
        self.qkv = LinearNorm(dim, q_dim + (key_dim + self.val_dim) * heads)
        self.q = LinearNorm(dim, key_dim * heads) if stride > 1 else None
        self.act = nn.Hardswish()
        self.proj = LinearNorm(self.val_dim * heads, out_dim)
        self.attention_biases = nn.Parameter(torch.zeros(heads, res * res))
        self.register_buffer("bias_idxs", _rel_pos_index(res, stride), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Shapes via unflatten/flatten only, so torch.fx symbolic tracing needs no concrete sizes.
        h, kd, vd = self.heads, self.key_dim, self.val_dim
        if self.q is None:
            q, k, v = self.qkv(x).unflatten(-1, (h, -1)).split([kd, kd, vd], dim=3)
        else:
            k, v = self.qkv(x).unflatten(-1, (h, -1)).split([kd, vd], dim=3)
            grid = x.unflatten(1, (self.res, self.res))[:, :: self.stride, :: self.stride]
            q = self.q(grid.flatten(1, 2)).unflatten(-1, (h, kd))
        attn = q.permute(0, 2, 1, 3) @ k.permute(0, 2, 3, 1) * self.scale
        attn = (attn + self.attention_biases[:, self.bias_idxs]).softmax(dim=-1)
        out = (attn @ v.permute(0, 2, 1, 3)).transpose(1, 2).flatten(2)
        return self.proj(self.act(out))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.ln1 = LinearNorm(dim, hidden)
        self.act = nn.Hardswish()
        self.ln2 = LinearNorm(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln2(self.act(self.ln1(x)))


class ResidualBlock(nn.Module):
    def __init__(self, dim: int, key_dim: int, heads: int, res: int) -> None:
        super().__init__()
        self.attn = Attention(dim, dim, key_dim, heads, attn_ratio=2.0, res=res)
        self.mlp = Mlp(dim, 2 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class Downsample(nn.Module):
    """Shrinking attention (heads = in_dim / key_dim, value ratio 4) and a residual MLP."""

    def __init__(self, in_dim: int, out_dim: int, key_dim: int, res: int) -> None:
        super().__init__()
        self.attn = Attention(in_dim, out_dim, key_dim, in_dim // key_dim, 4.0, res, stride=2)
        self.mlp = Mlp(out_dim, 2 * out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attn(x)
        return x + self.mlp(x)


class LeViT(nn.Module):
    def __init__(
        self,
        img_size: int = 224,
        dims: tuple[int, ...] = (128, 256, 384),
        key_dim: int = 16,
        heads: tuple[int, ...] = (4, 6, 8),
        depths: tuple[int, ...] = (2, 3, 4),
        num_classes: int = 1000,
        distilled: bool = True,
    ) -> None:
        super().__init__()
        d0 = dims[0]
        hs = nn.Hardswish
        self.stem = nn.Sequential(
            ConvBNAct(3, d0 // 8, 3, 2, act=hs),
            ConvBNAct(d0 // 8, d0 // 4, 3, 2, act=hs),
            ConvBNAct(d0 // 4, d0 // 2, 3, 2, act=hs),
            ConvBNAct(d0 // 2, d0, 3, 2, act=None),
        )
        res = img_size // 16
        layers: list[nn.Module] = []
        for i, (dim, h, depth) in enumerate(zip(dims, heads, depths, strict=True)):
            if i > 0:
                layers.append(Downsample(dims[i - 1], dim, key_dim, res))
                res = (res - 1) // 2 + 1
            layers += [ResidualBlock(dim, key_dim, h, res) for _ in range(depth)]
        self.stages = nn.Sequential(*layers)
        self.head = NormLinear(dims[-1], num_classes)
        self.head_dist = NormLinear(dims[-1], num_classes) if distilled else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x).flatten(2).transpose(1, 2)
        x = self.stages(x).mean(1)
        if self.head_dist is None:
            return self.head(x)
        # timm's distilled model averages both heads at inference.
        return (self.head(x) + self.head_dist(x)) / 2


def levit_128s(resolution: int = 224) -> nn.Module:
    return LeViT(img_size=resolution)
