"""Tests of the torch frontend on tiny modules; every expected number is worked out by hand."""

from __future__ import annotations

import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from estimator.errors import InputError
from estimator.frontends.torch_fx import from_torch
from estimator.ir import DType, Graph, Node


def ops(g: Graph) -> list[str]:
    return [n.op for n in g.nodes]


def only(g: Graph, op: str) -> Node:
    found = [n for n in g.nodes if n.op == op]
    assert len(found) == 1, f"expected one {op}, got {ops(g)}"
    return found[0]


def shapes(ts: tuple) -> list[tuple[int, ...]]:
    return [t.shape for t in ts]


# -- layers ------------------------------------------------------------------------------------
def test_conv2d_attributes_groups_dilation_stride_padding() -> None:
    conv = nn.Conv2d(4, 8, 3, stride=2, padding=2, dilation=2, groups=2)
    g = from_torch(nn.Sequential(conv), torch.randn(1, 4, 16, 16))
    n = only(g, "Conv")
    assert n.attrs == {
        "kernel_shape": (3, 3),
        "strides": (2, 2),
        "pads": (2, 2, 2, 2),
        "dilations": (2, 2),
        "group": 2,
    }
    # W is [Cout, Cin/group, k, k] = [8, 2, 3, 3]; out = floor((16 + 2*2 - 2*(3-1) - 1)/2) + 1 = 8
    assert shapes(n.inputs) == [(1, 4, 16, 16), (8, 2, 3, 3), (8,)]
    assert n.outputs[0].shape == (1, 8, 8, 8)
    assert n.source == "0" and n.source_op == "torch.nn.Conv2d"
    assert [t.name for t in n.weights] == ["0.weight", "0.bias"]


def test_conv_same_padding_and_reflect_mode() -> None:
    # kernel 4, dilation 1: total pad 3 -> torch puts 1 before and 2 after (per spatial dim)
    same = nn.Conv2d(2, 2, 4, padding="same", bias=False)
    n = only(from_torch(same, (1, 2, 9, 9)), "Conv")
    assert n.attrs["pads"] == (1, 1, 2, 2)
    assert n.outputs[0].shape == (1, 2, 9, 9)
    refl = nn.Conv1d(2, 3, 3, padding=1, padding_mode="reflect")
    g = from_torch(refl, (1, 2, 10))
    assert ops(g) == ["Pad", "Conv"]
    pad, conv = g.nodes
    # ONNX pads over (N, C, L): begins (0, 0, 1), ends (0, 0, 1); padded length 10 + 2 = 12
    assert pad.attrs == {"pads": (0, 0, 1, 0, 0, 1), "mode": "reflect"}
    assert pad.outputs[0].shape == (1, 2, 12)
    assert conv.attrs["pads"] == (0, 0) and conv.outputs[0].shape == (1, 3, 10)


def test_conv_transpose_output_padding() -> None:
    m = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    n = only(from_torch(m, (1, 4, 5, 5)), "ConvTranspose")
    # W [Cin, Cout/group, k, k] = [4, 3, 3, 3]; out = (5-1)*2 - 2*1 + 3 + 1 = 10
    assert shapes(n.inputs)[1] == (4, 3, 3, 3)
    assert n.attrs["output_padding"] == (1, 1) and n.attrs["group"] == 2
    assert n.outputs[0].shape == (1, 6, 10, 10)


def test_linear_on_rank3_input_is_gemm_transb() -> None:
    g = from_torch(nn.Linear(16, 32), (2, 5, 16))
    n = only(g, "Gemm")
    assert n.attrs["transB"] == 1 and n.attrs["transA"] == 0
    assert shapes(n.inputs) == [(2, 5, 16), (32, 16), (32,)]
    assert n.outputs[0].shape == (2, 5, 32)
    assert [t.name for t in g.inputs] == ["input"]  # nn.Linear.forward(self, input)


