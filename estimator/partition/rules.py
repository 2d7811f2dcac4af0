"""Fusion rules of a runtime, read from ``hardware_registry/fusion/<runtime>.json``.

Which nodes a runtime runs as one kernel is a fact about that runtime's version, not about our
code, so it lives in a JSON file with its provenance (how it was checked) and is validated against
``fusion.schema.json``. The partitioner only evaluates these records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from estimator.errors import InputError, RegistryError
from estimator.partition.nchwc import NchwcRules
from estimator.registry.models import KernelCategory

#: Folder with one ``<runtime>.json`` per runtime and ``fusion.schema.json``.
FUSION_DIR = Path(__file__).resolve().parents[2] / "hardware_registry" / "fusion"
SCHEMA_NAME = "fusion.schema.json"

Mode = Literal["fold", "epilogue"]
When = Literal["any", "const_operand", "residual"]


@dataclass(frozen=True, slots=True)
class AbsorbRule:
    """A kernel whose anchor op is in ``anchor`` swallows a following node in ``follow``.

    ``fold``: the follower disappears into the anchor's weights (no FLOPs, no bytes).
    ``epilogue``: the follower's arithmetic runs inside the kernel (FLOPs count, its intermediate
    tensor is never written). ``becomes`` renames the anchor (MatMul + bias -> Gemm) so later
    rules can match the new op. ``anchor_blocked``: only when the anchor reads a tensor in the
    runtime's blocked layout (onnxruntime turns a BatchNormalization on an NCHWc tensor into an
    nchwc Conv, which then takes a residual Sum and an activation; one on an NCHW tensor stays a
    BatchNormalization).
    """

    name: str
    anchor: frozenset[str]
    follow: frozenset[str]
    mode: Mode
    when: When
    repeat: bool
    becomes: str | None
    anchor_blocked: bool = False


@dataclass(frozen=True, slots=True)
class PatternStep:
    ops: frozenset[str]
    optional: bool


@dataclass(frozen=True, slots=True)
class Pattern:
    """A decomposed op (LayerNorm, GELU, attention) the runtime recognises as one kernel."""

    name: str
    steps: tuple[PatternStep, ...]
    category: KernelCategory
    #: Most distinct non-constant tensors entering the match (None: any). Runtimes fuse on
    #: operand identity: x * sigmoid(x) is QuickGelu, a gate x * sigmoid(s) is two kernels.
    max_inputs: int | None = None


@dataclass(frozen=True, slots=True)
class FusionRules:
    runtime: str
    aliases: tuple[str, ...]
    absorb: tuple[AbsorbRule, ...]
    elementwise_chains: bool
    chain_ops: frozenset[str]
    patterns: tuple[Pattern, ...]
    no_kernel_ops: frozenset[str]
    provenance: dict[str, Any]
    path: str
    #: Kernel op name (pattern name or op type) -> FLOP-equivalents per output element the
    #: runtime's implementation takes (``elementary_work`` in the JSON); empty: the convention.
    elementary_work: dict[str, float] = field(default_factory=dict)
    #: x86 blocked layout (``nchwc`` in the JSON): block size per SIMD width in bits, and the
    #: ops that enter or keep it; None: the runtime has no such layout.
    nchwc_blocks: dict[int, int] = field(default_factory=dict)
    nchwc_entry: frozenset[str] = frozenset()
    nchwc_propagate: frozenset[str] = frozenset()
    nchwc_depthwise_multiple: int = 1

    def nchwc_block(self, simd_bits: int | None) -> int | None:
        """The NCHWc block on a device with ``simd_bits``-wide vectors; None when the runtime
        has no blocked layout there (or the width is unknown)."""
        if simd_bits is None:
            return None
        block = self.nchwc_blocks.get(int(simd_bits))
        return block if block is not None and block > 1 else None

    def nchwc(self, block: int | None) -> NchwcRules | None:
        if block is None or not self.nchwc_blocks:
            return None
        return NchwcRules(
            block, self.nchwc_entry, self.nchwc_propagate, self.nchwc_depthwise_multiple
        )


def _step(raw: str | list[str] | dict[str, Any]) -> PatternStep:
    if isinstance(raw, str):
        return PatternStep(frozenset({raw}), False)
    if isinstance(raw, list):
        return PatternStep(frozenset(raw), False)
    return PatternStep(frozenset(raw["ops"]), bool(raw.get("optional", False)))


@cache
def _schema(fusion_dir: Path) -> Any:
    """A validator built once: ``jsonschema.validate`` re-checks the schema on every call."""
    import jsonschema

    schema = json.loads((fusion_dir / SCHEMA_NAME).read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def parse_rules(
    data: dict[str, Any], path: str = "<memory>", fusion_dir: Path = FUSION_DIR
) -> FusionRules:
    """Turn ``data`` into :class:`FusionRules`; a file that does not parse is explained by its
    schema (``fusion.schema.json``).

    The shipped files are checked against the schema by the test suite; at run time the schema
    (and the jsonschema import) is only needed to word the error of a broken file, which keeps a
    cold CLI start fast.
    """
    try:
        return _build(data, path)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        import jsonschema

        err = jsonschema.exceptions.best_match(_schema(fusion_dir).iter_errors(data))
        if err is not None:
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            raise RegistryError(f"{path}: {where}: {err.message}") from None
        raise RegistryError(f"{path}: malformed fusion rules ({exc!r})") from None


def _build(data: dict[str, Any], path: str) -> FusionRules:
    absorb = tuple(
        AbsorbRule(
            name=r["name"],
            anchor=frozenset(r["anchor"]),
            follow=frozenset(r["follow"]),
            mode=_choice(r["mode"], ("fold", "epilogue")),
            when=_choice(r.get("when", "any"), ("any", "const_operand", "residual")),
            repeat=bool(r.get("repeat", False)),
            becomes=r.get("becomes"),
            anchor_blocked=bool(r.get("anchor_blocked", False)),
        )
        for r in data["absorb"]
    )
    patterns = tuple(
        Pattern(
            p["name"],
            tuple(_step(s) for s in p["steps"]),
            KernelCategory(p["category"]),
            p.get("max_inputs"),
        )
        for p in data["patterns"]
    )
    for p in patterns:
        if p.steps[0].optional or p.steps[-1].optional:
            raise RegistryError(
                f"{path}: pattern {p.name!r}: first and last steps must be required"
            )
    chains = data["elementwise_chains"]
    layout = data.get("nchwc")
    if layout is not None:
        _ = layout["provenance"]["method"]
    return FusionRules(
        runtime=str(data["runtime"]),
        aliases=tuple(data.get("aliases", ())),
        absorb=absorb,
        elementwise_chains=bool(chains["enabled"]),
        chain_ops=frozenset(chains.get("ops", ())),
        patterns=patterns,
        no_kernel_ops=frozenset(data.get("no_kernel_ops", ())),
        provenance=dict(data["provenance"]),
        path=path,
        elementary_work=_work_table(data.get("elementary_work")),
        nchwc_blocks=(
            {int(k): int(v) for k, v in layout["block_by_simd_bits"].items()} if layout else {}
        ),
        nchwc_entry=frozenset(layout["entry_ops"]) if layout else frozenset(),
        nchwc_propagate=frozenset(layout["propagate_ops"]) if layout else frozenset(),
        nchwc_depthwise_multiple=int(layout["depthwise_channel_multiple"]) if layout else 1,
    )


def _work_table(raw: dict[str, Any] | None) -> dict[str, float]:
    if raw is None:
        return {}
    _ = raw["provenance"]["method"]  # a measured figure without its method is refused
    out = {str(k): float(v) for k, v in raw["flop_equivalents"].items()}
    if any(not v > 0 for v in out.values()):
        raise ValueError("elementary_work figures must be positive")
    return out


def _choice(value: Any, allowed: tuple[str, ...]) -> Any:
    if value not in allowed:
        raise ValueError(f"{value!r} not one of {allowed}")
    return value


@cache
def _all_rules(fusion_dir: Path) -> dict[str, FusionRules]:
    out: dict[str, FusionRules] = {}
    for f in sorted(fusion_dir.glob("*.json")):
        if f.name == SCHEMA_NAME:
            continue
        try:
            data = json.loads(f.read_text())
        except json.JSONDecodeError as exc:
            raise RegistryError(f"{f}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
        rules = parse_rules(data, str(f), fusion_dir)
        if f.stem != rules.runtime:
            raise RegistryError(f"{f}: runtime {rules.runtime!r} does not match the file name")
        out[rules.runtime] = rules
    return out


def runtime_names(fusion_dir: Path = FUSION_DIR) -> list[str]:
    """Canonical runtime names, one per rules file."""
    return sorted(_all_rules(fusion_dir))


def resolve_runtime(name: str, fusion_dir: Path = FUSION_DIR) -> str:
    """Canonical name of ``name`` or one of its aliases; unknown -> InputError listing names."""
    rules = _all_rules(fusion_dir)
    key = name.strip().lower()
    for r in rules.values():
        if key == r.runtime or key in r.aliases:
            return r.runtime
    valid = ", ".join(
        f"{r.runtime} (aliases: {', '.join(r.aliases) or '-'})" for r in rules.values()
    )
    raise InputError(f"unknown runtime {name!r}; valid runtimes: {valid}")


def load_rules(runtime: str, fusion_dir: Path = FUSION_DIR) -> FusionRules:
    """The fusion rules of ``runtime`` (canonical name or alias)."""
    return _all_rules(fusion_dir)[resolve_runtime(runtime, fusion_dir)]
