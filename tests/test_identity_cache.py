"""The identity-keyed LRU shared by the plan, device and correction caches."""

from __future__ import annotations

from estimator.identity_cache import LRU, IdentityCache


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


def test_weight_cap_drops_least_recent_and_refuses_oversize() -> None:
    cache: LRU[str, str] = LRU(10, max_weight=100)
    cache.put("a", "A", 40)
    cache.put("b", "B", 40)
    assert cache.weight == 80
    cache.get("a")  # b is now the least recent
    cache.put("c", "C", 40)  # 120 > 100: b goes
    assert cache.get("b") is None and cache.get("a") == "A" and cache.get("c") == "C"
    assert cache.weight == 80 and len(cache) == 2
    cache.put("huge", "H", 101)  # heavier than the cap on its own: not stored, nothing evicted
    assert cache.get("huge") is None and len(cache) == 2
    cache.put("a", "A2", 10)  # replacing an entry replaces its weight
    assert cache.get("a") == "A2" and cache.weight == 50
    cache.clear()
    assert cache.weight == 0 and len(cache) == 0


def test_entry_count_bound_without_weights() -> None:
    cache: LRU[int, int] = LRU(2)
    for i in range(3):
        cache.put(i, i)
    assert cache.get(0) is None and cache.get(1) == 1 and cache.get(2) == 2
