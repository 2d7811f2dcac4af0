"""Which block of a transformer a kernel belongs to, from the module path of its first node.

Names are the module paths the builders give (``layers.3.self_attn.q_proj``,
``vision.layers.0.mlp.up_proj``, ``lm_head``), so the split is by structure, never by guessing
from op types. A kernel fused across blocks (an output projection with its residual add) goes to
the block of its first (anchor) node.
"""

from __future__ import annotations

import re

#: Scopes an exported ONNX file nests the module path under (torch exporter node names such as
#: ``/model/layers.0/self_attn/q_proj/MatMul``, Hugging Face's and this project's).
_ONNX_ROOTS = ("model", "transformer")
_LAYER_SCOPE = re.compile(r"(?:layers|h)\.\d+")
_ATTN_SCOPE = re.compile(r"\.(?:self_attn|attn)(?:\.|$)")
_MLP_SCOPE = re.compile(r"\.(?:mlp|block_sparse_moe)(?:\.|$)")

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


def onnx_module_path(node_name: str) -> str:
    """``/model/layers.0/self_attn/q_proj/MatMul`` -> ``layers.0.self_attn.q_proj``: the module
    path of a node the torch ONNX exporter named by its scope; other names unchanged."""
    if not node_name.startswith("/"):
        return node_name
    parts = node_name.strip("/").split("/")[:-1]
    if parts and parts[0] in _ONNX_ROOTS:
        parts = parts[1:]
    return ".".join(parts)


def block_of(node_name: str) -> str:
    """The block key of the node called ``node_name`` (a builder's module path, or a torch
    exporter's scope name: a node in a layer's own scope is its residual add)."""
    if node_name.startswith("/"):
        path = onnx_module_path(node_name)
        if _LAYER_SCOPE.fullmatch(path):
            return "residual"
        if _ATTN_SCOPE.search(path):
            return "attention"
        if _MLP_SCOPE.search(path):
            return "mlp"
        node_name = path
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
