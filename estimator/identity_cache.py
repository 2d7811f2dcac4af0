"""A bounded LRU cache keyed by objects' identity, for results derived from immutable inputs.

Parsed graphs, packed devices and corrected kernel columns are derived from objects the loaders
return unchanged while their files are unchanged, so identity is the cheapest correct key. Each
entry keeps its key objects alive and is checked against them, so a recycled ``id`` is never
mistaken for a hit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityCache(Generic[V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[Hashable, ...], tuple[tuple[object, ...], V]] = (
            OrderedDict()
        )

    def get(self, objs: tuple[object, ...], extra: tuple[Hashable, ...] = ()) -> V | None:
        """The value stored for exactly these objects (and ``extra`` values), else None."""
        key = (*(id(o) for o in objs), *extra)
        hit = self._entries.get(key)
        if hit is None or not all(a is b for a, b in zip(hit[0], objs, strict=True)):
            return None
        self._entries.move_to_end(key)
        return hit[1]

    def put(self, objs: tuple[object, ...], extra: tuple[Hashable, ...], value: V) -> V:
        """Store ``value`` for these objects, dropping the least recently used past the size."""
        self._entries[(*(id(o) for o in objs), *extra)] = (objs, value)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()
