"""Cross-check MAC counts against torch.utils.flop_counter, an independent counter.

torch counts 2 FLOPs per MAC and leaves out biases, softmax and scaling, so its total is exactly
2 * our MACs for these ops. (Its counter skips matrix-vector products, so 1-D operands are
checked by hand in test_matmul.py instead.)
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from estimator.ir import DType, Node, TensorInfo  # noqa: E402
from estimator.ops import cost_of  # noqa: E402


def info(name: str, x: object, const: bool = False) -> TensorInfo:
    return TensorInfo(name, tuple(x.shape), DType.FLOAT32, is_const=const)  # type: ignore[attr-defined]


def torch_flops(fn: object, *args: object, **kwargs: object) -> tuple[int, object]:
    with FlopCounterMode(display=False) as mode:
        out = fn(*args, **kwargs)  # type: ignore[operator]
    return int(mode.get_total_flops()), out


@pytest.mark.parametrize(
    ("xs", "ws", "kw"),
    [
        ((2, 8, 10, 10), (16, 4, 3, 3), {"stride": 2, "padding": 1, "groups": 2}),
        ((1, 3, 9, 9), (4, 3, 3, 3), {"dilation": 2}),
        ((1, 4, 20), (6, 4, 5), {"padding": 2}),
        ((1, 2, 4, 8, 8), (3, 2, 3, 3, 3), {"padding": 1}),
    ],
)
def test_conv_matches_torch(xs: tuple[int, ...], ws: tuple[int, ...], kw: dict[str, int]) -> None:
    x, w = torch.randn(xs), torch.randn(ws)
    conv = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[len(xs)]
    ref, y = torch_flops(conv, x, w, **kw)
    c = cost_of(Node("n", "Conv", (info("x", x), info("w", w, True)), (info("y", y),)))
    assert 2 * c.macs == ref


def test_conv_transpose_matches_torch() -> None:
    x, w = torch.randn(1, 4, 5, 5), torch.randn(4, 2, 3, 3)
    ref, y = torch_flops(F.conv_transpose2d, x, w, groups=2, stride=2)
    c = cost_of(Node("n", "ConvTranspose", (info("x", x), info("w", w, True)), (info("y", y),)))
    assert 2 * c.macs == ref


@pytest.mark.parametrize(
    ("sa", "sb"), [((2, 1, 3, 4), (5, 4, 6)), ((7, 4), (4, 9)), ((5, 4), (3, 4, 2))]
)
def test_matmul_matches_torch(sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    a, b = torch.randn(sa), torch.randn(sb)
    ref, y = torch_flops(torch.matmul, a, b)
    c = cost_of(Node("n", "MatMul", (info("a", a), info("b", b)), (info("y", y),)))
    assert 2 * c.macs == ref


@pytest.mark.parametrize(
    ("equation", "shapes"),
    [
        ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
        ("ab,bc,cd,de->ae", [(2, 3), (3, 4), (4, 5), (5, 6)]),
        ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
        ("b...ij,jk->b...ik", [(2, 3, 4, 5), (5, 6)]),
        ("...ij,jk", [(2, 3, 4), (4, 5)]),
    ],
)
def test_einsum_matches_torch(equation: str, shapes: list[tuple[int, ...]]) -> None:
    ts = [torch.randn(s) for s in shapes]
    ref, y = torch_flops(torch.einsum, equation, *ts)
    ins = tuple(info(f"t{i}", x) for i, x in enumerate(ts))
    c = cost_of(Node("n", "Einsum", ins, (info("y", y),), {"equation": equation}))
    assert 2 * c.macs == ref


def test_attention_matches_torch() -> None:
    q, k, v = torch.randn(2, 8, 16, 64), torch.randn(2, 8, 32, 64), torch.randn(2, 8, 32, 48)
    ref, y = torch_flops(F.scaled_dot_product_attention, q, k, v)
    ins = (info("q", q), info("k", k), info("v", v))
    c = cost_of(Node("n", "Attention", ins, (info("y", y),), {"num_heads": 8}))
    assert 2 * c.macs == ref
