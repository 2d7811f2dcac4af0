"""Python's cyclic garbage collector paused while a pass builds many objects (issue 15).

Loading, costing and partitioning a graph allocate several objects per node (tensor records,
nodes, costs, kernels) and free almost none: no garbage cycles to find. The collector still
walks the young objects every 700 allocations and, as the heap grows, the whole heap again and
again; on a 100,000-node graph that was a quarter of ``estimate()``. Pausing it over such a pass
changes no result, only when unreachable cycles (if any) are freed: at the next collection after
the pass.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextmanager
def gc_paused() -> Iterator[None]:
    """The collector off inside the block, back on after it if it was on before (nested
    blocks and a collector the caller turned off are left as they were)."""
    was_on = gc.isenabled()
    if was_on:
        gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def with_gc_paused(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn`` run under :func:`gc_paused`."""

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with gc_paused():
            return fn(*args, **kwargs)

    return run
