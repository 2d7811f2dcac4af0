"""Stage-aware estimates of LLM and VLM inference: prefill (TTFT), decode (TPOT), memory.

Entry points: :func:`estimate_generation` (also reached through ``estimator.estimate`` with a
decoder config), :func:`sweep` and :func:`parse_config` / :func:`load_config` for Hugging Face
``config.json`` files. Everything is priced by the one predictor on the one device context.
"""

from estimator.llm.config import LlmSpec, VisionTower, is_decoder_config, load_config, parse_config
from estimator.llm.generation import (
    DEFAULT_GENERATE,
    DEFAULT_PROMPT,
    DecodeStep,
    Generation,
    Stage,
    Workload,
    estimate_generation,
    load_spec,
)
from estimator.llm.memory import Memory, kv_cache_bytes

__all__ = [
    "DEFAULT_GENERATE",
    "DEFAULT_PROMPT",
    "DecodeStep",
    "Generation",
    "LlmSpec",
    "Memory",
    "Stage",
    "VisionTower",
    "Workload",
    "estimate_generation",
    "is_decoder_config",
    "kv_cache_bytes",
    "load_config",
    "load_spec",
    "parse_config",
]
