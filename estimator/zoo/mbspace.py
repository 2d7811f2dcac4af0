"""A seeded MobileNet-style search space at CIFAR size: a second space for few-shot transfer.

A fixed macro skeleton (3x3 stem, 12 searchable layers over four resolutions, 1x1 head,
global pool, classifier) at 32 x 32 input, like the published MobileNet-like NAS spaces. Per
layer the search picks:

- ``skip`` (only where the layer keeps shape: stride 1, same width) or an inverted-residual
  block: 1x1 expansion (``e`` in 1/3/6; none at 1), k x k depthwise (``k`` in 3/5/7), 1x1
  projection, residual add where shapes allow;
- an option: none, squeeze-excite (``se``: pool, 1x1 reduce, ReLU, 1x1 expand, HardSigmoid,
  Mul) or grouped 1x1 convs (``g2``: expansion and projection in 2 groups).

Networks are written as ONNX directly (``onnx.helper``: Conv with bias, as an exporter emits
after folding BatchNorm; ReLU activations), in milliseconds per network, with seeded random
weights (to time them) or weight-stripped (initializers keep name, type and dims, no data: all
the estimator reads). Architecture ``i`` of seed ``s`` depends on ``(s, i)`` only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from estimator.errors import InputError

KERNELS = (3, 5, 7)
EXPANSIONS = (1, 3, 6)
OPTIONS = ("none", "se", "g2")
#: (output channels, stride) of the 12 searchable layers.
SKELETON: tuple[tuple[int, int], ...] = (
    (16, 1),
    (24, 2),
    (24, 1),
    (24, 1),
    (40, 2),
    (40, 1),
    (40, 1),
    (80, 2),
    (80, 1),
    (80, 1),
    (96, 1),
    (96, 1),
)
STEM = 16
HEAD = 320
CLASSES = 10
RESOLUTION = 32
PREFIX = "mbspace"
OPSET = 17


@dataclass(frozen=True, slots=True)
class Layer:
    """One searchable layer: ``skip``, or a block with kernel, expansion and option."""

    skip: bool
    kernel: int = 3
    expansion: int = 1
    option: str = "none"

    @property
    def code(self) -> str:
        return "skip" if self.skip else f"k{self.kernel}e{self.expansion}{self.option}"


@dataclass(frozen=True, slots=True)
class Arch:
    """A network of the space: its layers and its name (``mbspace-<seed>-<index>``)."""

    seed: int
    index: int
    layers: tuple[Layer, ...]

    @property
    def name(self) -> str:
        return f"{PREFIX}-{self.seed}-{self.index:05d}"

    @property
    def code(self) -> str:
        return "|".join(layer.code for layer in self.layers)


def _skippable(i: int) -> bool:
    cin = STEM if i == 0 else SKELETON[i - 1][0]
    cout, stride = SKELETON[i]
    return stride == 1 and cin == cout


def sample_arch(index: int, seed: int = 0) -> Arch:
    """Architecture ``index`` of ``seed``: uniform over the choices each layer allows."""
    if index < 0:
        raise InputError(f"architecture index must be >= 0, got {index}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    layers = []
    for i in range(len(SKELETON)):
        if _skippable(i) and rng.random() < 0.25:
            layers.append(Layer(True))
            continue
        layers.append(
            Layer(
                False,
                int(rng.choice(KERNELS)),
                int(rng.choice(EXPANSIONS)),
                str(rng.choice(OPTIONS)),
            )
        )
    return Arch(seed, index, tuple(layers))


def sample_archs(n: int, seed: int = 0) -> list[Arch]:
    """The first ``n`` architectures of ``seed``."""
    if n < 0:
        raise InputError(f"number of networks must be >= 0, got {n}")
    return [sample_arch(i, seed) for i in range(n)]


class _Builder:
    """Accumulates ONNX nodes and initializers for one network."""

    def __init__(self, weights: bool, rng: np.random.Generator) -> None:
        self.nodes: list[object] = []
        self.inits: list[object] = []
        self.weights = weights
        self.rng = rng
        self.n = 0

    def _name(self, kind: str) -> str:
        self.n += 1
        return f"{kind}{self.n}"

    def _init(self, name: str, shape: Sequence[int]) -> str:
        from onnx import TensorProto, numpy_helper

        if self.weights:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            arr = self.rng.normal(0.0, 1.0 / np.sqrt(max(fan_in, 1)), size=shape)
            self.inits.append(numpy_helper.from_array(arr.astype(np.float32), name))
        else:
            t = TensorProto()
            t.name, t.data_type = name, TensorProto.FLOAT
            t.dims.extend(shape)
            self.inits.append(t)
        return name

    def op(self, kind: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        out = self._name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> str:
        w = self._init(self._name("w"), (cout, cin // groups, k, k))
        b = self._init(self._name("b"), (cout,))
        p = k // 2
        return self.op(
            "Conv", [x, w, b], kernel_shape=[k, k], strides=[stride, stride],
            pads=[p, p, p, p], group=groups,
        )  # fmt: skip


def _block(b: _Builder, x: str, cin: int, cout: int, stride: int, layer: Layer) -> str:
    g = 2 if layer.option == "g2" else 1
    mid = cin * layer.expansion
    y = x
    if layer.expansion != 1:
        y = b.op("Relu", [b.conv(y, cin, mid, 1, groups=g)])
    y = b.op("Relu", [b.conv(y, mid, mid, layer.kernel, stride, groups=mid)])
    if layer.option == "se":
        red = max(8, mid // 4)
        s = b.op("GlobalAveragePool", [y])
        s = b.op("Relu", [b.conv(s, mid, red, 1)])
        s = b.op("HardSigmoid", [b.conv(s, red, mid, 1)])
        y = b.op("Mul", [y, s])
    y = b.conv(y, mid, cout, 1, groups=g if cout % g == 0 and mid % g == 0 else 1)
    if stride == 1 and cin == cout:
        y = b.op("Add", [x, y])
    return y


def to_onnx(arch: Arch, *, weights: bool = True, batch: int = 1) -> object:
    """``arch`` as an ONNX ModelProto (``weights=False``: weight-stripped)."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(np.random.SeedSequence([arch.seed, arch.index, 1]))
    b = _Builder(weights, rng)
    x = b.op("Relu", [b.conv("input", 3, STEM, 3, 1)])
    cin = STEM
    for layer, (cout, stride) in zip(arch.layers, SKELETON, strict=True):
        if not layer.skip:
            x = _block(b, x, cin, cout, stride, layer)
        cin = cout
    x = b.op("Relu", [b.conv(x, cin, HEAD, 1)])
    x = b.op("GlobalAveragePool", [x])
    x = b.op("Flatten", [x], axis=1)
    w = b._init("fc_w", (CLASSES, HEAD))
    fc_b = b._init("fc_b", (CLASSES,))
    from onnx import helper as h

    b.nodes.append(h.make_node("Gemm", [x, w, fc_b], ["logits"], name="fc", transB=1))
    graph = helper.make_graph(
        b.nodes,  # type: ignore[arg-type]
        arch.name,
        [
            helper.make_tensor_value_info(
                "input", TensorProto.FLOAT, [batch, 3, RESOLUTION, RESOLUTION]
            )
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, CLASSES])],
        initializer=b.inits,  # type: ignore[arg-type]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    model.doc_string = f"{arch.name}: {arch.code}"
    return model


def write_space(
    folder: str | Path, n: int, seed: int = 0, *, weights: bool = True
) -> list[tuple[Arch, Path]]:
    """Write the first ``n`` networks of ``seed`` as ``<folder>/<name>.onnx`` plus a
    ``manifest.json`` (name -> architecture code); files are written atomically."""
    import onnx

    from estimator.zoo.corpus.exporting import write_atomic

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for arch in sample_archs(n, seed):
        path = root / f"{arch.name}.onnx"
        tmp = path.with_suffix(".onnx.tmp")
        onnx.save_model(to_onnx(arch, weights=weights), tmp)  # type: ignore[arg-type]
        tmp.replace(path)
        out.append((arch, path))
    manifest = {
        "space": PREFIX,
        "seed": seed,
        "weights": weights,
        "nets": {a.name: a.code for a, _ in out},
    }
    write_atomic(root / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    return out
