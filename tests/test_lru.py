"""The bounded cache behind the scorers' and the baseline's per-recording caches."""

from rvcbench.lru import LruCache


def test_cache_keeps_at_most_max_items_and_evicts_the_least_recently_used():
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert len(cache) == 2 and "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3
    assert cache.get("missing") is None
