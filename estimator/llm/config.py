"""Hugging Face ``config.json`` -> the decoder (and vision tower) shape the estimator builds.

No weights are read: a config names every dimension the cost of a forward pass depends on. Each
family says which fields it needs, which it reads when present, and which it knows do not change
the cost (token ids, dropout, initialisation, ...). A field outside those three sets, or a
required one that is missing, is a one-line :class:`~estimator.errors.InputError` naming it: an
unfamiliar field may change the architecture (a quantisation config, a new attention variant),
and guessing would give a wrong number silently.

Families: ``gpt2``, ``llama``, ``mistral``, ``qwen2``, ``gemma``, ``mixtral`` (MoE), ``phi``
(Phi-2) and ``phi3``; ``llava`` wraps one of them with a CLIP or SigLIP vision tower and an MLP
projector.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from estimator.errors import InputError
from estimator.zoo.decoders_ir import DecoderConfig, FfnType

#: Fields that never change what a forward pass costs (metadata, training-only knobs).
COST_FREE: frozenset[str] = frozenset(
    {
        "_name_or_path", "architectures", "auto_map", "bos_token_id", "eos_token_id",
        "pad_token_id", "torch_dtype", "transformers_version", "initializer_range", "use_cache",
        "model_type", "attention_dropout", "hidden_dropout", "embd_pdrop", "resid_pdrop",
        "attn_pdrop", "summary_activation", "summary_first_dropout", "summary_proj_to_labels",
        "summary_type", "summary_use_proj", "task_specific_params", "pretraining_tp",
        "router_aux_loss_coef", "output_router_logits", "router_jitter_noise", "scale_attn_weights",
        "reorder_and_upcast_attn", "scale_attn_by_inverse_layer_idx", "n_ctx",
        "id2label", "label2id", "tokenizer_class", "dropout", "attention_probs_dropout_prob",
        "hidden_dropout_prob", "initializer_factor", "projection_dim", "rope_scaling",
        "original_max_position_embeddings", "max_window_layers", "use_sliding_window",
        "is_encoder_decoder", "tie_encoder_decoder", "return_dict", "output_hidden_states",
        "output_attentions", "torchscript", "chunk_size_feed_forward", "problem_type",
        "image_token_index", "vision_feature_select_strategy", "vision_feature_layer",
        "ignore_index", "image_seq_length", "multimodal_projector_bias", "name_or_path",
    }
)  # fmt: skip

#: Activation names -> the MLP form (gated families) or "gelu" (GPT-2/Phi-2 style MLPs).
_GATED_ACT: dict[str, FfnType] = {
    "silu": "swiglu",
    "swish": "swiglu",
    "gelu": "geglu",
    "gelu_pytorch_tanh": "geglu",
    "gelu_new": "geglu",
}
_PLAIN_ACT = frozenset({"gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu"})


@dataclass(frozen=True, slots=True)
class VisionTower:
    """A ViT image encoder (CLIP or SigLIP) and the MLP projector into the text model."""

    layers: int
    hidden: int
    heads: int
    ffn: int
    image_size: int
    patch_size: int
    channels: int = 3
    norm_eps: float = 1e-5
    #: CLIP prepends a class token to the patch sequence (SigLIP does not).
    class_token: bool = True
    #: The projector keeps the class token's feature (LLaVA's "full" strategy) or drops it.
    keep_class_token: bool = False
    kind: str = "clip"

    @property
    def patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def sequence(self) -> int:
        """Positions the encoder attends over per image."""
        return self.patches + (1 if self.class_token else 0)

    @property
    def image_tokens(self) -> int:
        """Tokens one image adds to the text model's prompt."""
        return self.patches + (1 if self.class_token and self.keep_class_token else 0)


@dataclass(frozen=True, slots=True)
class LlmSpec:
    """A decoder, its optional vision tower, and what the config said about its limits."""

    text: DecoderConfig
    family: str
    vision: VisionTower | None = None
    #: ``max_position_embeddings`` of a rotary model (learned positions carry it in ``text``).
    max_positions: int | None = None
    #: Things the config holds that the estimate does not model, said in every report.
    notes: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.text.name