def test_batchnorm_has_four_const_operands() -> None:
    m = nn.Sequential(nn.Conv2d(3, 8, 1), nn.BatchNorm2d(8), nn.BatchNorm2d(8, affine=False))
    g = from_torch(m, (1, 3, 4, 4))
    bn, bn_plain = [n for n in g.nodes if n.op == "BatchNormalization"]
    assert [t.name for t in bn.weights] == [
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
    ]
    assert all(t.shape == (8,) for t in bn.weights) and bn.attrs["epsilon"] == 1e-5
    # affine=False: scale and B are implicit constants, still 4 const operands of shape [8]
    assert len(bn_plain.inputs) == 5 and len(bn_plain.weights) == 4
    # parameters: conv 8*3 + 8 = 32, bn 8 + 8 = 16 -> 48 = sum(p.numel())
    assert sum(g.metadata["parameters"].values()) == 48 == sum(p.numel() for p in m.parameters())


def test_norms_and_activations() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln = nn.LayerNorm([4, 6])
            self.gn = nn.GroupNorm(2, 4)
            self.inorm = nn.InstanceNorm2d(4)
            self.act = nn.Sequential(nn.ReLU6(), nn.GELU("tanh"), nn.SiLU(), nn.Hardswish(),
                                     nn.LeakyReLU(0.2), nn.Softmax(dim=-1))  # fmt: skip

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.inorm(self.gn(self.ln(x))))

    g = from_torch(Net(), (2, 4, 4, 6))
    assert ops(g) == [
        "LayerNormalization",
        "GroupNormalization",
        "InstanceNormalization",
        "Clip",
        "Gelu",
        "Silu",
        "HardSwish",
        "LeakyRelu",
        "Softmax",
    ]
    assert only(g, "LayerNormalization").attrs["axis"] == 2  # rank 4 - len([4, 6])
    assert only(g, "GroupNormalization").attrs["num_groups"] == 2
    assert only(g, "Gelu").attrs["approximate"] == "tanh"
    assert only(g, "LeakyRelu").attrs["alpha"] == 0.2
    assert only(g, "Softmax").attrs["axis"] == 3
    assert only(g, "Clip").attrs == {"min": 0.0, "max": 6.0}


def test_pools() -> None:
    m = nn.Sequential(
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.AvgPool2d(2, count_include_pad=False),
        nn.AdaptiveAvgPool2d((2, 2)),
        nn.AdaptiveAvgPool2d(1),
    )
    g = from_torch(m, (1, 2, 17, 17))
    assert ops(g) == ["MaxPool", "AveragePool", "AveragePool", "GlobalAveragePool"]
    mp, ap, adap, _ = g.nodes
    # ceil((17 + 2 - 3) / 2) + 1 = 9
    assert mp.outputs[0].shape == (1, 2, 9, 9) and mp.attrs["ceil_mode"] == 1
    assert mp.attrs["pads"] == (1, 1, 1, 1)
    assert ap.attrs["count_include_pad"] == 0 and ap.outputs[0].shape == (1, 2, 4, 4)
    # adaptive 4 -> 2: stride 4 // 2 = 2, kernel 4 - (2 - 1) * 2 = 2
    assert adap.attrs["kernel_shape"] == (2, 2) and adap.attrs["strides"] == (2, 2)
    assert g.outputs[0].shape == (1, 2, 1, 1)


def test_dropout_identity_are_dropped_and_embedding_is_gather() -> None:
    m = nn.Sequential(nn.Embedding(100, 8), nn.Dropout(0.1), nn.Identity(), nn.Flatten())
    g = from_torch(m, (torch.zeros(2, 5, dtype=torch.long),))
    assert ops(g) == ["Gather", "Flatten"]
    gather = g.nodes[0]
    assert shapes(gather.inputs) == [(100, 8), (2, 5)]
    assert gather.inputs[0].is_const and gather.inputs[1].dtype == DType.INT64
    assert g.outputs[0].shape == (2, 40)


