"""NAS-Bench-201 (CIFAR variant): the torch network and the direct IR builder.

The torch module follows the official ``TinyNetwork``/``InferCell`` code (Dong & Yang, ICLR 2020,
``xautodl/models/cell_infers``) with module paths kept (``stem``, ``cells.<k>``, ``lastact``,
``global_pooling``, ``classifier``), except that dead edges are pruned exactly as
:mod:`estimator.zoo.nb201_ir` documents, so the torch path and the direct IR builder describe the
same computation. torch is imported only when a module is built: :func:`nb201_graph` stays
torch-free for NAS loops.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from estimator.zoo.nb201_ir import (
    CELLS_PER_STAGE,
    EDGES,
    NUM_CLASSES,
    OPS,
    REDUCTION_CELLS,
    STEM_CHANNELS,
    ArchCost,
    CellPlan,
    arch_string,
    cell_plan,
    nb201_all_archs,
    nb201_cost,
    nb201_graph,
    parse_arch,
    random_archs,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "EDGES",
    "OPS",
    "ArchCost",
    "arch_string",
    "cell_plan",
    "nb201_all_archs",
    "nb201_cost",
    "nb201_example_input",
    "nb201_graph",
    "nb201_module",
    "parse_arch",
    "random_archs",
]


@cache
def _classes() -> dict[str, Any]:
    """Define the module classes on first use so importing this file does not import torch."""
    import torch
    from torch import nn

    class ReLUConvBN(nn.Module):
        def __init__(self, cin: int, cout: int, k: int, stride: int) -> None:
            super().__init__()
            self.op = nn.Sequential(
                nn.ReLU(inplace=False),
                nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
                nn.BatchNorm2d(cout, affine=True, track_running_stats=True),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.op(x)

    class Pooling(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.op(x)

    class InferCell(nn.Module):
        """One cell; only live edges own modules (``edges["j<-i"]``), skips own none."""

        def __init__(self, plan: CellPlan, c: int) -> None:
            super().__init__()
            self.plan = plan
            self.edges = nn.ModuleDict()
            for e in plan.live:
                op = plan.ops[e]
                j, i = EDGES[e]
                key = f"{j}<-{i}"
                if op == "nor_conv_3x3":
                    self.edges[key] = ReLUConvBN(c, c, 3, 1)
                elif op == "nor_conv_1x1":
                    self.edges[key] = ReLUConvBN(c, c, 1, 1)
                elif op == "avg_pool_3x3":
                    self.edges[key] = Pooling()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            plan = self.plan
            if plan.dead_output:
                return x - x  # zeros; see nb201_ir's docstring for why Sub
            values: list[torch.Tensor] = [x, x, x, x]
            for j in (1, 2, 3):
                acc: torch.Tensor | None = None
                for e in plan.inputs[j]:
                    jj, i = EDGES[e]
                    key = f"{jj}<-{i}"
                    src = values[i]
                    y = self.edges[key](src) if key in self.edges else src
                    acc = y if acc is None else acc + y
                if acc is not None:
                    values[j] = acc
            return values[3]

    class ResNetBasicblock(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.conv_a = ReLUConvBN(cin, cout, 3, 2)
            self.conv_b = ReLUConvBN(cout, cout, 3, 1)
            self.downsample = nn.Sequential(
                nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                nn.Conv2d(cin, cout, kernel_size=1, stride=1, padding=0, bias=False),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b = self.conv_b(self.conv_a(x))
            return self.downsample(x) + b

    class TinyNetwork(nn.Module):
        def __init__(self, plan: CellPlan) -> None:
            super().__init__()
            c = STEM_CHANNELS
            self.stem = nn.Sequential(
                nn.Conv2d(3, c, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(c)
            )
            self.cells = nn.ModuleList()
            for k in range(3 * CELLS_PER_STAGE + 2):
                if k in REDUCTION_CELLS:
                    self.cells.append(ResNetBasicblock(c, 2 * c))
                    c *= 2
                else:
                    self.cells.append(InferCell(plan, c))
            self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
            self.global_pooling = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(c, NUM_CLASSES)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.stem(x)
            for cell in self.cells:
                x = cell(x)
            x = self.global_pooling(self.lastact(x))
            return self.classifier(torch.flatten(x, 1))

    return {"TinyNetwork": TinyNetwork}


def nb201_module(arch: str) -> nn.Module:
    """The torch network of ``arch`` (random init, eval mode); returns logits only."""
    plan = cell_plan(parse_arch(arch))
    model: nn.Module = _classes()["TinyNetwork"](plan)
    return model.eval()


def nb201_example_input(batch: int = 1) -> torch.Tensor:
    """A CIFAR-shaped input (``batch``x3x32x32, zeros)."""
    import torch

    return torch.zeros(batch, 3, 32, 32)
