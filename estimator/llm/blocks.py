"""Which block of a transformer a kernel belongs to, from the module path of its first node.

Names are the module paths the builders give (``layers.3.self_attn.q_proj``,
``vision.layers.0.mlp.up_proj``, ``lm_head``), so the split is by structure, never by guessing
from op types. A kernel fused across blocks (an output projection with its residual add) goes to
the block of its first (anchor) node.
"""

from __future__ import annotations

#: Report order and labels.
BLOCKS: dict[str, str] = {
    "attention": "attention (projections, rotary, KV cache, scores)",
    "mlp": "MLP or experts (router included)",
    "norm": "norms",
    "embedding_head": "embedding and LM head",
    "residual": "residual adds",
    "projector": "vision projector",
    "other": "other",
}


def block_of(node_name: str) -> str:
    """The block key of the node called ``node_name``."""
    name = node_name.removeprefix("vision.")
    if name.startswith("multi_modal_projector"):
        return "projector"
    if ".self_attn." in name:
        return "attention"
    if ".mlp." in name or ".block_sparse_moe." in name:
        return "mlp"
    if name.endswith(("layernorm", "layrnorm")) or name == "norm":
        return "norm"
    if name.startswith(("embed", "rotary_emb", "lm_head", "last_position", "embeddings.")):
        return "embedding_head"
    if name.endswith("_residual"):
        return "residual"
    return "other"
