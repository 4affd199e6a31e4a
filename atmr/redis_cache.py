"""Django's Redis cache, minus a per-call cost, and failing soft when Redis is away.

Django's client builds a new `redis.Redis` for every cache call, and redis-py fills a table of
some 170 response callbacks in each constructor: about 0.1 ms of CPU per call, a fifth of a
cached API response here. A `redis.Redis` is only a thin front for its connection pool, so one
per pool serves every call.

Everything this project caches (companies, list pages, throttle counters, travel times, the
suspension marks) can be rebuilt from PostgreSQL or simply skipped, so a Redis outage must
not take the API down: every call has short socket timeouts (`TIMEOUT_S`, 100 ms: a frozen
Redis accepts connections and never answers), and a failed call answers like a cache miss
(`get` gives the default, writes do nothing). After a failure the cache stays off for
`RETRY_AFTER_S` (no call pays the timeout meanwhile), then tries Redis again. An outage logs
one warning per `LOG_EVERY_S`, not one per call. `GET /api/health/ready` still reports it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from atmr import metrics

logger = logging.getLogger(__name__)

TIMEOUT_S = 0.1
RETRY_AFTER_S = 2.0
LOG_EVERY_S = 60.0
_OUTAGE = (RedisConnectionError, RedisTimeoutError)


class _Breaker:
    """Per process and cache: whether to skip Redis now. Races between threads only shift
    which call retries first, so no lock."""

    def __init__(self) -> None:
        self.skip_until = 0.0
        self.logged_at = -LOG_EVERY_S

    def closed(self) -> bool:
        return time.monotonic() >= self.skip_until

    def trip(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        self.skip_until = now + RETRY_AFTER_S
        if now - self.logged_at >= LOG_EVERY_S:
            self.logged_at = now
            logger.warning(
                "Redis cache unavailable (%s: %s); serving without the cache, retrying every "
                "%.0f s.",
                operation,
                exc,
                RETRY_AFTER_S,
            )


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **options: Any) -> None:
        options.setdefault("socket_timeout", TIMEOUT_S)
        options.setdefault("socket_connect_timeout", TIMEOUT_S)
        super().__init__(*args, **options)
        self._clients: dict[int, Any] = {}
        self.breaker = _Breaker()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django's own pools and client class; django-stubs omit these private attributes.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client

    def _soft(self, operation: str, fallback: Any, *args: Any) -> Any:
        if not self.breaker.closed():
            return fallback
        try:
            return getattr(super(), operation)(*args)
        except _OUTAGE as exc:
            self.breaker.trip(operation, exc)
            return fallback

    def add(self, key: Any, value: Any, timeout: Any) -> bool:
        return self._soft("add", False, key, value, timeout)

    def get(self, key: Any, default: Any) -> Any:
        value = self._soft("get", default, key, default)
        metrics.CACHE_REQUESTS.labels("miss" if value is default else "hit").inc()
        return value

    def set(self, key: Any, value: Any, timeout: Any) -> None:
        self._soft("set", None, key, value, timeout)

    def touch(self, key: Any, timeout: Any) -> bool:
        return self._soft("touch", False, key, timeout)

    def delete(self, key: Any) -> bool:
        return self._soft("delete", False, key)

    def get_many(self, keys: Any) -> dict[Any, Any]:
        found = self._soft("get_many", {}, keys)
        hits = len(found)
        metrics.CACHE_REQUESTS.labels("hit").inc(hits)
        metrics.CACHE_REQUESTS.labels("miss").inc(len(keys) - hits)
        return found

    def has_key(self, key: Any) -> bool:
        return self._soft("has_key", False, key)

    def incr(self, key: Any, delta: int) -> int:
        """0 during an outage: the counter is unknown, and nobody reads it back then."""
        return self._soft("incr", 0, key, delta)

    def set_many(self, data: Any, timeout: Any) -> None:
        self._soft("set_many", None, data, timeout)

    def delete_many(self, keys: Any) -> None:
        self._soft("delete_many", None, keys)

    def clear(self) -> bool:
        return self._soft("clear", False)


class ReusingRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient

    def validate_key(self, key: Any) -> None:
        """Redis takes any key: no memcached portability warnings. Django checks every key
        character by character; in a read of 3,500 travel-time cells (an insertion's
        candidate drivers) that was 7 of 24 ms."""
