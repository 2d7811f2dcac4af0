"""Seeded samplers over each kernel category's real shape space, budgeted by predicted run time.

The fixed grids of :mod:`estimator.calibration.sweep` place a handful of kernels per category
(six grouped convolutions); a model of efficiency over shape features (groups, channels per
group, kernel size, stride, dilation, spatial size, M/N/K, working set) needs thousands of
measured kernels spread over the shapes real networks use. Each *family* below draws the shape
parameters of one kind of kernel log-uniformly within documented ranges, repairs the
constraints (divisibility, group widths), and rejects a draw whose cheap roofline time
``max(F / peak_flops, B / bandwidth)`` is outside ``[min_s, max_s]`` or whose bytes exceed
``max_bytes``. A case is a :class:`~estimator.calibration.sweep.SweepCase` built lazily with the
sweep builders; its name encodes the family and every shape parameter
(``sweep/conv_grouped/grouped/ci256-co256-r28-kh3-kw3-s1-d1-g32-b1-aid``), so the same shape
always gives the same name, the same weights and the same file hash, and
:func:`case_from_name` rebuilds a case from its name alone.

:func:`sample_all` splits a wall-time budget over the families (``WEIGHTS``) and draws cases until
each family's share of the predicted *measurement* time (:func:`measure_cost_s`, the collect
loop's warmup, timed and profiled runs plus a per-model overhead) is spent.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import onnx

from estimator.calibration import sweep as sw
from estimator.calibration.sweep import PREFIX, SweepCase
from estimator.registry.models import KernelCategory

Params = dict[str, int | str]
F32 = 4
MB = 1 << 20

#: Defaults: a development-VM-like CPU core (100 GFLOP/s fp32, 20 GB/s), kernels of 2 us .. 20 ms
#: ideal time, at most ~400 MB of traffic (the largest fully connected layer sampled).
PEAK_FLOPS = 100e9
BANDWIDTH = 20e9
MIN_S = 2e-6
MAX_S = 20e-3
MAX_BYTES = 400 * MB


@dataclass(frozen=True, slots=True)
class Dim:
    """One shape parameter: an integer range (log-uniform when ``log``) or a set of choices."""

    lo: int = 1
    hi: int = 1
    log: bool = True
    choices: tuple[int | str, ...] = ()
    #: Probabilities of ``choices`` (uniform when empty).
    p: tuple[float, ...] = ()
    #: With probability ``p_align``, round a drawn value to a multiple of ``align``: channel
    #: counts of real networks are multiples of 8 and runtimes take blocked SIMD paths only for
    #: those, so a sample of unaligned counts alone would calibrate the slow fallback paths.
    align: int = 1
    p_align: float = 0.0

    def draw(self, rng: np.random.Generator) -> int | str:
        v = self._draw(rng)
        if (
            self.align > 1
            and self.p_align > 0
            and isinstance(v, int)
            and rng.random() < self.p_align
        ):
            v = min(max(self.align, round(v / self.align) * self.align), self.hi)
        return v

    def _draw(self, rng: np.random.Generator) -> int | str:
        if self.choices:
            if self.p:
                i = int(rng.choice(len(self.choices), p=np.asarray(self.p) / sum(self.p)))
            else:
                i = int(rng.integers(len(self.choices)))
            return self.choices[i]
        if self.lo == self.hi:
            return self.lo
        if self.log:
            v = math.exp(rng.uniform(math.log(self.lo), math.log(self.hi + 1)))
            return int(min(max(math.floor(v), self.lo), self.hi))
        return int(rng.integers(self.lo, self.hi + 1))

    def perturb(
        self, v: int | str, rng: np.random.Generator, scale: float, *, force: bool = False
    ) -> int | str:
        """A value near ``v``: log-normal step of sd ``scale`` for ranges; for choices, a
        neighbouring (ordered) choice with probability ``scale`` (always with ``force``)."""
        if self.choices:
            if not force and rng.random() >= scale:
                return v
            i = self.choices.index(v) if v in self.choices else 0
            j = int(np.clip(i + rng.choice((-1, 1)), 0, len(self.choices) - 1))
            return self.choices[j]
        assert isinstance(v, int)
        if self.lo == self.hi:
            return v
        if self.log:
            w = round(v * math.exp(rng.normal(0.0, scale)))
        else:
            w = round(v + rng.normal(0.0, scale * (self.hi - self.lo + 1)))
        return int(min(max(w, self.lo), self.hi))


Repair = Callable[[Params], Params | None]
Cost = Callable[[Params], tuple[float, float]]
Build = Callable[[str, Params], onnx.ModelProto]


@dataclass(frozen=True, slots=True)
class Family:
    """A sampler: its shape space, constraints, cheap cost and ONNX builder."""

    name: str
    category: KernelCategory
    #: Parameters in name order; keys are lowercase letters (a value never starts with one
    #: unless it is a word, so ``<key><value>`` tokens parse back in key order).
    dims: Mapping[str, Dim]
    #: Enforces constraints on a raw draw or a perturbation; None rejects it.
    repair: Repair
    #: (FLOPs, bytes) of the kernel, computed from the parameters (no ONNX involved).
    cost: Cost
    build: Build
    #: Kernel categories the partitioner gives the model's kernels (``category`` by default).
    expected: frozenset[KernelCategory] = field(default_factory=frozenset)
    #: What the family covers (shown in docs and the report).
    doc: str = ""

    @property
    def kernel_categories(self) -> frozenset[KernelCategory]:
        return self.expected or frozenset({self.category})

    def case(self, params: Params) -> SweepCase:
        ordered = tuple((k, params[k]) for k in self.dims)
        tag = "-".join(f"{k}{v}" for k, v in ordered)
        name = f"{PREFIX}{self.category}/{self.name}/{tag}"
        return SweepCase(
            name,
            self.category,
            partial(_build_case, self.name, name, ordered),
            family=self.name,
            params=ordered,
        )

    def predicted_s(self, params: Params, peak_flops: float, bandwidth: float) -> float:
        flops, nbytes = self.cost(params)
        return max(flops / peak_flops, nbytes / bandwidth)


def _build_case(
    family: str, name: str, params: tuple[tuple[str, int | str], ...]
) -> onnx.ModelProto:
    return FAMILIES[family].build(name, dict(params))


# --------------------------------------------------------------------------- helpers


def _i(p: Params, k: str) -> int:
    v = p[k]
    assert isinstance(v, int), (k, v)
    return v


def _s(p: Params, k: str) -> str:
    return str(p[k])


def _round_to(v: int, m: int) -> int:
    return max(m, round(v / m) * m)


def _out(res: int, k: int, s: int, d: int = 1) -> int:
    """'same'-padded output size of a conv/pool axis (pads d * (k // 2) per side)."""
    return (res + 2 * d * (k // 2) - d * (k - 1) - 1) // s + 1


_BOOL = Dim(choices=(0, 1))
_ACT_NONE = "id"


def _act(a: int | str) -> str | None:
    return None if a == _ACT_NONE else str(a)


# --------------------------------------------------------------------------- convolutions

_CONV_ACTS = Dim(choices=(_ACT_NONE, "relu", "relu6", "sigmoid"), p=(0.45, 0.35, 0.1, 0.1))


def _conv_dims(
    *,
    cin: Dim,
    cout: Dim,
    res: Dim,
    kh: Dim,
    kw: Dim,
    stride: Dim,
    dil: Dim,
    groups: Dim,
) -> dict[str, Dim]:
    return {
        "ci": cin,
        "co": cout,
        "r": res,
        "kh": kh,
        "kw": kw,
        "s": stride,
        "d": dil,
        "g": groups,
        "b": _BOOL,
        "a": _CONV_ACTS,
    }


def _conv_cost(p: Params) -> tuple[float, float]:
    ci, co, r, g = _i(p, "ci"), _i(p, "co"), _i(p, "r"), _i(p, "g")
    kh, kw, s, d = _i(p, "kh"), _i(p, "kw"), _i(p, "s"), _i(p, "d")
    oh, ow = _out(r, kh, s, d), _out(r, kw, s, d)
    macs = co * oh * ow * (ci // g) * kh * kw
    weights = co * (ci // g) * kh * kw + co * _i(p, "b")
    nbytes = F32 * (ci * r * r + co * oh * ow + weights)
    return 2.0 * macs, float(nbytes)


def _conv_build(name: str, p: Params) -> onnx.ModelProto:
    kh, kw = _i(p, "kh"), _i(p, "kw")
    return sw.conv_model(
        name,
        _i(p, "ci"),
        _i(p, "co"),
        _i(p, "r"),
        (kh, kw),
        _i(p, "s"),
        _i(p, "g"),
        dilation=_i(p, "d"),
        bias=bool(_i(p, "b")),
        act=_act(p["a"]),
    )


def _conv_common(p: Params) -> Params | None:
    kh, kw, d, r = _i(p, "kh"), _i(p, "kw"), _i(p, "d"), _i(p, "r")
    if d > 1 and (_i(p, "s") > 1 or max(kh, kw) > 7):
        p["d"] = d = 1  # dilated convs are stride-1 and small-kernel (DeepLab, dilated ResNets)
    if d * (max(kh, kw) - 1) + 1 > r:
        return None
    if _out(r, kh, _i(p, "s"), _i(p, "d")) < 1:
        return None
    return p


_ODD_K = Dim(choices=(3, 5, 7, 9, 11), p=(0.6, 0.17, 0.15, 0.04, 0.04))


def _dense_repair(p: Params) -> Params | None:
    # Asymmetric 1xk / kx1 kernels (Inception) are drawn by setting one side to 1.
    kh, kw = _i(p, "kh"), _i(p, "kw")
    if kh == 1 and kw == 1:
        return None  # pointwise: its own family
    if kh != kw and min(kh, kw) != 1:
        p["kw"] = kh
    return _conv_common(p)


def _draw_asym(p: Params, rng: np.random.Generator) -> Params:
    """Dense/depthwise draws: square kernel, or with probability 0.15 a 1xk / kx1 one."""
    if rng.random() < 0.15:
        k = int(rng.choice((3, 5, 7)))
        p["kh"], p["kw"] = (1, k) if rng.random() < 0.5 else (k, 1)
    else:
        p["kw"] = p["kh"]
    return p


def _pointwise_repair(p: Params) -> Params | None:
    p["kh"] = p["kw"] = 1
    p["d"] = 1
    return p


def _grouped_repair(p: Params, align: int = 8) -> Params | None:
    g = _i(p, "g")
    gw = max(4, min(64, _i(p, "ci") // g))  # group width 4..64 (ResNeXt, RegNet)
    ow = max(4, min(128, round(_i(p, "co") / g)))
    # An aligned channel draw (80%, see _ch) keeps its alignment in the group widths: real
    # grouped networks use widths of 8, 16, 32, 48, 64, and onnxruntime runs a grouped conv in its
    # blocked layout only when the widths fill whole blocks (3-10x faster than the NCHW path).
    # Both draws aligned: Cout = Cin, the grouped 3x3 of a ResNeXt/RegNet block.
    ci_aligned = align > 1 and _i(p, "ci") % align == 0
    if ci_aligned:
        gw = max(align, gw // align * align)
    if align > 1 and _i(p, "co") % align == 0:
        ow = gw if ci_aligned else max(align, ow // align * align)
    p["ci"] = g * gw
    p["co"] = g * ow
    if _i(p, "ci") > 2048 or _i(p, "co") > 2048:
        return None
    p["kw"] = p["kh"]
    return _conv_common(p)


def _depthwise_repair(p: Params) -> Params | None:
    c = _i(p, "ci")
    mult = max(1, min(2, round(_i(p, "co") / c)))
    p["g"] = c
    p["co"] = c * mult
    kh, kw = _i(p, "kh"), _i(p, "kw")
    if kh != kw and min(kh, kw) != 1:
        p["kw"] = kh
    return _conv_common(p)


def _stem_repair(p: Params) -> Params | None:
    p["kw"] = p["kh"]
    p["d"] = 1
    return _conv_common(p)


def _ch(hi: int) -> Dim:
    """A channel-like count from 8 to ``hi``, aligned to 8 in 80% of draws."""
    return Dim(8, hi, align=8, p_align=0.8)


_CH = _ch(2048)
_RES = Dim(7, 224)
_STRIDE = Dim(choices=(1, 2), p=(0.75, 0.25))
_DIL = Dim(choices=(1, 2, 3), p=(0.85, 0.1, 0.05))
_ONE = Dim(1, 1)

# --------------------------------------------------------------------------- GEMMs

_GEMM_ACTS = Dim(choices=(_ACT_NONE, "relu", "sigmoid", "tanh"), p=(0.55, 0.3, 0.1, 0.05))


def _gemm_cost(p: Params) -> tuple[float, float]:
    m, k, n = _i(p, "m"), _i(p, "k"), _i(p, "n")
    return 2.0 * m * k * n, float(F32 * (m * k + k * n + m * n + n * _i(p, "b")))


def _gemm_repair(p: Params) -> Params | None:
    if not _i(p, "b"):
        p["a"] = _ACT_NONE  # activations fuse only after a bias (MatMul+Add -> Gemm)
    return p


def _gemm_build(tokens: bool) -> Build:
    def build(name: str, p: Params) -> onnx.ModelProto:
        return sw.matmul_model(
            name,
            _i(p, "m"),
            _i(p, "k"),
            _i(p, "n"),
            tokens=tokens,
            bias=bool(_i(p, "b")),
            act=_act(p["a"]),
        )

    return build


def _fc_repair(p: Params) -> Params | None:
    p["k"] = _round_to(_i(p, "k"), 16)
    p["n"] = _round_to(_i(p, "n"), 16)
    if F32 * _i(p, "k") * _i(p, "n") < MB:
        return None  # weight-heavy layers only: >= 1 MB of weights
    return _gemm_repair(p)


# --------------------------------------------------------------------------- attention


def _attn_cost(p: Params) -> tuple[float, float]:
    h, s, d = _i(p, "h"), _i(p, "s"), _i(p, "d")
    flops = 4.0 * h * s * s * d + 5.0 * h * s * s
    # q, k, v, y once; the score matrix is written and read twice (Q K^T, softmax, @ V).
    return flops, float(F32 * (4 * h * s * d + 4 * h * s * s))


def _attn_repair(p: Params) -> Params | None:
    p["d"] = _round_to(_i(p, "d"), 8)
    return p


# --------------------------------------------------------------------------- data movement


def _copy_bytes(elements: int) -> float:
    return float(2 * F32 * elements)


#: Channels of parts 1-4 of a concat/split (0: no such part).
_PART_KEYS = ("ca", "cb", "cc", "cd")


def _concat_repair(p: Params) -> Params | None:
    n = _i(p, "n")
    for idx, key in enumerate(_PART_KEYS):
        if idx < 2:
            continue
        if idx >= n:
            p[key] = 0
        elif _i(p, key) == 0:
            p[key] = 8
    return p


def _parts(p: Params) -> list[int]:
    return [c for c in (_i(p, k) for k in _PART_KEYS) if c > 0]


_PART = _ch(1024)
_N_PARTS = Dim(choices=(2, 3, 4), p=(0.6, 0.2, 0.2))
_DM_RES = Dim(7, 112)


def _parts_dims() -> dict[str, Dim]:
    return {"n": _N_PARTS, **{k: _PART for k in _PART_KEYS}, "r": _DM_RES}


def _parts_cost(p: Params) -> tuple[float, float]:
    return 0.0, _copy_bytes(sum(_parts(p)) * _i(p, "r") ** 2)


def _slice_cost(p: Params) -> tuple[float, float]:
    c, r, mode = _i(p, "c"), _i(p, "r"), _s(p, "m")
    out = {"chan": (c // 2) * r * r, "crop": c * (r - 2) ** 2, "step2": c * ((r + 1) // 2) ** 2}
    return 0.0, float(F32 * (c * r * r + out[mode]))


def _slice_repair(p: Params) -> Params | None:
    if _s(p, "m") == "chan" and _i(p, "c") < 4:
        return None
    return p


def _pad_cost(p: Params) -> tuple[float, float]:
    c, r, q = _i(p, "c"), _i(p, "r"), _i(p, "p")
    return 0.0, float(F32 * c * (r * r + (r + 2 * q) ** 2))


def _pad_repair(p: Params) -> Params | None:
    return p if _i(p, "p") < _i(p, "r") else None


#: Transpose forms: (name, perm). ``nchw2nhwc`` and ``nhwc2nchw`` on [1, C, H, W] layouts,
#: ``heads`` swaps sequence and heads of [1, S, H, D] (attention reshapes), ``last2`` transposes
#: the last two axes of [1, A, B, C] (K^T).
TRANSPOSES: dict[str, tuple[int, ...]] = {
    "nchw2nhwc": (0, 2, 3, 1),
    "nhwc2nchw": (0, 3, 1, 2),
    "heads": (0, 2, 1, 3),
    "last2": (0, 1, 3, 2),
}


def _transpose_cost(p: Params) -> tuple[float, float]:
    return 0.0, _copy_bytes(_i(p, "x") * _i(p, "y") * _i(p, "z"))


def _transpose_repair(p: Params) -> Params | None:
    form = _s(p, "f")
    if form == "heads":
        p["y"] = max(1, min(16, _i(p, "y")))  # heads
    elif form in ("nchw2nhwc", "nhwc2nchw"):
        p["z"] = min(224, _i(p, "y"))
        p["y"] = p["z"]  # square spatial
    return p


def _transpose_build(name: str, p: Params) -> onnx.ModelProto:
    x, y, z, form = _i(p, "x"), _i(p, "y"), _i(p, "z"), _s(p, "f")
    shape = (1, y, z, x) if form == "nhwc2nchw" else (1, x, y, z)
    return sw.transpose_perm_model(name, shape, TRANSPOSES[form])


def _resize_cost(p: Params) -> tuple[float, float]:
    c, r = _i(p, "c"), _i(p, "r")
    out = c * (2 * r) ** 2
    flops = 7.0 * out if _s(p, "m") == "linear" else 0.0
    return flops, float(F32 * (c * r * r + out))


def _gather_cost(p: Params) -> tuple[float, float]:
    w, k = _i(p, "w"), _i(p, "k")
    return 0.0, float(F32 * (2 * k * w) + 8 * k)


def _gather_repair(p: Params) -> Params | None:
    p["k"] = min(_i(p, "k"), _i(p, "t"))
    return p


# --------------------------------------------------------------------------- pooling


def _pool_cost(p: Params) -> tuple[float, float]:
    c, r, k, s = _i(p, "c"), _i(p, "r"), _i(p, "k"), _i(p, "s")
    o = (r + 2 * (k // 2) - k) // s + 1
    return float(c * o * o * k * k), float(F32 * c * (r * r + o * o))


def _pool_repair(p: Params) -> Params | None:
    k, s = _i(p, "k"), _i(p, "s")
    if s > k:
        p["s"] = k
    if k > _i(p, "r"):
        return None
    return p


def _pool_build(name: str, p: Params) -> onnx.ModelProto:
    op = {"max": "MaxPool", "avg": "AveragePool"}[_s(p, "o")]
    return sw.pool_model(name, op, _i(p, "c"), _i(p, "r"), _i(p, "k"), _i(p, "s"))


def _gpool_cost(p: Params) -> tuple[float, float]:
    c, r = _i(p, "c"), _i(p, "r")
    return float(c * r * r), float(F32 * c * (r * r + 1))


def _gpool_build(name: str, p: Params) -> onnx.ModelProto:
    op = {"avg": "GlobalAveragePool", "max": "GlobalMaxPool"}[_s(p, "o")]
    return sw.pool_model(name, op, _i(p, "c"), _i(p, "r"))


# --------------------------------------------------------------------------- norms, elementwise


def _chw_cost(per: float) -> Cost:
    def cost(p: Params) -> tuple[float, float]:
        n = _i(p, "c") * _i(p, "r") ** 2
        return per * n, _copy_bytes(n)

    return cost


def _ln_cost(p: Params) -> tuple[float, float]:
    n = _i(p, "t") * _i(p, "w")
    return 8.0 * n, _copy_bytes(n)


def _gn_repair(p: Params) -> Params | None:
    g = _i(p, "g")
    p["c"] = _round_to(_i(p, "c"), g)
    return p if _i(p, "c") <= 1024 else None


_BIN_OPS = Dim(choices=("Add", "Mul", "Sub", "Div"), p=(0.45, 0.35, 0.1, 0.1))


def _bcast_cost(p: Params) -> tuple[float, float]:
    c, r, form = _i(p, "c"), _i(p, "r"), _s(p, "f")
    n = c * r * r
    other = {"same": n, "chan": c, "spatial": r * r, "scalar": 1}[form]
    return float(n), float(F32 * (2 * n + other))


#: Unary activations sampled alone (their FLOP-equivalents come from the elementary-work table
#: where the runtime has one).
ACTIVATIONS = (
    "Relu",
    "Sigmoid",
    "Tanh",
    "Erf",
    "Exp",
    "LeakyRelu",
    "HardSigmoid",
    "HardSwish",
    "Softplus",
    "Elu",
)


def _act_build(name: str, p: Params) -> onnx.ModelProto:
    c, r = _i(p, "c"), _i(p, "r")
    return sw.unary_model(name, _s(p, "o"), (1, c, r, r))


def _rows_cost(per: float) -> Cost:
    def cost(p: Params) -> tuple[float, float]:
        n = _i(p, "t") * _i(p, "w")
        return per * n, _copy_bytes(n)

    return cost


def _keep(p: Params) -> Params | None:
    return p


# --------------------------------------------------------------------------- the families

_C = KernelCategory


def _families() -> dict[str, Family]:
    fams = [
        Family(
            "dense",
            _C.CONV_DENSE,
            _conv_dims(
                cin=_CH,
                cout=_CH,
                res=_RES,
                kh=_ODD_K,
                kw=_ODD_K,
                stride=_STRIDE,
                dil=_DIL,
                groups=_ONE,
            ),
            _dense_repair,
            _conv_cost,
            _conv_build,
            doc="group 1, k 3-11 odd square or 1xk/kx1 (k 3, 5, 7), stride 1-2, dilation 1-3 "
            "(stride 1, k <= 7), Cin/Cout 8-2048, input 7-224, bias 0/1, fused activation",
        ),
        Family(
            "stem",
            _C.CONV_DENSE,
            _conv_dims(
                cin=Dim(choices=(1, 3, 4), p=(0.1, 0.8, 0.1)),
                cout=_ch(128),
                res=Dim(32, 224),
                kh=Dim(choices=(3, 5, 7, 11), p=(0.5, 0.1, 0.3, 0.1)),
                kw=_ONE,
                stride=Dim(choices=(1, 2, 4), p=(0.2, 0.6, 0.2)),
                dil=_ONE,
                groups=_ONE,
            ),
            _stem_repair,
            _conv_cost,
            _conv_build,
            doc="network stems: Cin 1/3/4, Cout 8-128, input 32-224, k 3/5/7/11, stride 1/2/4",
        ),
        Family(
            "pointwise",
            _C.CONV_POINTWISE,
            _conv_dims(
                cin=_CH,
                cout=_CH,
                res=Dim(7, 112),
                kh=_ONE,
                kw=_ONE,
                stride=Dim(choices=(1, 2), p=(0.9, 0.1)),
                dil=_ONE,
                groups=_ONE,
            ),
            _pointwise_repair,
            _conv_cost,
            _conv_build,
            doc="1x1, group 1, Cin/Cout 8-2048, input 7-112, stride 1-2",
        ),
        Family(
            "grouped",
            _C.CONV_GROUPED,
            _conv_dims(
                cin=_ch(2048),
                cout=_ch(2048),
                res=Dim(7, 112),
                kh=Dim(choices=(1, 3, 5, 7), p=(0.2, 0.6, 0.1, 0.1)),
                kw=_ONE,
                stride=_STRIDE,
                dil=Dim(choices=(1, 2), p=(0.9, 0.1)),
                groups=Dim(2, 64),
            ),
            _grouped_repair,
            _conv_cost,
            _conv_build,
            doc="groups 2-64 with group widths 4-64 (Cin = groups x width <= 2048), Cout per "
            "group 4-128, widths multiples of 8 and Cout = Cin in most draws, k 1/3/5/7, "
            "stride 1-2, dilation 1-2, input 7-112",
        ),
        Family(
            "depthwise",
            _C.CONV_DEPTHWISE,
            _conv_dims(
                cin=_CH,
                cout=_CH,
                res=_RES,
                kh=_ODD_K,
                kw=_ODD_K,
                stride=_STRIDE,
                dil=_DIL,
                groups=_ONE,
            ),
            _depthwise_repair,
            _conv_cost,
            _conv_build,
            doc="group = Cin 8-2048, multiplier 1-2, k 3-11 odd or 1xk/kx1, stride 1-2, "
            "dilation 1-3, input 7-224",
        ),
        Family(
            "matmul",
            _C.GEMM,
            {
                "m": Dim(1, 4096),
                "k": Dim(16, 4096),
                "n": Dim(16, 4096),
                "b": _BOOL,
                "a": _GEMM_ACTS,
            },
            _gemm_repair,
            _gemm_cost,
            _gemm_build(False),
            doc="[M, K] @ [K, N], M 1-4096, K and N 16-4096, with bias (Gemm) and activation",
        ),
        Family(
            "tokens",
            _C.GEMM,
            {
                "m": Dim(1, 4096),
                "k": Dim(64, 4096),
                "n": Dim(64, 4096),
                "b": _BOOL,
                "a": _GEMM_ACTS,
            },
            _gemm_repair,
            _gemm_cost,
            _gemm_build(True),
            doc="token-major [1, M, K] @ [K, N], M = tokens 1-4096, K and N 64-4096",
        ),
        Family(
            "fc",
            _C.GEMM,
            {
                "m": Dim(choices=(1,)),
                "k": Dim(256, 16384),
                "n": Dim(256, 16384),
                "b": _BOOL,
                "a": _GEMM_ACTS,
            },
            _fc_repair,
            _gemm_cost,
            _gemm_build(False),
            doc="weight-heavy fully connected layers, batch 1, K and N 256-16384 (multiples of "
            "16), weights K x N x 4 bytes from 1 MB up to max_bytes (~400 MB)",
        ),
        Family(
            "attention",
            _C.ATTENTION,
            {"h": Dim(1, 16), "s": Dim(16, 2048), "d": Dim(16, 128)},
            _attn_repair,
            _attn_cost,
            lambda name, p: sw.attention_model(name, _i(p, "h"), _i(p, "s"), _i(p, "d")),
            expected=frozenset({_C.GEMM, _C.REDUCTION}),
            doc="softmax(Q K^T) V, heads 1-16, sequence 16-2048, head dim 16-128 (multiple of 8); "
            "onnxruntime runs it as two batched MatMuls (gemm) and a Softmax (reduction)",
        ),
        Family(
            "concat",
            _C.DATA_MOVEMENT,
            _parts_dims(),
            _concat_repair,
            _parts_cost,
            lambda name, p: sw.concat_inputs_model(name, _parts(p), _i(p, "r")),
            doc="2-4 inputs of 8-1024 channels each along channels, spatial 7-112",
        ),
        Family(
            "split",
            _C.DATA_MOVEMENT,
            _parts_dims(),
            _concat_repair,
            _parts_cost,
            lambda name, p: sw.split_model(name, _parts(p), _i(p, "r")),
            doc="2-4 outputs of 8-1024 channels each along channels, spatial 7-112",
        ),
        Family(
            "slice",
            _C.DATA_MOVEMENT,
            {"c": _ch(2048), "r": Dim(7, 112), "m": Dim(choices=sw.SLICE_MODES)},
            _slice_repair,
            _slice_cost,
            lambda name, p: sw.slice_model(name, _i(p, "c"), _i(p, "r"), _s(p, "m")),
            doc="middle half of the channels, a 1-pixel border crop or stride-2 subsampling of "
            "[1, C 8-2048, 7-112, 7-112]",
        ),
        Family(
            "pad",
            _C.DATA_MOVEMENT,
            {
                "c": _ch(1024),
                "r": Dim(7, 112),
                "p": Dim(1, 3, log=False),
                "m": Dim(choices=sw.PAD_MODES, p=(0.7, 0.2, 0.1)),
            },
            _pad_repair,
            _pad_cost,
            lambda name, p: sw.pad_model(name, _i(p, "c"), _i(p, "r"), _i(p, "p"), _s(p, "m")),
            doc="constant/reflect/edge padding of 1-3 pixels on [1, C 8-1024, 7-112, 7-112]",
        ),
        Family(
            "transpose",
            _C.DATA_MOVEMENT,
            {
                "f": Dim(choices=tuple(TRANSPOSES)),
                "x": _ch(2048),
                "y": Dim(4, 224),
                "z": _ch(1024),
            },
            _transpose_repair,
            _transpose_cost,
            _transpose_build,
            doc="NCHW->NHWC and back on C 8-2048 x 4-224 square, [1,S,H,D]->[1,H,S,D] with "
            "H 1-16, and last-two-axes swaps",
        ),
        Family(
            "resize",
            _C.DATA_MOVEMENT,
            {"c": _ch(512), "r": Dim(7, 112), "m": Dim(choices=("nearest", "linear"))},
            _keep,
            _resize_cost,
            lambda name, p: sw.resize_model(name, _i(p, "c"), _i(p, "r"), _s(p, "m")),
            doc="2x nearest/linear upsampling of [1, C 8-512, 7-112, 7-112] (FPN, U-Net decoders)",
        ),
        Family(
            "gather",
            _C.DATA_MOVEMENT,
            {"t": Dim(16, 4096), "w": Dim(16, 4096), "k": Dim(1, 4096)},
            _gather_repair,
            _gather_cost,
            lambda name, p: sw.gather_model(name, _i(p, "t"), _i(p, "w"), _i(p, "k")),
            doc="Gather of k <= T rows (constant random indices) of a [1, T 16-4096, W 16-4096] "
            "activation",
        ),
        Family(
            "pool",
            _C.POOLING,
            {
                "o": Dim(choices=("max", "avg"), p=(0.6, 0.4)),
                "c": _ch(2048),
                "r": Dim(7, 224),
                "k": Dim(2, 7, log=False),
                "s": Dim(choices=(1, 2, 3), p=(0.3, 0.6, 0.1)),
            },
            _pool_repair,
            _pool_cost,
            _pool_build,
            doc="Max/AveragePool window 2-7, stride 1-3 (<= window), C 8-2048, input 7-224",
        ),
        Family(
            "global",
            _C.POOLING,
            {"o": Dim(choices=("avg", "max"), p=(0.8, 0.2)), "c": _ch(4096), "r": Dim(4, 112)},
            _keep,
            _gpool_cost,
            _gpool_build,
            doc="GlobalAverage/GlobalMaxPool, C 8-4096, input 4-112",
        ),
        Family(
            "batchnorm",
            _C.NORMALIZATION,
            {"c": _ch(2048), "r": Dim(4, 224)},
            _keep,
            _chw_cost(2.0),
            lambda name, p: sw.batchnorm_model(name, _i(p, "c"), _i(p, "r")),
            doc="BatchNormalization alone (nothing to fold into), C 8-2048, input 4-224",
        ),
        Family(
            "layernorm",
            _C.NORMALIZATION,
            {"t": Dim(1, 4096), "w": Dim(32, 4096)},
            _keep,
            _ln_cost,
            lambda name, p: sw.layernorm_model(name, _i(p, "t"), _i(p, "w")),
            doc="LayerNormalization over the last axis, rows 1-4096 x width 32-4096",
        ),
        Family(
            "groupnorm",
            _C.NORMALIZATION,
            {"c": _ch(1024), "r": Dim(4, 128), "g": Dim(choices=(1, 2, 4, 8, 16, 32))},
            _gn_repair,
            _chw_cost(8.0),
            lambda name, p: sw.groupnorm_model(name, _i(p, "c"), _i(p, "r"), _i(p, "g")),
            doc="GroupNormalization (opset 21), groups 1-32, C 8-1024 (multiple of groups), "
            "input 4-128",
        ),
        Family(
            "broadcast",
            _C.ELEMENTWISE,
            {
                "o": _BIN_OPS,
                "f": Dim(choices=sw.BROADCASTS, p=(0.4, 0.35, 0.15, 0.1)),
                "c": _ch(2048),
                "r": Dim(4, 224),
            },
            _keep,
            _bcast_cost,
            lambda name, p: sw.broadcast_model(
                name, _s(p, "o"), _i(p, "c"), _i(p, "r"), _s(p, "f")
            ),
            doc="Add/Mul/Sub/Div of [1,C,H,W] with [1,C,H,W], [1,C,1,1], [1,1,H,W] or a scalar, "
            "C 8-2048, spatial 4-224",
        ),
        Family(
            "activation",
            _C.ELEMENTWISE,
            {"o": Dim(choices=ACTIVATIONS), "c": _ch(2048), "r": Dim(4, 224)},
            _keep,
            _chw_cost(4.0),
            _act_build,
            doc=f"unary {', '.join(ACTIVATIONS)} on [1, C 8-2048, 4-224, 4-224]",
        ),
        Family(
            "softmax",
            _C.REDUCTION,
            {"t": Dim(1, 8192), "w": _ch(4096)},
            _keep,
            _rows_cost(5.0),
            lambda name, p: sw.unary_model(name, "Softmax", (1, _i(p, "t"), _i(p, "w")), axis=-1),
            doc="Softmax over the last axis, rows 1-8192 x width 8-4096",
        ),
        Family(
            "reducemean",
            _C.REDUCTION,
            {"t": Dim(1, 8192), "w": _ch(4096)},
            _keep,
            _rows_cost(1.0),
            lambda name, p: sw.reduce_model(name, _i(p, "t"), _i(p, "w")),
            doc="ReduceMean over the last axis, rows 1-8192 x width 8-4096",
        ),
    ]
    return {f.name: f for f in fams}


#: Every sampler family by name. Reshape/Flatten/Squeeze are not sampled: onnxruntime runs them
#: in place and the partitioner gives them no kernel, so a single-op model would measure nothing.
FAMILIES: dict[str, Family] = _families()

#: Share of a time budget each family gets (normalised over the families asked for). Convs carry
#: most of a CNN's time and the most shape features, so they get ~45%; GEMMs and attention ~25%;
#: memory-bound kernels (one or two features each: size and a mode) share the rest. Grouped
#: convolutions have the largest shape space of the convs (groups x channels per group x kernel):
#: with 10% of the budget the Xeon VM's held-out grouped-kernel error stayed at 40% (64 kernels),
#: so they take 4 points from dense and pointwise convs, whose errors were 9-10%.
WEIGHTS: dict[str, float] = {
    "dense": 0.12,
    "stem": 0.02,
    "pointwise": 0.07,
    "grouped": 0.14,
    "depthwise": 0.10,
    "matmul": 0.07,
    "tokens": 0.08,
    "fc": 0.04,
    "attention": 0.05,
    "concat": 0.025,
    "split": 0.015,
    "slice": 0.015,
    "pad": 0.015,
    "transpose": 0.025,
    "resize": 0.02,
    "gather": 0.015,
    "pool": 0.03,
    "global": 0.015,
    "batchnorm": 0.02,
    "layernorm": 0.03,
    "groupnorm": 0.015,
    "broadcast": 0.04,
    "activation": 0.04,
    "softmax": 0.02,
    "reducemean": 0.01,
}


def families_for(category_or_family: str) -> list[Family]:
    """The families of a kernel category (``conv_grouped``) or the one family of that name."""
    if category_or_family in FAMILIES:
        return [FAMILIES[category_or_family]]
    try:
        cat = KernelCategory(category_or_family)
    except ValueError:
        raise KeyError(
            f"{category_or_family!r} is neither a sampler family ({', '.join(FAMILIES)}) "
            "nor a kernel category"
        ) from None
    fams = [f for f in FAMILIES.values() if f.category == cat]
    if not fams:
        raise KeyError(f"no sampler family for category {cat}")
    return fams


# --------------------------------------------------------------------------- sampling


@dataclass(frozen=True, slots=True)
class Limits:
    """Where a case is accepted: ideal roofline time in [min_s, max_s], bytes <= max_bytes."""

    peak_flops: float = PEAK_FLOPS
    bandwidth: float = BANDWIDTH
    min_s: float = MIN_S
    max_s: float = MAX_S
    max_bytes: int = MAX_BYTES

    def accepts(self, fam: Family, params: Params) -> bool:
        flops, nbytes = fam.cost(params)
        if nbytes > self.max_bytes:
            return False
        t = max(flops / self.peak_flops, nbytes / self.bandwidth)
        return self.min_s <= t <= self.max_s

    def predicted_s(self, case: SweepCase) -> float:
        """Ideal roofline time of a sampled case (from its name's parameters)."""
        fam = FAMILIES[case.family]
        return fam.predicted_s(case.shape, self.peak_flops, self.bandwidth)


def _draw(fam: Family, rng: np.random.Generator) -> Params | None:
    p: Params = {k: d.draw(rng) for k, d in fam.dims.items()}
    if fam.category in (_C.CONV_DENSE, _C.CONV_DEPTHWISE) and fam.name != "stem":
        p = _draw_asym(p, rng)
    if fam.name == "fc":
        # Weight bytes log-uniform from 1 MB; aspect N/K log-uniform in [1/8, 8].
        w_elems = math.exp(rng.uniform(math.log(MB / F32), math.log(400 * MB / F32)))
        aspect = math.exp(rng.uniform(math.log(1 / 8), math.log(8)))
        p["k"] = int(min(16384, max(256, math.sqrt(w_elems / aspect))))
        p["n"] = int(min(16384, max(256, math.sqrt(w_elems * aspect))))
    return fam.repair(p)


def _accepted(
    fam: Family, rng: np.random.Generator, limits: Limits, max_tries: int
) -> Iterator[SweepCase]:
    """Accepted, distinct cases of ``fam`` in draw order (stops after ``max_tries`` draws)."""
    seen: set[str] = set()
    for _ in range(max_tries):
        p = _draw(fam, rng)
        if p is None or not limits.accepts(fam, p):
            continue
        case = fam.case(p)
        if case.name in seen:
            continue
        seen.add(case.name)
        yield case


def sample_family(
    fam: Family, n: int, rng: np.random.Generator, limits: Limits | None = None
) -> list[SweepCase]:
    """Up to ``n`` distinct accepted cases of the family ``fam`` (a custom one included)."""
    return list(itertools.islice(_accepted(fam, rng, limits or Limits(), 2000 * max(n, 1)), n))


def sample_cases(
    category_or_family: str,
    n: int,
    rng: np.random.Generator,
    *,
    peak_flops: float = PEAK_FLOPS,
    bandwidth: float = BANDWIDTH,
    min_s: float = MIN_S,
    max_s: float = MAX_S,
    max_bytes: int = MAX_BYTES,
    max_tries: int | None = None,
) -> list[SweepCase]:
    """``n`` distinct sampled cases of a family, or of a category's families (in turn).

    Raises ``RuntimeError`` when ``max_tries`` draws (default ``2000 n``) do not give ``n``
    accepted cases (limits that exclude the family's space)."""
    limits = Limits(peak_flops, bandwidth, min_s, max_s, max_bytes)
    fams = families_for(category_or_family)
    tries = max_tries if max_tries is not None else 2000 * max(n, 1)
    gens = [_accepted(f, rng, limits, tries) for f in fams]
    out: list[SweepCase] = []
    i = 0
    dead: set[int] = set()
    while len(out) < n and len(dead) < len(gens):
        j = i % len(gens)
        i += 1
        if j in dead:
            continue
        case = next(gens[j], None)
        if case is None:
            dead.add(j)
        else:
            out.append(case)
    if len(out) < n:
        raise RuntimeError(
            f"{category_or_family}: only {len(out)} of {n} cases within the limits {limits}"
        )
    return out


def measure_cost_s(
    t_kernel: float,
    *,
    warmup: int = 3,
    min_time_s: float = 0.25,
    min_repeats: int = 10,
    profile_runs: int = 15,
    max_profile_runs: int = 300,
    overhead_s: float = 0.5,
    slowdown: float = 3.0,
    run_overhead_s: float = 20e-6,
) -> float:
    """Predicted wall time of measuring one single-kernel model the way ``collect`` does
    (defaults: its ``Budget``): warmup, a timed loop of at least ``min_time_s`` and
    ``min_repeats`` runs, a profiled pass of ``profile_runs``..``max_profile_runs`` runs filling
    ``min_time_s``, plus ``overhead_s`` per model (two sessions, file write, attribution; 0.5 s
    matches ``collect`` on the 2-core development VM under load: 10 sampled cases in 8.5 s).

    A run takes ``t_kernel * slowdown + run_overhead_s``: the ideal roofline time over a typical
    efficiency (1/3) plus onnxruntime's per-run cost."""
    t = t_kernel * slowdown + run_overhead_s
    timed = max(min_repeats * t, min_time_s)
    profiled = max(profile_runs, min(int(min_time_s / t), max_profile_runs)) * t
    return overhead_s + (warmup + min(warmup, 2)) * t + timed + profiled


def _family_rng(seed: int, family: str) -> np.random.Generator:
    # One stream per (seed, family): changing a weight or adding a family leaves the others'
    # cases as they were.
    return np.random.default_rng([seed, sw.hash_name(family) % (2**32)])


def sample_all(
    budget_s: float,
    seed: int = 0,
    *,
    peak_flops: float = PEAK_FLOPS,
    bandwidth: float = BANDWIDTH,
    min_s: float = MIN_S,
    max_s: float = MAX_S,
    max_bytes: int = MAX_BYTES,
    weights: Mapping[str, float] | None = None,
    cost_s: Callable[[float], float] = measure_cost_s,
    max_tries: int = 200_000,
) -> list[SweepCase]:
    """Cases of every family (``weights``, default :data:`WEIGHTS`; a family left out or with
    weight 0 is not sampled) whose predicted measurement time ``cost_s(ideal time)`` adds up to
    ``budget_s`` (per thread count measured), each family drawing until its share is spent.
    Deterministic in ``seed``; families in :data:`FAMILIES` order."""
    limits = Limits(peak_flops, bandwidth, min_s, max_s, max_bytes)
    w = dict(WEIGHTS if weights is None else weights)
    unknown = set(w) - set(FAMILIES)
    if unknown:
        raise KeyError(f"unknown sampler families: {sorted(unknown)}")
    total = sum(v for v in w.values() if v > 0)
    out: list[SweepCase] = []
    if total <= 0 or budget_s <= 0:
        return out
    for name, fam in FAMILIES.items():
        share = budget_s * max(w.get(name, 0.0), 0.0) / total
        spent = 0.0
        if share <= 0:
            continue
        for case in _accepted(fam, _family_rng(seed, name), limits, max_tries):
            c = cost_s(fam.predicted_s(case.shape, peak_flops, bandwidth))
            if spent + c > share:
                break
            spent += c
            out.append(case)
    return out


def perturb(
    case: SweepCase,
    rng: np.random.Generator,
    *,
    scale: float = 0.2,
    move: float = 0.4,
    limits: Limits | None = None,
    tries: int = 50,
) -> SweepCase | None:
    """A sampled case near ``case``: each shape parameter moves with probability ``move`` (at
    least one does), ranges by a log-normal step of sd ``scale``, choices to a neighbouring
    choice; constraints repaired, within ``limits``; None when ``tries`` attempts give nothing
    new."""
    fam = FAMILIES[case.family]
    lim = limits or Limits()
    base = case.shape
    keys = list(base)
    for _ in range(tries):
        moving = rng.random(len(keys)) < move
        if not moving.any():
            moving[int(rng.integers(len(keys)))] = True
        p: Params = {
            k: fam.dims[k].perturb(v, rng, scale, force=True) if m else v
            for (k, v), m in zip(base.items(), moving, strict=True)
        }
        q = fam.repair(p)
        if q is None or not lim.accepts(fam, q):
            continue
        new = fam.case(q)
        if new.name != case.name:
            return new
    return None


def case_from_name(name: str) -> SweepCase | None:
    """The sampled case called ``name`` (``sweep/<category>/<family>/<tag>``), or None."""
    if not name.startswith(PREFIX):
        return None
    parts = name[len(PREFIX) :].split("/")
    if len(parts) != 3 or parts[1] not in FAMILIES:
        return None
    fam = FAMILIES[parts[1]]
    tokens = parts[2].split("-")
    if str(fam.category) != parts[0] or len(tokens) != len(fam.dims):
        return None
    p: Params = {}
    for key, tok in zip(fam.dims, tokens, strict=True):
        if not tok.startswith(key):
            return None
        raw = tok[len(key) :]
        p[key] = int(raw) if raw.isdigit() else raw
    case = fam.case(p)
    return case if case.name == name else None


def describe() -> str:
    """One line per family: its weight and shape ranges (docs and reports)."""
    return "\n".join(f"{n} ({WEIGHTS.get(n, 0):.3f}): {f.doc}" for n, f in FAMILIES.items())


__all__: Sequence[str] = (
    "FAMILIES",
    "WEIGHTS",
    "Dim",
    "Family",
    "Limits",
    "case_from_name",
    "describe",
    "families_for",
    "measure_cost_s",
    "perturb",
    "sample_all",
    "sample_cases",
)