class _Fields:
    """Reads one config object, remembering which keys were used, for the unknown-field check."""

    def __init__(self, data: Mapping[str, Any], where: str, family: str) -> None:
        self.data = data
        self.where = where
        self.family = family
        self.used: set[str] = set()

    def _raw(self, key: str) -> Any:
        self.used.add(key)
        return self.data.get(key)

    def has(self, key: str) -> bool:
        self.used.add(key)
        return self.data.get(key) is not None

    def integer(self, key: str, default: int | None = None, *, required: bool = True) -> int:
        value = self._raw(key)
        if value is None:
            if default is not None or not required:
                return default  # type: ignore[return-value]
            raise InputError(f"{self.where}: missing field '{key}' (model_type {self.family})")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(
                f"{self.where}: field '{key}' must be a positive integer, got {value!r}"
            )
        return value

    def opt_int(self, key: str) -> int | None:
        if self._raw(key) is None:
            return None
        return self.integer(key)

    def _typed(self, key: str, default: Any, ok: Callable[[Any], bool], what: str) -> Any:
        value = self._raw(key)
        if value is None:
            return default
        if not ok(value):
            raise InputError(f"{self.where}: field '{key}' must be {what}, got {value!r}")
        return value

    def number(self, key: str, default: float) -> float:
        def ok(v: Any) -> bool:
            return isinstance(v, int | float) and not isinstance(v, bool) and v > 0

        return float(self._typed(key, default, ok, "a positive number"))

    def fraction(self, key: str, default: float) -> float:
        value = self.number(key, default)
        if value > 1:
            raise InputError(f"{self.where}: field '{key}' must be in (0, 1], got {value!r}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        return bool(self._typed(key, default, lambda v: isinstance(v, bool), "true or false"))

    def text(self, key: str, default: str) -> str:
        return str(self._typed(key, default, lambda v: isinstance(v, str), "a string"))

    def refuse_true(self, key: str, what: str) -> None:
        if self.flag(key, False):
            raise InputError(f"{self.where}: field '{key}' = true ({what}) is not modelled")

    def check_unknown(self) -> None:
        for key in self.data:
            if key not in self.used and key not in COST_FREE:
                raise InputError(
                    f"{self.where}: unknown field '{key}' for model_type {self.family} "
                    "(not known to leave the cost unchanged)"
                )


def _activation(f: _Fields, key: str, default: str, gated: bool) -> FfnType:
    act = f.text(key, default)
    if gated:
        if act not in _GATED_ACT:
            raise InputError(
                f"{f.where}: field '{key}' = {act!r} is not a known gated activation "
                f"({', '.join(sorted(_GATED_ACT))})"
            )
        return _GATED_ACT[act]
    if act not in _PLAIN_ACT:
        raise InputError(
            f"{f.where}: field '{key}' = {act!r} is not a known activation "
            f"({', '.join(sorted(_PLAIN_ACT))})"
        )
    return "gelu"


def _gpt2(f: _Fields, name: str) -> tuple[DecoderConfig, int | None, list[str]]:
    hidden = f.integer("n_embd")
    _activation(f, "activation_function", "gelu_new", gated=False)
    f.refuse_true("add_cross_attention", "cross-attention to an encoder")
    cfg = DecoderConfig(
        layers=f.integer("n_layer"),
        hidden=hidden,
        heads=f.integer("n_head"),
        kv_heads=f.integer("n_head"),
        ffn=f.integer("n_inner", 4 * hidden),
        ffn_type="gelu",
        vocab=f.integer("vocab_size"),
        norm="layernorm",
        tie_embeddings=f.flag("tie_word_embeddings", True),
        max_positions=f.integer("n_positions"),
        bias=True,
        norm_eps=f.number("layer_norm_epsilon", 1e-5),
        name=name,
    )
    return cfg, None, []


def _llama_like(f: _Fields, name: str) -> tuple[DecoderConfig, int | None, list[str]]:
    """Llama, Mistral, Qwen2, Gemma, Mixtral and Phi-3: rotary, RMSNorm, gated MLP."""
    fam = f.family
    heads = f.integer("num_attention_heads")
    notes: list[str] = []
    experts = per_token = 0
    if fam == "mixtral":
        experts = f.integer("num_local_experts")
        per_token = f.integer("num_experts_per_tok")
    window: int | None = None
    full_layers = 0
    if fam in ("mistral", "mixtral", "qwen2", "phi3"):
        window = f.opt_int("sliding_window")
        if fam == "qwen2":
            # Qwen2: layers from max_window_layers on use the window, when use_sliding_window
            full_layers = f.opt_int("max_window_layers") or 0
            if not f.flag("use_sliding_window", False):
                window = None
    if f.has("rope_scaling"):
        notes.append("rope_scaling changes position math only; no cost difference is modelled")
    if fam == "llama":
        f.refuse_true("mlp_bias", "biases on the MLP projections")
    gated_default = "gelu_pytorch_tanh" if fam == "gemma" else "silu"
    act_key = "hidden_activation" if fam == "gemma" and f.has("hidden_activation") else "hidden_act"
    hidden = f.integer("hidden_size")
    rotary_frac = f.fraction("partial_rotary_factor", 1.0) if fam == "phi3" else 1.0
    head_dim = f.opt_int("head_dim")
    head = head_dim if head_dim is not None else hidden // heads
    rotary_dim = None if rotary_frac == 1.0 else int(head * rotary_frac)
    if fam == "gemma":
        f.has("hidden_act")  # Gemma's legacy field; hidden_activation wins when both are set
    cfg = DecoderConfig(
        layers=f.integer("num_hidden_layers"),
        hidden=hidden,
        heads=heads,
        kv_heads=f.integer("num_key_value_heads", heads),
        ffn=f.integer("intermediate_size"),
        ffn_type=_activation(f, act_key, gated_default, gated=True),
        vocab=f.integer("vocab_size"),
        norm="rmsnorm",
        tie_embeddings=f.flag("tie_word_embeddings", fam == "gemma"),
        max_positions=None,
        bias=False,
        norm_eps=f.number("rms_norm_eps", 1e-6),
        rope_theta=f.number("rope_theta", 10000.0),
        name=name,
        attn_head_dim=head_dim if head_dim is not None and head_dim * heads != hidden else None,
        qkv_bias=True if fam == "qwen2" else f.flag("attention_bias", False),
        experts=experts,
        experts_per_token=per_token,
        rotary_dim=rotary_dim,
        embed_scale=fam == "gemma",
        sliding_window=window,
        full_attention_layers=full_layers if window is not None else 0,
    )
    return cfg, f.opt_int("max_position_embeddings"), notes


def _phi(f: _Fields, name: str) -> tuple[DecoderConfig, int | None, list[str]]:
    """Phi-1/1.5/2: parallel attention + MLP on one LayerNorm, partial rotary, biases."""
    heads = f.integer("num_attention_heads")
    hidden = f.integer("hidden_size")
    _activation(f, "hidden_act", "gelu_new", gated=False)
    frac = f.fraction("partial_rotary_factor", 0.5)
    f.refuse_true("qk_layernorm", "LayerNorm on queries and keys")
    cfg = DecoderConfig(
        layers=f.integer("num_hidden_layers"),
        hidden=hidden,
        heads=heads,
        kv_heads=f.integer("num_key_value_heads", heads),
        ffn=f.integer("intermediate_size"),
        ffn_type="gelu",
        vocab=f.integer("vocab_size"),
        norm="layernorm",
        tie_embeddings=f.flag("tie_word_embeddings", False),
        max_positions=None,
        bias=True,
        norm_eps=f.number("layer_norm_eps", 1e-5),
        rope_theta=f.number("rope_theta", 10000.0),
        name=name,
        head_bias=True,
        parallel_block=True,
        rotary_dim=int(hidden // heads * frac),
    )
    return cfg, f.opt_int("max_position_embeddings"), []


_FAMILIES = {
    "gpt2": _gpt2,
    "llama": _llama_like,
    "mistral": _llama_like,
    "qwen2": _llama_like,
    "gemma": _llama_like,
    "mixtral": _llama_like,
    "phi3": _llama_like,
    "phi": _phi,
}
_VISION = {"clip_vision_model": "clip", "siglip_vision_model": "siglip"}


def _vision(data: Mapping[str, Any], where: str, strategy: str) -> VisionTower:
    kind_raw = data.get("model_type")
    if kind_raw not in _VISION:
        raise InputError(
            f"{where}: field 'model_type' = {kind_raw!r}: vision towers known: "
            f"{', '.join(sorted(_VISION))}"
        )
    f = _Fields(data, where, str(kind_raw))
    f.has("vocab_size")  # llava-hf's vision configs carry one; a vision tower has no vocabulary
    kind = _VISION[str(kind_raw)]
    default_act = "quick_gelu" if kind == "clip" else "gelu_pytorch_tanh"
    _activation(f, "hidden_act", default_act, gated=False)
    image, patch = f.integer("image_size"), f.integer("patch_size")
    if image % patch:
        raise InputError(f"{where}: image_size {image} is not a multiple of patch_size {patch}")
    tower = VisionTower(
        layers=f.integer("num_hidden_layers"),
        hidden=f.integer("hidden_size"),
        heads=f.integer("num_attention_heads"),
        ffn=f.integer("intermediate_size"),
        image_size=image,
        patch_size=patch,
        channels=f.integer("num_channels", 3),
        norm_eps=f.number("layer_norm_eps", 1e-5),
        class_token=kind == "clip",
        keep_class_token=strategy == "full",
        kind=kind,
    )
    if tower.hidden % tower.heads:
        raise InputError(f"{where}: hidden_size is not divisible by num_attention_heads")
    f.check_unknown()
    return tower


def _family(data: Mapping[str, Any], where: str) -> str:
    fam = data.get("model_type")
    if fam is None:
        raise InputError(f"{where}: missing field 'model_type'")
    if fam not in _FAMILIES:
        raise InputError(
            f"{where}: field 'model_type' = {fam!r} is not a supported decoder family; "
            f"supported: {', '.join(sorted(_FAMILIES))} (and llava)"
        )
    return str(fam)


def _text(data: Mapping[str, Any], where: str, name: str) -> tuple[LlmSpec, _Fields]:
    fam = _family(data, where)
    f = _Fields(data, where, fam)
    cfg, max_pos, notes = _FAMILIES[fam](f, name)
    return LlmSpec(cfg, fam, None, max_pos, tuple(notes)), f


def parse_config(data: Mapping[str, Any], *, name: str = "", where: str = "config") -> LlmSpec:
    """The :class:`LlmSpec` of a config dict (what ``config.json`` holds)."""
    if not isinstance(data, Mapping):
        raise InputError(
            f"{where}: a model config must be a JSON object, got {type(data).__name__}"
        )
    label = name or str(data.get("_name_or_path") or data.get("model_type") or "decoder")
    if data.get("model_type") != "llava":
        spec, f = _text(data, where, label)
        f.check_unknown()
        return spec
    outer = _Fields(data, where, "llava")
    for key in ("vocab_size", "tie_word_embeddings"):  # the text config's own values decide
        outer.has(key)
    text_raw, vision_raw = data.get("text_config"), data.get("vision_config")
    for key, raw in (("text_config", text_raw), ("vision_config", vision_raw)):
        outer.used.add(key)
        if not isinstance(raw, Mapping):
            raise InputError(f"{where}: missing field '{key}' (model_type llava)")
    assert isinstance(text_raw, Mapping) and isinstance(vision_raw, Mapping)
    act = outer.text("projector_hidden_act", "gelu")
    if act not in _PLAIN_ACT:
        raise InputError(f"{where}: field 'projector_hidden_act' = {act!r} is not known")
    strategy = outer.text("vision_feature_select_strategy", "default")
    if strategy not in ("default", "full"):
        raise InputError(
            f"{where}: field 'vision_feature_select_strategy' = {strategy!r} (known: default, full)"
        )
    outer.check_unknown()
    spec, f = _text(text_raw, f"{where}: text_config", label)
    f.check_unknown()
    tower = _vision(vision_raw, f"{where}: vision_config", strategy)
    return LlmSpec(spec.text, spec.family, tower, spec.max_positions, spec.notes)


def load_config(path: str | Path) -> LlmSpec:
    """Read and parse a ``config.json``; the model is named after its folder."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read ({exc.__class__.__name__})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
    name = p.parent.name if p.name == "config.json" and p.parent.name else p.stem
    return parse_config(data, name=name, where=str(p))


def is_decoder_config(path: str | Path) -> bool:
    """True for a JSON file whose top level names a ``model_type``: a config, not a model."""
    p = Path(path)
    if p.suffix.lower() != ".json" or not p.is_file():
        return False
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return True  # a broken .json is reported by load_config, with its line
    return isinstance(data, Mapping) and "model_type" in data
