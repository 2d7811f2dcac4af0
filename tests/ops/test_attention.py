"""Scaled dot-product attention counts, worked out by hand."""

from __future__ import annotations

from estimator.ir import DType, Node, TensorInfo
from estimator.ops import cost_of


def t(name: str, *shape: int, dtype: DType = DType.FLOAT32) -> TensorInfo:
    return TensorInfo(name, tuple(shape), dtype)


Q = t("q", 2, 8, 16, 64)
K = t("k", 2, 2, 32, 64)  # grouped-query: Hkv = 2 < H = 8
V = t("v", 2, 2, 32, 48)
Y = t("y", 2, 8, 16, 48)


def test_gqa_attention() -> None:
    # scores = B*H*Lq*Lk = 2*8*16*32 = 8192
    # MACs = 8192*64 (QK^T) + 8192*48 (PV) = 524288 + 393216 = 917504
    # FLOPs = 2*917504 + 8192*(5 softmax + 1 scale) = 1835008 + 49152 = 1884160
    # read = (2*8*16*64 + 2*2*32*64 + 2*2*32*48)*4 = (16384 + 8192 + 6144)*4 = 122880
    # written = 2*8*16*48*4 = 49152
    c = cost_of(Node("a", "Attention", (Q, K, V), (Y,), {"num_heads": 8, "is_causal": 0}))
    assert (c.macs, c.flops, c.params) == (917504, 1884160, 0)
    assert (c.bytes_read, c.bytes_written) == (122880, 49152)


def test_causal_counts_full_scores_plus_mask() -> None:
    # Full products (documented choice) + 1 mask add per score: 1884160 + 8192 = 1892352
    c = cost_of(Node("a", "Attention", (Q, K, V), (Y,), {"num_heads": 8, "is_causal": 1}))
    assert (c.macs, c.flops) == (917504, 1892352)


def test_explicit_mask_operand() -> None:
    # bool mask [16,32] (512 B) read as an operand; +1 FLOP per score: 1892352
    mask = t("m", 16, 32, dtype=DType.BOOL)
    c = cost_of(Node("a", "Attention", (Q, K, V, mask), (Y,), {"num_heads": 8}))
    assert c.flops == 1892352
    assert c.bytes_read == 122880 + 512
