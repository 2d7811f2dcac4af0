"""Bounded LRU caches: one LRU core, keyed by value (:class:`LRU`) or by objects' identity
(:class:`IdentityCache`).

Parsed graphs, packed devices and corrected kernel columns are derived from objects the loaders
return unchanged while their files are unchanged, so identity is the cheapest correct key. Each
entry keeps its key objects alive and is checked against them, so a recycled ``id`` is never
mistaken for a hit. Where no such object exists (a model uploaded to the service as bytes), the
key is a value (its content hash) and :class:`LRU` also caps the total weight (bytes) it keeps.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``size`` entries and, with ``max_weight``, at most that total weight.

    Each entry's weight (e.g. its retained bytes) is given by the caller at :meth:`put`; the least
    recently used entries go first when either bound is passed. An entry heavier than
    ``max_weight`` on its own is not stored at all, rather than emptying the cache for it.
    """

    def __init__(self, size: int, max_weight: int | None = None) -> None:
        self._size = size
        self._max_weight = max_weight
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._weight = 0

    def get(self, key: K) -> V | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        self._entries.move_to_end(key)
        return hit[0]

    def put(self, key: K, value: V, weight: int = 0) -> V:
        """Store ``value`` under ``key`` (replacing an older value) and return it."""
        old = self._entries.pop(key, None)
        if old is not None:
            self._weight -= old[1]
        if self._max_weight is not None and weight > self._max_weight:
            return value
        self._entries[key] = (value, weight)
        self._weight += weight
        while len(self._entries) > self._size or (
            self._max_weight is not None and self._weight > self._max_weight
        ):
            _, (_, w) = self._entries.popitem(last=False)
            self._weight -= w
        return value

    def clear(self) -> None:
        self._entries.clear()
        self._weight = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def weight(self) -> int:
        """Total weight of the entries held."""
        return self._weight


class IdentityCache(Generic[V]):
    """An :class:`LRU` keyed by the identity of objects (plus hashable ``extra`` values)."""

    def __init__(self, size: int) -> None:
        self._lru: LRU[tuple[Hashable, ...], tuple[tuple[object, ...], V]] = LRU(size)

    def get(self, objs: tuple[object, ...], extra: tuple[Hashable, ...] = ()) -> V | None:
        """The value stored for exactly these objects (and ``extra`` values), else None."""
        hit = self._lru.get((*(id(o) for o in objs), *extra))
        if hit is None or not all(a is b for a, b in zip(hit[0], objs, strict=True)):
            return None
        return hit[1]

    def put(self, objs: tuple[object, ...], extra: tuple[Hashable, ...], value: V) -> V:
        """Store ``value`` for these objects, dropping the least recently used past the size."""
        self._lru.put((*(id(o) for o in objs), *extra), (objs, value))
        return value

    def clear(self) -> None:
        self._lru.clear()
