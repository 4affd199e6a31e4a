"""Circuit breaker whose state lives in a KeyValueStore, so every worker process agrees.

closed     requests flow; transient failures are counted in a counter that expires
           `window_s` after the first one; a success resets it. At `failure_threshold`
           failures the breaker opens.
open       until `cooldown_s` after opening nobody sends requests; callers fall back at once.
half-open  after the cool-down, the one caller that wins `try_acquire_probe()` (an atomic
           `add`) sends a single probe request; success closes the breaker, failure opens it
           for another cool-down. Everyone else keeps falling back meanwhile. The probe lock
           expires after `probe_timeout_s` so a crashed prober cannot wedge the breaker.

The open-until instant is wall-clock time (`time.time`), because it is compared across
processes and machines; a monotonic clock is per-process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from dispatch.engine.kvstore import KeyValueStore

# Forget an abandoned open/half-open state after a day so a long-retired OSRM URL or an old
# deploy does not leave a breaker behind forever.
_STATE_TTL_S = 24 * 3600.0


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        store: KeyValueStore,
        *,
        name: str = "atmr:osrm:breaker",
        failure_threshold: int = 5,
        window_s: float = 30.0,
        cooldown_s: float = 30.0,
        probe_timeout_s: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self._store = store
        self._failures_key = f"{name}:failures"
        self._open_key = f"{name}:open_until"
        self._probe_key = f"{name}:probe"
        self.failure_threshold = failure_threshold
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        self.probe_timeout_s = probe_timeout_s
        self._clock = clock

    def state(self) -> BreakerState:
        open_until = self._store.get(self._open_key)
        if open_until is None:
            return BreakerState.CLOSED
        return BreakerState.OPEN if self._clock() < float(open_until) else BreakerState.HALF_OPEN

    def allows_request(self) -> bool:
        """True only when closed; in half-open only the probe holder may send (see module)."""
        return self.state() is BreakerState.CLOSED

    def try_acquire_probe(self) -> bool:
        """In half-open state, claim the single probe; False if not half-open or already taken."""
        if self.state() is not BreakerState.HALF_OPEN:
            return False
        return bool(self._store.add(self._probe_key, 1, timeout=self.probe_timeout_s))

    def record_success(self) -> None:
        keys = (self._failures_key, self._open_key, self._probe_key)
        # One read on the hot path; the deletes only run when there is state to clear.
        for key in self._store.get_many(keys):
            self._store.delete(key)

    def record_failure(self) -> None:
        open_until = self._store.get(self._open_key)
        now = self._clock()
        if open_until is not None:
            if now >= float(open_until):
                self._open(now)  # the half-open probe failed
            return  # already open: late failures of requests sent earlier change nothing
        if self._increment_failures() >= self.failure_threshold:
            self._open(now)

    def _increment_failures(self) -> int:
        if self._store.add(self._failures_key, 1, timeout=self.window_s):
            return 1
        try:
            return int(self._store.incr(self._failures_key))
        except ValueError:  # the window expired between add and incr
            self._store.add(self._failures_key, 1, timeout=self.window_s)
            return 1

    def _open(self, now: float) -> None:
        self._store.set(self._open_key, now + self.cooldown_s, timeout=_STATE_TTL_S)
        self._store.delete(self._failures_key)
        self._store.delete(self._probe_key)
