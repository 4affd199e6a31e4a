"""The shared cache's many-key round trips, as the insertion proposals make them (bounded).

Reads 3,600 travel-time-sized entries with one `get_many` and writes 960 with one `set_many`
(a new trip's cells at 400 trips and 60 drivers), then reads one 59 KB list page; prints the
median of each, and which reply parser redis-py uses (hiredis when installed, else Python).
Needs Redis (REDIS_URL); its keys are removed at the end.

    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/redis_cache_bench.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.django_env import django_setup


def median_ms(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    django_setup("redis_cache_bench.sqlite3")
    import redis.utils
    from django.conf import settings
    from django.core.cache import cache

    if not settings.REDIS_URL:
        sys.exit("set REDIS_URL: this bench measures the Redis cache")
    keys = [f"bench:redis-cache:cell:{i}" for i in range(3600)]
    cache.set_many({k: (i, i * 2.5) for i, k in enumerate(keys)}, 300)
    cache.set("bench:redis-cache:page", b"x" * 59_000, 300)
    try:
        read = median_ms(lambda: cache.get_many(keys), 30)
        write = median_ms(lambda: cache.set_many({k: (1, 2.0) for k in keys[:960]}, 300), 30)
        page = median_ms(lambda: cache.get("bench:redis-cache:page"), 300)
    finally:
        cache.delete_many([*keys, "bench:redis-cache:page"])
    parser = "hiredis" if redis.utils.HIREDIS_AVAILABLE else "Python"
    print(f"parser {parser}: get_many 3,600 keys {read:.2f} ms, set_many 960 keys {write:.2f} ms,")
    print(f"get of a 59 KB page {page:.3f} ms (medians)")


if __name__ == "__main__":
    main()