# -- attention ---------------------------------------------------------------------------------
def test_multihead_attention_expands_into_gemm_and_attention() -> None:
    mha = nn.MultiheadAttention(16, 4, batch_first=True)

    class Self(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = mha

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.mha(x, x, x, need_weights=False)[0]

    g = from_torch(Self(), (2, 5, 16))
    gemms = [n for n in g.nodes if n.op == "Gemm"]
    # one packed in-projection [2, 5, 16] x [48, 16]^T -> [2, 5, 48], one out-projection
    assert [n.outputs[0].shape for n in gemms] == [(2, 5, 48), (2, 5, 16)]
    assert gemms[0].inputs[1].name == "mha.in_proj_weight"
    attn = only(g, "Attention")
    # heads: 16 / 4 = 4 per head, Q/K/V [B=2, H=4, L=5, D=4]
    assert shapes(attn.inputs) == [(2, 4, 5, 4)] * 3
    assert attn.attrs["num_heads"] == 4
    assert g.outputs[0].shape == (2, 5, 16)
    assert all(n.source == "mha" for n in g.nodes)

    class Cross(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = nn.MultiheadAttention(16, 2)

        def forward(self, q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
            return self.mha(q, kv, kv, need_weights=False)[0]

    g2 = from_torch(Cross(), ((3, 2, 16), (7, 2, 16)))  # seq-first [L, N, E]
    assert [n.outputs[0].shape for n in g2.nodes if n.op == "Gemm"] == [
        (3, 2, 16),
        (7, 2, 16),
        (7, 2, 16),
        (3, 2, 16),
    ]
    attn2 = only(g2, "Attention")
    assert shapes(attn2.inputs) == [(2, 2, 3, 8), (2, 2, 7, 8), (2, 2, 7, 8)]
    # packed weight split in 3 blocks of 16 rows; parameter count unchanged:
    # 3*16*16 + 3*16 + 16*16 + 16 = 1088
    assert (
        sum(g2.metadata["parameters"].values()) == 1088 == sum(p.numel() for p in g2_params(Cross))
    )


def g2_params(cls: type[nn.Module]) -> list[torch.nn.Parameter]:
    return list(cls().parameters())


def test_sdpa_maps_to_attention() -> None:
    class Sdpa(nn.Module):
        def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return F.scaled_dot_product_attention(
                q, k, v, is_causal=True, scale=0.125, enable_gqa=True
            )

    g = from_torch(Sdpa(), ((1, 8, 10, 64), (1, 2, 12, 64), (1, 2, 12, 32)))
    n = only(g, "Attention")
    assert n.attrs == {"num_heads": 8, "is_causal": 1, "scale": 0.125}
    assert n.outputs[0].shape == (1, 8, 10, 32)
    assert n.source_op == "torch._C._nn.scaled_dot_product_attention"


# -- recurrent ---------------------------------------------------------------------------------
def test_lstm_two_layers_bidirectional() -> None:
    m = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
    g = from_torch(m, (7, 3, 10))
    layers = [n for n in g.nodes if n.op == "LSTM"]
    assert len(layers) == 2
    # G*H = 4*20 = 80; layer 0 input 10, layer 1 input 2*20 = 40; B = 2*G*H = 160
    assert shapes(layers[0].inputs) == [(7, 3, 10), (2, 80, 10), (2, 80, 20), (2, 160)]
    assert shapes(layers[1].inputs) == [(7, 3, 40), (2, 80, 40), (2, 80, 20), (2, 160)]
    assert layers[0].attrs == {"hidden_size": 20, "layout": 0, "direction": "bidirectional"}
    assert g.outputs[0].shape == (7, 3, 40)
    assert [t.shape for t in g.outputs[1:]] == [(4, 3, 20), (4, 3, 20)]
    assert sum(g.metadata["parameters"].values()) == sum(p.numel() for p in m.parameters())


def test_gru_batch_first() -> None:
    g = from_torch(nn.GRU(6, 5, batch_first=True), (2, 9, 6))
    gru = only(g, "GRU")
    # G*H = 3*5 = 15; X is transposed to [seq, batch, input] = [9, 2, 6]
    assert shapes(gru.inputs) == [(9, 2, 6), (1, 15, 6), (1, 15, 5), (1, 30)]
    assert gru.attrs["direction"] == "forward" and g.outputs[0].shape == (2, 9, 5)


# -- functions and views ------------------------------------------------------------------------
def test_einsum_matmul_and_elementwise() -> None:
    class Net(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            c = torch.einsum("bij,bjk->bik", a, b)
            return torch.sigmoid(c @ b.transpose(1, 2) * 2.0 + a)

    g = from_torch(Net(), ((2, 3, 4), (2, 4, 5)))
    assert ops(g) == ["Einsum", "Transpose", "MatMul", "Mul", "Add", "Sigmoid"]
    ein = g.nodes[0]
    assert ein.attrs == {"equation": "bij,bjk->bik"} and ein.outputs[0].shape == (2, 3, 5)
    assert only(g, "Mul").attrs == {"scalar": 2.0} and len(only(g, "Mul").inputs) == 1


def test_views_produce_view_ops_and_sizes_are_folded() -> None:
    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, c = x.size(0), x.shape[1]
            y = x.view(b, c, -1).permute(0, 2, 1).contiguous()
            y = y.unsqueeze(1).squeeze(1).reshape(b, -1)
            return torch.flatten(y, 1)[:, 2:10]

    g = from_torch(Net(), (2, 3, 4, 4))
    assert ops(g) == ["Reshape", "Transpose", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Slice"]
    assert [n.is_view for n in g.nodes] == [True, False, True, True, True, True, False]
    assert g.nodes[1].attrs["perm"] == (0, 2, 1)
    assert g.nodes[-1].attrs["starts"] == (2,) and g.nodes[-1].outputs[0].shape == (2, 8)
    # x.size(0), x.shape (getattr), shape[1] (getitem): 3 nodes evaluated at trace time
    assert g.metadata["folded_nodes"] == 3


def test_unknown_op_is_kept_with_native_name() -> None:
    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cumprod(x, dim=1) + 1

    g = from_torch(Net(), (2, 6))
    unknown = g.nodes[0]
    assert unknown.op == "torch.cumprod" and not unknown.known
    assert unknown.inputs[0].name == "x" and unknown.outputs[0].shape == (2, 6)
    assert g.nodes[1].op == "Add"


def test_factories_in_forward_are_folded_constants() -> None:
    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mask = torch.ones(x.shape[-1], x.shape[-1]).triu(1).bool()
            return x.masked_fill(mask, 0.0).to(torch.float16)

    g = from_torch(Net(), (4, 4))
    assert ops(g) == ["Where", "Cast"]
    where = g.nodes[0]
    assert where.inputs[0].is_const and where.inputs[0].dtype == DType.BOOL
    assert g.nodes[1].attrs["to"] == "float16" and g.outputs[0].dtype == DType.FLOAT16


# -- tracing fallback ---------------------------------------------------------------------------
class ShapeLoop(nn.Module):
    """``range(x.shape[1])`` defeats symbolic_trace (a Proxy is not an int); export specializes."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(x.shape[1]):
            x = torch.relu(self.lin(x))
        return x


def test_fallback_to_torch_export() -> None:
    with pytest.raises(TypeError):
        torch.fx.symbolic_trace(ShapeLoop())
    g = from_torch(ShapeLoop(), (2, 3, 4))
    assert g.metadata["tracer"] == "torch.export"
    # x.shape[1] = 3 iterations of Linear + ReLU
    assert ops(g) == ["Gemm", "Relu"] * 3
    gemm = g.nodes[0]
    assert shapes(gemm.inputs) == [(2, 3, 4), (4, 4), (4,)] and gemm.attrs["transB"] == 1
    assert gemm.source == "lin"
    assert [t.name for t in gemm.weights] == ["lin.weight", "lin.bias"]


class ShapeBranchNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.lstm = nn.LSTM(8, 6, num_layers=2, bidirectional=True, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(self.conv(x)))
        if y.shape[-1] > 2:  # Python branch on a shape: symbolic_trace cannot take it
            y = F.max_pool2d(y, 2)
        out, _ = self.lstm(y.flatten(2).transpose(1, 2))
        return out


def test_export_path_maps_aten_conv_bn_pool_lstm() -> None:
    m = ShapeBranchNet()
    g = from_torch(m, (1, 3, 8, 8))
    assert g.metadata["tracer"] == "torch.export"
    conv = only(g, "Conv")
    # out = floor((8 + 2 - 3) / 2) + 1 = 4
    assert conv.attrs["strides"] == (2, 2) and conv.attrs["pads"] == (1, 1, 1, 1)
    assert conv.outputs[0].shape == (1, 8, 4, 4) and conv.source == "conv"
    bn = only(g, "BatchNormalization")
    assert [t.name for t in bn.weights] == [
        "bn.weight",
        "bn.bias",
        "bn.running_mean",
        "bn.running_var",
    ]
    assert only(g, "MaxPool").outputs[0].shape == (1, 8, 2, 2)
    layers = [n for n in g.nodes if n.op == "LSTM"]
    # G*H = 4*6 = 24; layer 0 reads 8 features, layer 1 reads 2*6 = 12
    assert [shapes(n.inputs)[1:4] for n in layers] == [
        [(2, 24, 8), (2, 24, 6), (2, 48)],
        [(2, 24, 12), (2, 24, 6), (2, 48)],
    ]
    assert g.outputs[0].shape == (1, 4, 12)
    assert sum(g.metadata["parameters"].values()) == sum(p.numel() for p in m.parameters())


def test_meta_twin_leaves_the_real_lstm_usable() -> None:
    m = nn.LSTM(4, 3)
    from_torch(m, (5, 2, 4))
    assert all(t is not None and t.device.type == "cpu" for t in m._flat_weights)
    out, _ = m(torch.randn(5, 2, 4))  # still computes on the real weights
    assert out.shape == (5, 2, 3)


def test_data_dependent_control_flow_is_an_input_error() -> None:
    class DataDependent(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > 0:
                return x * 2
            return x

    with pytest.raises(InputError, match="cannot trace DataDependent"):
        from_torch(DataDependent(), (2, 2))


# -- inputs and the caller's module --------------------------------------------------------------
def test_inputs_forms_and_module_left_untouched() -> None:
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
            return self.lin(x) if y is None else self.lin(x) + y

    m = Two().train()
    g_kw = from_torch(m, {"x": torch.randn(2, 3), "y": torch.randn(2, 3)})
    assert [t.name for t in g_kw.inputs] == ["x", "y"] and ops(g_kw) == ["Gemm", "Add"]
    g_shape = from_torch(m, (5, 3))
    assert ops(g_shape) == ["Gemm"] and g_shape.inputs[0].dtype == DType.FLOAT32
    g_half = from_torch(m.half(), torch.empty(2, 3, dtype=torch.float16, device="meta"))
    assert g_half.nodes[0].inputs[1].dtype == DType.FLOAT16
    assert m.training and m.lin.weight.device.type == "cpu"
    with pytest.raises(InputError):
        from_torch(m, "not an input")


def test_tied_weights_share_one_name() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(50, 8)
            self.head = nn.Linear(8, 50, bias=False)
            self.head.weight = self.emb.weight

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.head(self.emb(ids))

    m = Tied()
    g = from_torch(m, torch.zeros(1, 4, dtype=torch.long))
    gather, gemm = g.nodes
    assert gather.inputs[0].name == gemm.inputs[1].name == "emb.weight"
    # 50*8 = 400 stored once
    assert g.metadata["parameters"] == {"emb.weight": 400}


def test_ir_parameter_count_matches_torch() -> None:
    m = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, groups=4),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )
    g = from_torch(m, (1, 3, 16, 16))
    param_names = {k for k, _ in m.named_parameters()}
    consts = {t.name: t.numel for n in g.nodes for t in n.weights if t.name in param_names}
    # 16*3*9 + (16 + 16) + (16*4*9 + 16) + (16*10 + 10) = 432 + 32 + 592 + 170 = 1226
    assert sum(consts.values()) == 1226 == sum(p.numel() for p in m.parameters())
    assert set(g.metadata["buffers"]) == {"1.running_mean", "1.running_var"}


# -- a Llama-sized decoder on the meta device ------------------------------------------------------
class Block(nn.Module):
    def __init__(self, d: int, ffn: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.attn_norm = nn.RMSNorm(d)
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, d, bias=False)
        self.v = nn.Linear(d, d, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.mlp_norm = nn.RMSNorm(d)
        self.gate = nn.Linear(d, ffn, bias=False)
        self.up = nn.Linear(d, ffn, bias=False)
        self.down = nn.Linear(ffn, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        h = self.attn_norm(x)
        q, k, v = (
            p(h).view(b, s, self.heads, -1).transpose(1, 2) for p in (self.q, self.k, self.v)
        )
        pos = torch.arange(s, device=x.device)
        cos = torch.cos(pos[:, None] * 0.01)  # folded: depends on constants only
        q = q * cos
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, s, d))
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Decoder(nn.Module):
    def __init__(self, layers: int, d: int = 4096, ffn: int = 11008, heads: int = 32,
                 vocab: int = 32000) -> None:  # fmt: skip
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(Block(d, ffn, heads) for _ in range(layers))
        self.norm = nn.RMSNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


def test_meta_decoder_7b_dims_two_layers() -> None:
    with torch.device("meta"):
        m = Decoder(layers=2)
    t0 = time.perf_counter()
    g = from_torch(m, torch.zeros(1, 128, dtype=torch.long, device="meta"))
    elapsed = time.perf_counter() - t0
    # per layer: 4*4096*4096 = 67,108,864 (attn) + 3*4096*11008 = 135,266,304 (mlp)
    #            + 2*4096 = 8,192 (norms) -> 202,383,360; 2 layers = 404,766,720
    # embed 32000*4096 = 131,072,000, lm_head the same, final norm 4,096
    # total = 404,766,720 + 262,144,000 + 4,096 = 666,914,816
    assert sum(g.metadata["parameters"].values()) == 666_914_816
    assert sum(p.numel() for p in m.parameters()) == 666_914_816
    attn = [n for n in g.nodes if n.op == "Attention"]
    assert len(attn) == 2 and attn[0].attrs["num_heads"] == 32 and attn[0].attrs["is_causal"] == 1
    assert shapes(attn[0].inputs) == [(1, 32, 128, 128)] * 3
    assert len([n for n in g.nodes if n.op == "Gemm"]) == 2 * 7 + 1
    assert g.outputs[0].shape == (1, 128, 32000)
    assert "layers.0.cos" not in {n.name for n in g.nodes}  # cos(arange) folded
    assert elapsed < 10.0


def test_meta_decoder_7b_full_depth_is_fast() -> None:
    with torch.device("meta"):
        m = Decoder(layers=32)
    t0 = time.perf_counter()
    g = from_torch(m, torch.zeros(1, 2048, dtype=torch.long, device="meta"))
    elapsed = time.perf_counter() - t0
    # 32 * 202,383,360 + 262,144,000 + 4,096 = 6,738,415,616 (the published LLaMA-7B size)
    assert sum(g.metadata["parameters"].values()) == 6_738_415_616
    assert elapsed < 20.0  # measured ~2 s on 2 shared cores


def test_indexing_split_concat() -> None:
    class Net(nn.Module):
        def forward(self, x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
            a, b = x.chunk(2, dim=-1)
            return x[0], x[:, idx], torch.cat([a, b * 2], dim=-1)

    g = from_torch(Net(), ((3, 4, 6), torch.zeros(2, dtype=torch.long)))
    assert ops(g) == ["Split", "Slice", "Gather", "Mul", "Concat"]
    split, first, gather, _, cat = g.nodes
    # x[0]: slice [0:1] on axis 0, axis dropped -> [4, 6]
    assert first.attrs["starts"] == (0,) and first.attrs["squeeze_axes"] == (0,)
    assert first.outputs[0].shape == (4, 6)
    assert gather.attrs["axis"] == 1 and gather.outputs[0].shape == (3, 2, 6)
    assert split.attrs == {"axis": 2, "split": (3, 3)}
    assert cat.attrs["axis"] == 2 and cat.outputs[0].shape == (3, 4, 6)


def test_transformer_encoder_layer_has_no_unknown_ops() -> None:
    m = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
    g = from_torch(m, (2, 10, 32))
    assert [n.op for n in g.nodes if not n.known] == []
    attn = only(g, "Attention")
    assert attn.attrs["num_heads"] == 4 and shapes(attn.inputs) == [(2, 4, 10, 8)] * 3
    # packed in_proj + out_proj + two feed-forward linears
    assert len([n for n in g.nodes if n.op == "Gemm"]) == 4
    assert len([n for n in g.nodes if n.op == "LayerNormalization"]) == 2
    assert sum(g.metadata["parameters"].values()) == sum(p.numel() for p in m.parameters())
