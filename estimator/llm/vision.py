"""The image-encoding stage of a VLM: a ViT (CLIP or SigLIP) tower and the LLaVA projector.

Built as the IR directly, like the decoder, and from the same transformer layer
(:func:`estimator.zoo.decoders_ir.transformer_layer`, non-causal, learned positions, LayerNorm,
GELU MLP), so the two stages are costed by one set of rules. Tensor names follow the HF
``CLIPVisionModel`` / ``SiglipVisionModel`` modules (``vision.layers.3.self_attn.q_proj``).
"""

from __future__ import annotations

from estimator.errors import InputError
from estimator.ir.dtypes import DType
from estimator.ir.graph import Graph
from estimator.ir.tensor import TensorInfo
from estimator.llm.config import VisionTower
from estimator.zoo.decoders_ir import DecoderConfig, GraphBuilder, LayerInputs, transformer_layer


def encoder_config(tower: VisionTower) -> DecoderConfig:
    """The tower's layers as a (non-causal) transformer layer config."""
    return DecoderConfig(
        layers=tower.layers,
        hidden=tower.hidden,
        heads=tower.heads,
        kv_heads=tower.heads,
        ffn=tower.ffn,
        ffn_type="gelu",
        vocab=1,
        norm="layernorm",
        tie_embeddings=False,
        max_positions=tower.sequence,
        bias=True,
        norm_eps=tower.norm_eps,
        name=f"{tower.kind}_vision",
    )


def vision_graph(
    tower: VisionTower,
    text_hidden: int,
    images: int,
    *,
    dtype: DType = DType.FLOAT32,
    fused_projections: bool = False,
) -> Graph:
    """Encode ``images`` images and project their patch features to ``text_hidden``.

    Output: ``image_features [images, image_tokens, text_hidden]``, the tokens the prefill
    prepends to the prompt.
    """
    if not isinstance(images, int) or isinstance(images, bool) or images < 1:
        raise InputError(f"images must be an integer >= 1, got {images!r}")
    cfg = encoder_config(tower)
    b = GraphBuilder(dtype)
    hid, p, g = tower.hidden, tower.patch_size, tower.image_size // tower.patch_size
    pixels = TensorInfo(
        "pixel_values", (images, tower.channels, tower.image_size, tower.image_size), dtype
    )
    emb = "vision.embeddings"
    w = b.const(f"{emb}.patch_embedding.weight", (hid, tower.channels, p, p))
    ins = (
        (pixels, w)
        if tower.kind == "clip"
        else (pixels, w, b.const(f"{emb}.patch_embedding.bias", (hid,)))
    )
    attrs = {"kernel_shape": (p, p), "strides": (p, p), "pads": (0, 0, 0, 0), "group": 1}
    x = b.one(f"{emb}.patch_embedding", "Conv", ins, (images, hid, g, g), attrs, "Conv2d")
    x = b.one(f"{emb}.flatten", "Reshape", (x,), (images, hid, g * g), source_op="flatten")
    x = b.one(
        f"{emb}.transpose", "Transpose", (x,), (images, g * g, hid), {"perm": (0, 2, 1)}
    )  # fmt: skip
    seq = tower.sequence
    if tower.class_token:
        cls = b.const(f"{emb}.class_embedding", (hid,))
        c = b.one(f"{emb}.class_expand", "Expand", (cls,), (images, 1, hid), source_op="expand")
        x = b.one(f"{emb}.class_cat", "Concat", (c, x), (images, seq, hid), {"axis": 1}, "cat")
    pos = b.const(f"{emb}.position_embedding.weight", (1, seq, hid))
    x = b.one(f"{emb}.position_add", "Add", (x, pos), x.shape, source_op="add")
    if tower.kind == "clip":
        x = b.norm("vision.pre_layrnorm", x, cfg)
    io = LayerInputs(None, 0, causal=False, fused_projections=fused_projections)
    for i in range(tower.layers):
        x, _, _ = transformer_layer(b, "vision.layers.", i, x, cfg, io)
    if tower.kind == "siglip":
        x = b.norm("vision.post_layernorm", x, cfg)
    if tower.class_token and not tower.keep_class_token:
        x = b.one(
            "vision.select_patches", "Slice", (x,), (images, tower.patches, hid), {"axis": 1}
        )  # fmt: skip
    proj = "multi_modal_projector"
    y = b.linear(f"{proj}.linear_1", x, text_hidden, True)
    y = b.one(f"{proj}.act", "Gelu", (y,), y.shape, {"approximate": "none"}, "gelu")
    y = b.linear(f"{proj}.linear_2", y, text_hidden, True)
    return Graph(
        name=f"{cfg.name}:encode",
        nodes=b.nodes,
        inputs=[pixels],
        outputs=[y],
        metadata={"source": "vision", "images": images, "image_tokens": tower.image_tokens},
    )
