"""How each runtime runs a decoder, read from ``hardware_registry/llm/llm-runtimes.json``.

Which projections a runtime merges, whether it computes logits for the last position only, and
how efficient a fused (FlashAttention-style) attention kernel is are facts about serving
engines, not about this code, so they are data with their sources. The kernel fusion itself
(epilogues, pointwise chains, which layout ops launch no kernel) is the runtime's ordinary rules
file under ``hardware_registry/fusion/``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from estimator.errors import InputError, RegistryError
from estimator.partition import load_rules
from estimator.registry.models import CategoryProfile, EfficiencyProfile, KernelCategory, Provenance

RUNTIMES_FILE = (
    Path(__file__).resolve().parents[2] / "hardware_registry" / "llm" / "llm-runtimes.json"
)
SCHEMA_FILE = RUNTIMES_FILE.with_name("llm-runtimes.schema.json")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AttentionProvenance(_Frozen):
    sources: list[str] = Field(min_length=1)
    method: str = Field(min_length=1)
    date: str


class AttentionPrior(CategoryProfile):
    """Efficiency curves of the runtime's fused attention kernel, with where they come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    provenance: AttentionProvenance


class SlidingWindow(_Frozen):
    """How the runtime runs a model with a sliding attention window.

    ``rolling``: attention scores the window only and the cache holds the window only (memory
    capped at ``sliding_window`` positions per windowed layer); ``masked``: attention scores the
    window only, the cache keeps every position; ``full``: the window is a mask over scores
    computed against the whole cache, which keeps every position.
    """

    policy: Literal["rolling", "masked", "full"]
    source: str = Field(min_length=1)

    @property
    def windowed_attention(self) -> bool:
        return self.policy != "full"

    @property
    def rolling_cache(self) -> bool:
        return self.policy == "rolling"


class LlmRuntime(_Frozen):
    #: q/k/v and gate/up projections run as one GEMM each.
    fused_projections: bool
    #: The LM head runs on the last position of each sequence only (a serving engine samples
    #: from it); False: every position, as a model's forward() returns them.
    last_logits_only: bool
    #: What the options describe and where they were read.
    source: str = Field(min_length=1)
    #: What the runtime does with a sliding attention window (Mistral, Qwen2).
    sliding_window: SlidingWindow
    #: Used where the device has no calibrated profile for this runtime: replaces the device
    #: type prior's attention curves.
    attention: AttentionPrior | None = None


class LlmRuntimesFile(_Frozen):
    schema_version: int = Field(ge=1)
    description: str
    #: Device type -> runtime an LLM estimate uses when none is given.
    default_runtime: dict[str, str]
    runtimes: dict[str, LlmRuntime]


@cache
def _load(path: Path) -> LlmRuntimesFile:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return LlmRuntimesFile.model_validate(data)
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{path}: cannot read ({exc.__class__.__name__}: {exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = "/".join(str(p) for p in err["loc"]) or "(root)"
        raise RegistryError(f"{path}: {where}: {err['msg']}") from None


def runtimes_file(path: Path = RUNTIMES_FILE) -> LlmRuntimesFile:
    return _load(path)


def llm_runtime(runtime: str, path: Path = RUNTIMES_FILE) -> tuple[str, LlmRuntime]:
    """(canonical name, decoder options) of ``runtime`` (a name or alias of a fusion file)."""
    canon = load_rules(runtime).runtime
    doc = _load(path)
    opts = doc.runtimes.get(canon)
    if opts is None:
        raise InputError(
            f"runtime {canon!r} has no decoder options in {path.name}; LLM runtimes: "
            f"{', '.join(sorted(doc.runtimes))}"
        )
    return canon, opts


def default_llm_runtime(device_type: str, path: Path = RUNTIMES_FILE) -> str:
    doc = _load(path)
    return doc.default_runtime.get(device_type, "onnxruntime-cpu")


def attention_profile(base: EfficiencyProfile, prior: AttentionPrior) -> EfficiencyProfile:
    """``base`` (an uncalibrated prior) with the runtime's attention curves in place of its own."""
    cats = dict(base.categories)
    cats[KernelCategory.ATTENTION] = CategoryProfile(
        compute=prior.compute, memory=prior.memory, overhead_us=prior.overhead_us
    )
    prov = Provenance(
        date=prior.provenance.date,
        tool_version=base.provenance.tool_version,
        source=f"{base.provenance.source} Attention: the runtime's prior in "
        f"{RUNTIMES_FILE.name} ({'; '.join(prior.provenance.sources)}).",
    )
    return base.model_copy(update={"categories": cats, "provenance": prov})


def schema_text() -> str:
    """The JSON Schema of ``llm-runtimes.json`` (``SCHEMA_FILE`` holds this text)."""
    return json.dumps(LlmRuntimesFile.model_json_schema(), indent=2, sort_keys=True) + "\n"
