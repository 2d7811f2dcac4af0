"""Property-based fuzzing of registry JSON (issue 15): the shipped i7-12700K entry, mutated.

A leaf of ``hardware.json`` is replaced (a string, a boolean, null, a non-finite or out-of-range
number, a list, an object), a key is removed or added, or the text itself is cut or given bytes
that are not UTF-8. The device must then load and estimate to a finite latency, or be refused
with a one-line InputError (RegistryError) - never accepted with a value its schema forbids.
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from estimator.estimate import estimate
from estimator.registry import load_hardware
from tests.fuzz._outcome import check, fuzz_settings

SHIPPED = Path(__file__).resolve().parents[2] / "hardware_registry" / "cpu" / "i7-12700K"
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|" + (
    "skip_connect~2|"
)

_VALUES = st.one_of(
    st.sampled_from(
        ["12", "", "Infinity", True, False, None, [], {}, [1, 2], {"gflops": 1}, 0, -1, 0.0]
    ),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 1e-300, 1e308, 1e-320, 3.5, -2.5]),
    st.text(max_size=8),
)


@cache
def _base() -> dict[str, Any]:
    doc = json.loads((SHIPPED / "hardware.json").read_text())
    doc.update(id="fuzzdev", aliases=[])
    doc.pop("fingerprint", None)  # never match the machine the tests run on
    return doc


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def document(draw: st.DrawFn) -> bytes:
    doc = copy.deepcopy(_base())
    paths = _paths(doc)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        parent = doc
        try:
            for p in path[:-1]:
                parent = parent[p]
            action = draw(st.sampled_from(["set", "set", "scale", "scale", "delete", "add"]))
            leaf = parent[path[-1]]
            if action == "scale" and isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
                # a plausible edit (the schema may or may not allow it)
                parent[path[-1]] = type(leaf)(leaf * draw(st.sampled_from([0.5, 2, 3, 10])))
            elif action in ("set", "scale"):
                parent[path[-1]] = draw(_VALUES)
            elif action == "delete" and isinstance(parent, dict):
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent["unknown_" + str(path[-1])] = draw(_VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # the path went away with an earlier mutation
    text = json.dumps(doc, allow_nan=True).encode()
    raw = draw(st.sampled_from(["as is"] * 7 + ["cut", "latin-1", "nan"]))
    if raw == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif raw == "latin-1":
        text = text.replace(b"Intel", b"Int\xe9l")
    elif raw == "nan":
        text = text.replace(b"1433.6", b"NaN", 1)
    return text


def _estimate(root: Path) -> float:
    load_hardware("fuzzdev", root)
    ms = estimate(ARCH, "fuzzdev", registry=root).latency_ms
    assert math.isfinite(ms) and ms >= 0, ms
    return ms


@fuzz_settings(200, 0.15)
@given(text=document())
def test_mutated_registry_loads_or_is_refused_in_one_line(text: bytes) -> None:
    # a fresh folder per case: the registry caches by path and modification time
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cpu" / "fuzzdev"
        folder.mkdir(parents=True)
        (folder / "hardware.json").write_bytes(text)
        check("registry", lambda: _estimate(Path(tmp)), what=text[:400].decode("latin-1"))


def test_the_unmutated_base_estimates() -> None:
    """The fuzz base itself is valid, so every refusal above is due to a mutation."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cpu" / "fuzzdev"
        folder.mkdir(parents=True)
        (folder / "hardware.json").write_text(json.dumps(_base()))
        assert _estimate(Path(tmp)) > 0
