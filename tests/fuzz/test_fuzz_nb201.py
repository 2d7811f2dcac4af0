"""Property-based fuzzing of NAS-Bench-201 arch strings (issue 15).

Strings are drawn from the grammar (``|op~i|+|op~i|op~i|+|...|``) with each piece sometimes
replaced: a wrong op, a wrong or huge input index, a missing or extra node, stray characters,
non-ASCII text, a name too long for a file system. Each must load as a network with finite
counts, or be refused with a one-line InputError; a well-formed string must load.
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from estimator.analysis import analyze_graph
from estimator.loading import load_model
from estimator.zoo.nb201_ir import OPS
from tests.fuzz._outcome import check, fuzz_settings

_JUNK = st.lists(
    st.sampled_from([*"|+~0123456789_x \t\n\x00é€", "nor_conv", "skip"]), max_size=8
).map("".join)
#: Mostly well formed, so both outcomes are exercised.
_OP = st.one_of(*[st.sampled_from(OPS)] * 19, _JUNK)
_IDX = st.one_of(*[st.just(None)] * 38, st.integers(-3, 4), st.just(10**400))


@st.composite
def arch(draw: st.DrawFn) -> tuple[str, bool]:
    """An arch string and whether it is well formed."""
    n_nodes = draw(st.sampled_from([3] * 8 + [2, 4, 0]))
    valid = n_nodes == 3
    nodes = []
    for j in range(n_nodes):
        edges = []
        for i in range(j + 1):
            op, idx = draw(_OP), draw(_IDX)
            use = i if idx is None else idx
            valid &= op in OPS and use == i
            edges.append(f"{op}~{use}")
        nodes.append("|" + "|".join(edges) + "|")
    text = "+".join(nodes)
    tail = draw(st.one_of(*[st.just("")] * 8, _JUNK, st.just("x" * 300)))
    valid &= tail == ""
    return text + tail, valid


def _load(text: str) -> None:
    cost = analyze_graph(load_model(text))
    assert cost.flops >= 0 and math.isfinite(cost.flops)


@fuzz_settings(300, 0.25)
@given(drawn=arch())
def test_arch_strings_load_or_are_refused_in_one_line(drawn: tuple[str, bool]) -> None:
    text, valid = drawn
    loaded = check("nb201", lambda: _load(text) or True, what=repr(text))
    if valid:
        assert loaded, f"a well-formed arch was refused: {text!r}"
