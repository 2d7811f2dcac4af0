"""DeiT-Tiny (timm ``deit_tiny_patch16_224``): ViT with a class token, no distillation token."""

from __future__ import annotations

import torch
from torch import nn

from estimator.zoo.models.common import TransformerBlock


class VisionTransformer(nn.Module):
    def __init__(
        self,
        img_size: int = 224,
        patch: int = 16,
        dim: int = 192,
        depth: int = 12,
        heads: int = 3,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        num_patches = (img_size // patch) ** 2
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.Sequential(*[TransformerBlock(dim, heads, 4.0) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def deit_tiny(resolution: int = 224) -> nn.Module:
    return VisionTransformer(img_size=resolution)
