"""HTTP client for an OSRM server: `/table` blocks and single `/route` calls.

Every request has an explicit timeout. Transient failures (timeouts, connection errors,
dropped connections, 5xx/429, malformed JSON) are retried with exponential back-off plus a
small seeded jitter, then raised as `OsrmError(transient=True)`. Answers that retrying cannot
fix (4xx such as `TooBig` or `NoSegment`, `code != "Ok"`) raise `OsrmError(transient=False)`
at once. An optional circuit breaker is consulted before every attempt and told about every
transient failure and every answer, so a dead server costs at most a few timeouts.

Coordinates go to OSRM as "lon,lat" (OSRM's order), with 6 decimals (~0.1 m).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from dispatch.engine.closing import ClosesOnExit
from dispatch.engine.geo import Location

CIRCUIT_OPEN = "CircuitOpen"
_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


class OsrmError(Exception):
    """OSRM could not answer. `transient` says whether asking again later may succeed.

    `code` is OSRM's error code (`TooBig`, `NoSegment`, ...), `CircuitOpen` when the breaker
    refused to send the request, or None for transport and parsing failures.
    """

    def __init__(self, message: str, *, transient: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code


class Breaker(Protocol):
    """What the client needs from a circuit breaker (see travel.breaker.CircuitBreaker)."""

    def allows_request(self) -> bool: ...

    def record_success(self) -> None: ...

    def record_failure(self) -> None: ...


@dataclass(frozen=True)
class TableResult:
    """`durations[s][d]` seconds and `distances[s][d]` metres, None where OSRM found no route.

    Rows follow the requested sources and columns the requested destinations, in order.
    """

    durations: list[list[float | None]]
    distances: list[list[float | None]]


class OsrmClient(ClosesOnExit):
    """Thread-safe OSRM client over one pooled httpx connection pool.

    `retries` is the number of extra attempts after the first. `probe=True` on a call makes a
    single attempt that bypasses the breaker's "closed" check: it is the one request a
    half-open breaker lets through.
    """

    def __init__(
        self,
        base_url: str,
        *,
        profile: str = "driving",
        timeout_s: float = 5.0,
        pool_size: int = 4,
        retries: int = 2,
        backoff_s: float = 0.2,
        backoff_max_s: float = 2.0,
        jitter_s: float = 0.05,
        seed: int = 0,
        breaker: Breaker | None = None,
        skip_waypoints: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self.retries = retries
        self.breaker = breaker
        self._backoff_s, self._backoff_max_s, self._jitter_s = backoff_s, backoff_max_s, jitter_s
        # Jitter spreads retries of concurrent blocks apart; seeded so test runs repeat.
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        # skip_waypoints (OSRM 5.26+) drops the snapped-waypoint list we never read, roughly
        # halving table responses; turn it off for older servers, which reject it.
        self._skip_waypoints = skip_waypoints
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
        )

    def close(self) -> None:
        self._http.close()

    def table(
        self,
        coords: Sequence[Location],
        sources: Sequence[int] | None = None,
        destinations: Sequence[int] | None = None,
        *,
        probe: bool = False,
    ) -> TableResult:
        """Durations and distances from `coords[sources]` to `coords[destinations]`.

        None for sources/destinations means all coordinates. The server's table size limit
        is the caller's business (OsrmMatrixProvider splits into blocks); exceeding it raises
        OsrmError(code="TooBig", transient=False).
        """
        params = {"annotations": "duration,distance"}
        if sources is not None:
            params["sources"] = ";".join(map(str, sources))
        if destinations is not None:
            params["destinations"] = ";".join(map(str, destinations))
        body = self._get_json("table", coords, params, probe=probe)
        rows = len(coords) if sources is None else len(sources)
        cols = len(coords) if destinations is None else len(destinations)
        return TableResult(
            _matrix(body, "durations", rows, cols), _matrix(body, "distances", rows, cols)
        )

    def route(self, a: Location, b: Location, *, probe: bool = False) -> tuple[float, float]:
        """(seconds, metres) of the fastest route from a to b."""
        params = {"overview": "false", "steps": "false", "alternatives": "false"}
        body = self._get_json("route", (a, b), params, probe=probe)
        try:
            best = body["routes"][0]
            return float(best["duration"]), float(best["distance"])
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise OsrmError(f"malformed route response: {exc!r}", transient=True) from exc

    def route_path(self, a: Location, b: Location) -> tuple[float, float, list[Location]]:
        """(seconds, metres, the road's points from a to b) of the fastest route; the points
        are OSRM's full overview geometry (for drawing or replaying a drive)."""
        params = {"overview": "full", "geometries": "geojson", "steps": "false"}
        body = self._get_json("route", (a, b), {**params, "alternatives": "false"}, probe=False)
        try:
            best = body["routes"][0]
            points = [
                Location(float(lat), float(lon)) for lon, lat in best["geometry"]["coordinates"]
            ]
            return float(best["duration"]), float(best["distance"]), points
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise OsrmError(f"malformed route response: {exc!r}", transient=True) from exc

    def _get_json(
        self, service: str, coords: Sequence[Location], params: dict[str, str], *, probe: bool
    ) -> dict[str, Any]:
        url = f"{self.base_url}/{service}/v1/{self.profile}/{_coords(coords)}"
        if self._skip_waypoints:
            params = {**params, "skip_waypoints": "true"}
        attempts = 1 if probe else self.retries + 1
        for attempt in range(attempts):
            if not probe and self.breaker is not None and not self.breaker.allows_request():
                raise OsrmError("circuit breaker open", transient=True, code=CIRCUIT_OPEN)
            try:
                body = self._attempt(url, params)
            except OsrmError as exc:
                if not exc.transient:
                    self._record(success=True)  # the server answered; it is healthy
                    raise
                self._record(success=False)
                if attempt == attempts - 1:
                    raise
                self._sleep(self._backoff(attempt))
            else:
                self._record(success=True)
                return body
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _attempt(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = self._http.get(url, params=params)
        except httpx.TimeoutException as exc:
            raise OsrmError(f"timeout: {exc!r}", transient=True) from exc
        except httpx.TransportError as exc:  # connect errors, dropped connections
            raise OsrmError(f"transport error: {exc!r}", transient=True) from exc
        if response.status_code in _TRANSIENT_STATUS:
            raise OsrmError(f"HTTP {response.status_code}", transient=True)
        body = _parse(response)
        code = body.get("code")
        if response.status_code != 200 or code != "Ok":
            message = f"HTTP {response.status_code} {code}: {body.get('message', '')}"
            raise OsrmError(message, transient=False, code=str(code))
        return body

    def _backoff(self, attempt: int) -> float:
        with self._rng_lock:
            jitter = self._rng.uniform(0, self._jitter_s)
        return float(min(self._backoff_max_s, self._backoff_s * 2**attempt) + jitter)

    def _record(self, *, success: bool) -> None:
        if self.breaker is None:
            return
        if success:
            self.breaker.record_success()
        else:
            self.breaker.record_failure()


def _coords(coords: Sequence[Location]) -> str:
    return ";".join(f"{c.lon:.6f},{c.lat:.6f}" for c in coords)


def _parse(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        # A truncated or garbled body (proxy, overloaded server) may well be fine next time.
        raise OsrmError(f"malformed JSON (HTTP {response.status_code})", transient=True) from exc
    if not isinstance(body, dict):
        raise OsrmError("malformed JSON: not an object", transient=True)
    return body


def _matrix(body: dict[str, Any], field: str, rows: int, cols: int) -> list[list[float | None]]:
    matrix = body.get(field)
    if (
        not isinstance(matrix, list)
        or len(matrix) != rows
        or any(not isinstance(row, list) or len(row) != cols for row in matrix)
    ):
        raise OsrmError(f"malformed table response: bad {field!r} shape", transient=True)
    try:
        return [[None if v is None else float(v) for v in row] for row in matrix]
    except (TypeError, ValueError) as exc:
        raise OsrmError(f"malformed table response: {exc!r}", transient=True) from exc
