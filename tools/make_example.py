"""Regenerate examples/tiny_convnet.onnx, the demo model of ``make demo``.

    python tools/make_example.py [OUT]   (default: examples/tiny_convnet.onnx)

A small CNN that still exercises every kernel category a CNN estimate has: dense, depthwise and
pointwise convolutions with BatchNorm and ReLU, a residual Add, global pooling and a linear head.
Deterministic (seeded weights, TorchScript exporter, opset 17); exported in eval mode, so the
exporter folds each BatchNorm into the convolution before it.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import torch
from torch import nn

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "examples" / "tiny_convnet.onnx"
OPSET = 17
INPUT_SHAPE = (1, 3, 64, 64)


def conv_bn_relu(
    cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class TinyConvNet(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = conv_bn_relu(3, 16, stride=2)  # 32x32
        self.conv1 = conv_bn_relu(16, 32, stride=2)  # 16x16
        self.conv2 = conv_bn_relu(32, 32)  # residual branch
        self.depthwise = conv_bn_relu(32, 32, groups=32)
        self.pointwise = conv_bn_relu(32, 64, k=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.stem(x))
        x = x + self.conv2(x)
        x = self.pointwise(self.depthwise(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def build() -> TinyConvNet:
    torch.manual_seed(0)
    model = TinyConvNet()
    # non-trivial BN statistics, so the folded weights differ from the raw conv weights
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                assert m.running_mean is not None and m.running_var is not None
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else DEFAULT_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            build(),
            (torch.zeros(INPUT_SHAPE),),
            str(out),
            opset_version=OPSET,
            input_names=["input"],
            output_names=["logits"],
            dynamo=False,
        )
    print(f"{out}\t{out.stat().st_size / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
