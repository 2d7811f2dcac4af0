"""The identity-keyed LRU shared by the plan, device and correction caches."""

from __future__ import annotations

from estimator.identity_cache import IdentityCache


def test_hits_only_for_the_same_objects_and_values() -> None:
    a, b = [1], [1]  # equal, not identical
    cache: IdentityCache[str] = IdentityCache(4)
    assert cache.put((a,), ("x",), "va") == "va"
    assert cache.get((a,), ("x",)) == "va"
    assert cache.get((b,), ("x",)) is None
    assert cache.get((a,), ("y",)) is None


def test_least_recently_used_entry_goes_first() -> None:
    keys = [object() for _ in range(3)]
    cache: IdentityCache[int] = IdentityCache(2)
    cache.put((keys[0],), (), 0)
    cache.put((keys[1],), (), 1)
    assert cache.get((keys[0],)) == 0  # now the most recent
    cache.put((keys[2],), (), 2)
    assert cache.get((keys[1],)) is None
    assert cache.get((keys[0],)) == 0 and cache.get((keys[2],)) == 2
    cache.clear()
    assert cache.get((keys[0],)) is None
