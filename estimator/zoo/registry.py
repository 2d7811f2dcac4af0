"""Name -> model lookup for the seed models, with the published size of each.

Torch is imported only when a model is actually built, so ``import estimator.zoo`` stays cheap and
works without torch (the NAS-Bench-201 IR builder needs no torch at all).
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from estimator.errors import InputError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from estimator.ir.graph import Graph


@dataclass(frozen=True, slots=True)
class Published:
    """Size reported by the model's authors or reference implementation.

    ``macs`` counts multiply-accumulates of convolutions, linear layers and attention matmuls
    (what torchvision/timm tables call GFLOPS/GMACs) for one image at the default resolution.
    Values copied from a table keep that table's rounding; ``source`` names the table.
    """

    params: int
    macs: float
    source: str

    def __getitem__(self, key: str) -> Any:
        """Mapping-style access (``published(name)["params"]``) for dict-minded callers."""
        if key not in ("params", "macs", "source"):
            raise KeyError(key)
        return getattr(self, key)


@dataclass(frozen=True, slots=True)
class _Spec:
    module: str
    builder: str
    resolution: int
    published: Published
    #: Builder takes ``resolution`` (position tables / attention biases depend on it).
    sized: bool = False
    #: The resolution must be a multiple of this (patch grids must divide evenly).
    multiple: int = 1


_TV = "torchvision.models docs (weights table: num_params, GFLOPS counted as MACs)"
_SPECS: dict[str, _Spec] = {
    "resnet18": _Spec("resnet", "resnet18", 224, Published(11_689_512, 1.81e9, _TV)),
    "resnet50": _Spec("resnet", "resnet50", 224, Published(25_557_032, 4.09e9, _TV)),
    "mobilenet_v2": _Spec(
        "mobilenet",
        "mobilenet_v2",
        224,
        Published(3_504_872, 300e6, f"params: {_TV}; MACs: MobileNetV2 paper, 300M MAdds"),
    ),
    "mobilenet_v3_large": _Spec(
        "mobilenet",
        "mobilenet_v3_large",
        224,
        Published(
            5_483_032, 219e6, f"params: {_TV}; MACs: MobileNetV3 paper, Large 1.0: 219M MAdds"
        ),
    ),
    "mobilenet_v3_small": _Spec(
        "mobilenet",
        "mobilenet_v3_small",
        224,
        Published(2_542_856, 56e6, f"params: {_TV}; MACs: MobileNetV3 paper, Small 1.0: 56M MAdds"),
    ),
    "efficientnet_b0": _Spec(
        "efficientnet", "efficientnet_b0", 224, Published(5_288_548, 0.39e9, _TV)
    ),
    "squeezenet1_1": _Spec("squeezenet", "squeezenet1_1", 224, Published(1_235_496, 0.35e9, _TV)),
    "densenet121": _Spec("densenet", "densenet121", 224, Published(7_978_856, 2.83e9, _TV)),
    "convnext_tiny": _Spec("convnext", "convnext_tiny", 224, Published(28_589_128, 4.46e9, _TV)),
    "deit_tiny": _Spec(
        "vit",
        "deit_tiny",
        224,
        Published(
            5_717_416,
            1.3e9,
            "params: timm deit_tiny_patch16_224; MACs: DeiT paper and timm card, 1.3G",
        ),
        sized=True,
        multiple=16,
    ),
    "levit_128s": _Spec(
        "levit",
        "levit_128s",
        224,
        Published(
            7_800_000, 305e6, "LeViT paper, LeViT-128S: 7.8M params, 305M FLOPs (counted as MACs)"
        ),
        sized=True,
        multiple=16,
    ),
    "inception_v3": _Spec(
        "inception",
        "inception_v3",
        299,
        Published(
            23_834_568,
            5.71e9,
            "params: torchvision 27,161,264 minus the training-only AuxLogits branch "
            "(3,326,696), = timm inception_v3 23.8M; MACs: torchvision 5.71 GFLOPS (eval, no aux)",
        ),
    ),
    "mnasnet1_0": _Spec("mnasnet", "mnasnet1_0", 224, Published(4_383_312, 0.31e9, _TV)),
    "mobilevit_xxs": _Spec(
        "mobilevit",
        "mobilevit_xxs",
        256,
        Published(1_300_000, 0.4e9, "timm mobilevit_xxs.cvnets_in1k card (1.3M, 0.4 GMACs @256)"),
        multiple=64,
    ),
}


def names() -> list[str]:
    """Names of the seed models, sorted."""
    return sorted(_SPECS)


def _spec(name: str) -> _Spec:
    spec = _SPECS.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, _SPECS, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(names())}"
        raise InputError(f"unknown zoo model {name!r}{hint}")
    return spec


def default_resolution(name: str) -> int:
    """Input side length the model was published at (224, Inception 299, MobileViT 256)."""
    return _spec(name).resolution


def published(name: str) -> Published:
    """Published parameter count and MACs of a seed model (see :class:`Published`)."""
    return _spec(name).published


def build(name: str, resolution: int | None = None) -> nn.Module:
    """Construct the model (random init) on the current default device, in eval mode."""
    spec = _spec(name)
    res = spec.resolution if resolution is None else resolution
    if res <= 0 or res % spec.multiple:
        raise InputError(
            f"zoo model {name!r}: resolution must be a positive multiple of {spec.multiple}, "
            f"got {res}"
        )
    builder = getattr(importlib.import_module(f"estimator.zoo.models.{spec.module}"), spec.builder)
    module: nn.Module = builder(resolution=res) if spec.sized else builder()
    return module.eval()


def get(name: str, batch: int = 1, resolution: int | None = None) -> tuple[nn.Module, torch.Tensor]:
    """Model in eval mode and a random float32 input of shape [batch, 3, R, R]."""
    import torch

    if batch <= 0:
        raise InputError(f"zoo model {name!r}: batch must be positive, got {batch}")
    module = build(name, resolution)
    res = _spec(name).resolution if resolution is None else resolution
    return module, torch.randn(batch, 3, res, res)


def graph(name: str, batch: int = 1, resolution: int | None = None) -> Graph:
    """IR graph of a seed model, traced from a weightless (meta-device) instance."""
    import torch

    from estimator.frontends.torch_fx import from_torch

    if batch <= 0:
        raise InputError(f"zoo model {name!r}: batch must be positive, got {batch}")
    res = _spec(name).resolution if resolution is None else resolution
    with torch.device("meta"):
        module = build(name, res)
        example = torch.empty(batch, 3, res, res)
    return from_torch(module, example, name=name)
