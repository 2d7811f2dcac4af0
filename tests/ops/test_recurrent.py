"""LSTM, GRU and RNN counts, worked out by hand."""

from __future__ import annotations

from estimator.ir import DType, Node, TensorInfo
from estimator.ops import cost_of


def t(name: str, *shape: int, const: bool = False) -> TensorInfo:
    return TensorInfo(name, tuple(shape), DType.FLOAT32, is_const=const)


def test_lstm_bidirectional_with_bias() -> None:
    # X [seq 5, batch 2, input 3], H = 4, 2 directions; W [2,16,3], R [2,16,4], B [2,32]
    # per step/dir/row MACs = 4H*(input+H) = 16*7 = 112; steps*dirs = 5*2*2 = 20 -> MACs 2240
    # cell = 18H + bias 2*4H = 72 + 32 = 104 per step/dir/row -> 20*104 = 2080
    # FLOPs = 2*2240 + 2080 = 6560; params = 96 + 128 + 64 = 288
    ins = (
        t("x", 5, 2, 3),
        t("w", 2, 16, 3, const=True),
        t("r", 2, 16, 4, const=True),
        t("b", 2, 32, const=True),
    )
    outs = (t("y", 5, 2, 2, 4), t("yh", 2, 2, 4), t("yc", 2, 2, 4))
    c = cost_of(Node("n", "LSTM", ins, outs, {"hidden_size": 4, "direction": "bidirectional"}))
    assert (c.macs, c.flops, c.params) == (2240, 6560, 288)


def test_gru_bidirectional_no_bias_with_initial_state() -> None:
    # W [2,12,3], R [2,12,4], initial_h [2,2,4] (an input, not a bias, not a parameter)
    # MACs = 20 * 3H*(3+4) = 20*84 = 1680; cell 15H = 60 -> 1200; FLOPs = 3360 + 1200 = 4560
    # params = 72 + 96 = 168
    ins = (
        t("x", 5, 2, 3),
        t("w", 2, 12, 3, const=True),
        t("r", 2, 12, 4, const=True),
        t("h0", 2, 2, 4),
    )
    c = cost_of(Node("n", "GRU", ins, (t("y", 5, 2, 2, 4),), {"hidden_size": 4}))
    assert (c.macs, c.flops, c.params) == (1680, 4560, 168)


def test_rnn_forward_with_bias() -> None:
    # W [1,4,3], R [1,4,4], B [1,8]: MACs = 10 * 4*7 = 280; cell H + 2H = 12 -> 120
    # FLOPs = 560 + 120 = 680; params = 12 + 16 + 8 = 36
    ins = (
        t("x", 5, 2, 3),
        t("w", 1, 4, 3, const=True),
        t("r", 1, 4, 4, const=True),
        t("b", 1, 8, const=True),
    )
    c = cost_of(Node("n", "RNN", ins, (t("y", 5, 1, 2, 4),), {"hidden_size": 4}))
    assert (c.macs, c.flops, c.params) == (280, 680, 36)
