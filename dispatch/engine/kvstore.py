"""The key-value store the travel layer keeps its cache and circuit-breaker state in.

`KeyValueStore` is the subset of Django's cache API we use, with Django's signatures and
timeout semantics, so `django.core.cache.cache` (Redis in production) satisfies it as is and
every worker process shares the same cache and breaker. The engine never imports Django;
`InMemoryStore` is the stand-alone implementation for scripts, benchmarks and tests (one
process only).

Timeout semantics (as in Django): a number of seconds; `None` means never expire; `0` or a
negative number means expire at once (the value is not kept). Values must be picklable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol


class KeyValueStore(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, timeout: float | None = ...) -> None: ...

    def add(self, key: str, value: Any, timeout: float | None = ...) -> bool:
        """Store only if the key is absent; True if stored (atomic in Redis/memcached)."""
        ...

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """Only the keys that are present appear in the result."""
        ...

    def set_many(self, data: dict[str, Any], timeout: float | None = ...) -> list[str]:
        """Return the keys that failed to be stored (Django's contract; it takes a dict)."""
        ...

    def incr(self, key: str, delta: int = 1) -> int:
        """Atomically add `delta`; raise ValueError if the key is absent (Django's contract)."""
        ...

    def delete(self, key: str) -> bool: ...


DEFAULT_TIMEOUT_S = 300.0  # Django's default cache timeout
# "No timeout given": Django uses a sentinel too, because None already means "never expire".
_DEFAULT: Any = object()


class InMemoryStore:
    """Thread-safe in-process KeyValueStore with TTLs (a stand-in for Django's locmem cache).

    `clock` returns monotonic seconds; tests pass a fake one to expire entries without sleeping.
    Expired entries are dropped lazily on access; `max_entries` bounds memory by evicting the
    oldest insertions once exceeded.
    """

    def __init__(
        self,
        *,
        default_timeout: float | None = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 1_000_000,
    ) -> None:
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._lock = threading.Lock()
        self._default_timeout = default_timeout
        self._clock = clock
        self._max_entries = max_entries

    def _expiry(self, timeout: float | None) -> float | None:
        if timeout is _DEFAULT:
            timeout = self._default_timeout
        return None if timeout is None else self._clock() + float(timeout)

    def _live(self, key: str) -> tuple[bool, Any]:
        entry = self._data.get(key)
        if entry is None:
            return False, None
        value, expires = entry
        if expires is not None and expires <= self._clock():
            del self._data[key]
            return False, None
        return True, value

    def _store(self, key: str, value: Any, expires: float | None) -> None:
        if expires is not None and expires <= self._clock():
            self._data.pop(key, None)
            return
        self._data.pop(key, None)  # re-insert so dict order is insertion (eviction) order
        self._data[key] = (value, expires)
        while len(self._data) > self._max_entries:
            del self._data[next(iter(self._data))]

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            found, value = self._live(key)
        return value if found else default

    def set(self, key: str, value: Any, timeout: float | None = _DEFAULT) -> None:
        with self._lock:
            self._store(key, value, self._expiry(timeout))

    def add(self, key: str, value: Any, timeout: float | None = _DEFAULT) -> bool:
        with self._lock:
            if self._live(key)[0]:
                return False
            self._store(key, value, self._expiry(timeout))
            return True

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        with self._lock:
            for key in keys:
                found, value = self._live(key)
                if found:
                    out[key] = value
        return out

    def set_many(self, data: Mapping[str, Any], timeout: float | None = _DEFAULT) -> list[str]:
        with self._lock:
            expires = self._expiry(timeout)
            for key, value in data.items():
                self._store(key, value, expires)
        return []

    def incr(self, key: str, delta: int = 1) -> int:
        with self._lock:
            found, value = self._live(key)
            if not found:
                raise ValueError(f"Key {key!r} not found")
            new = int(value) + delta
            self._data[key] = (
                new,
                self._data[key][1],
            )  # incr keeps the TTL, as Redis does
            return new

    def delete(self, key: str) -> bool:
        with self._lock:
            found, _ = self._live(key)
            self._data.pop(key, None)
            return found

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
