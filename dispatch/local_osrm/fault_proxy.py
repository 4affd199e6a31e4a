"""HTTP proxy in front of osrm-routed that injects failures chosen at run time by tests.

Modes: pass-through, delay (then pass through), HTTP error status, malformed JSON, dropped
connection. A `Fault` can be limited to every k-th request and/or to requests matching a
predicate, so a test can fail only some `/table` blocks. Every request is logged with its
parsed table parameters, so tests can check block sizes and which cells were asked for.

Listens on 127.0.0.1 only. Threaded (one thread per connection, keep-alive supported) so a
delayed request does not hold up the others. Delays sleep on an event that `stop()` sets,
so shutting down never waits for them.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from dispatch.engine.closing import ClosesOnExit


class Mode(StrEnum):
    PASS = "pass"  # noqa: S105 - a mode name, not a password
    DELAY = "delay"
    STATUS = "status"
    MALFORMED = "malformed"
    DROP = "drop"


@dataclass(frozen=True)
class ProxiedRequest:
    """One request as the proxy saw it. Coordinates are (lon, lat) as OSRM takes them."""

    seq: int  # 1-based arrival order
    path: str
    service: str  # "table", "route", "nearest", ...
    coordinates: tuple[tuple[float, float], ...]
    sources: tuple[int, ...]  # indices into coordinates; all of them when absent
    destinations: tuple[int, ...]
    mode: Mode = Mode.PASS  # what the proxy did with it

    @property
    def source_coordinates(self) -> tuple[tuple[float, float], ...]:
        return tuple(self.coordinates[i] for i in self.sources)

    @property
    def destination_coordinates(self) -> tuple[tuple[float, float], ...]:
        return tuple(self.coordinates[i] for i in self.destinations)


@dataclass(frozen=True)
class Fault:
    """What to do with matching requests; the rest pass through.

    Requests for which `when` is true (all when it is None) are candidates; the fault hits
    every `every`-th candidate (every=2: the 2nd, 4th, ...), at most `times` times in total
    (None: no limit), e.g. `Fault(Mode.STATUS, times=2)` fails two requests, then recovers.
    `body` replaces the JSON body sent with `status` (e.g. an OSRM `NoSegment` error).
    """

    mode: Mode = Mode.PASS
    delay_s: float = 0.0
    status: int = 503
    body: bytes | None = None
    every: int = 1
    times: int | None = None
    when: Callable[[ProxiedRequest], bool] | None = None


@dataclass
class _State:
    fault: Fault = field(default_factory=Fault)
    matched: int = 0
    injected: int = 0
    log: list[ProxiedRequest] = field(default_factory=list)


class FaultProxy(ClosesOnExit):
    def __init__(self, upstream: str, *, upstream_timeout_s: float = 30.0) -> None:
        self.upstream = upstream.rstrip("/")
        self._state = _State()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        # A fresh upstream connection per request: osrm-routed closes keep-alive connections
        # idle for 5 s, and a request racing that close is reset, an error no test asked for.
        self._http = httpx.Client(
            timeout=upstream_timeout_s, limits=httpx.Limits(max_keepalive_connections=0)
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def set_fault(self, fault: Fault) -> None:
        """Switch behaviour for requests arriving from now on; resets the counters."""
        with self._lock:
            self._state.fault, self._state.matched, self._state.injected = fault, 0, 0

    def reset(self) -> None:
        """Back to pass-through with an empty request log."""
        with self._lock:
            self._state = _State()

    @property
    def requests(self) -> list[ProxiedRequest]:
        with self._lock:
            return list(self._state.log)

    def clear_log(self) -> None:
        with self._lock:
            self._state.log.clear()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def close(self) -> None:
        self.stop()

    def _decide(self, request: ProxiedRequest) -> tuple[ProxiedRequest, Fault]:
        with self._lock:
            fault = self._state.fault
            mode = Mode.PASS
            left = fault.times is None or self._state.injected < fault.times
            if fault.mode is not Mode.PASS and left and (fault.when is None or fault.when(request)):
                self._state.matched += 1
                if self._state.matched % fault.every == 0:
                    self._state.injected += 1
                    mode = fault.mode
            request = replace(request, seq=len(self._state.log) + 1, mode=mode)
            self._state.log.append(request)
        return request, fault

    def _forward(self, path: str) -> tuple[int, bytes, str]:
        response = self._http.get(self.upstream + path)
        return response.status_code, response.content, response.headers.get("content-type", "")


def parse_request(path: str) -> ProxiedRequest:
    """Parse an OSRM URL path (`/table/v1/driving/lon,lat;...?sources=..`) for the log."""
    parts = urlsplit(path)
    segments = parts.path.strip("/").split("/")
    service = segments[0] if segments else ""
    coordinates: tuple[tuple[float, float], ...] = ()
    if len(segments) >= 4:
        pairs = (c.split(",") for c in unquote(segments[3]).split(";") if c)
        coordinates = tuple((float(lon), float(lat)) for lon, lat in pairs)
    query = parse_qs(parts.query)
    everything = tuple(range(len(coordinates)))

    def indices(name: str) -> tuple[int, ...]:
        raw = query.get(name, ["all"])[0]
        return everything if raw == "all" else tuple(int(i) for i in raw.split(";"))

    return ProxiedRequest(
        0, path, service, coordinates, indices("sources"), indices("destinations")
    )


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as osrm-routed and the client use

        def do_GET(self) -> None:
            request, fault = proxy._decide(parse_request(self.path))
            if request.mode is Mode.DROP:
                self._drop()
            elif request.mode is Mode.STATUS:
                body = fault.body if fault.body is not None else b'{"code":"InternalError"}'
                self._reply(fault.status, body, "application/json")
            elif request.mode is Mode.MALFORMED:
                self._reply(200, b'{"code":"Ok","durations":[[0,', "application/json")
            else:
                if request.mode is Mode.DELAY and proxy._stopping.wait(fault.delay_s):
                    return self._drop()
                self._reply(*proxy._forward(self.path))

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type or "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (timeout); nothing to do

        def _drop(self) -> None:
            # SO_LINGER 0 turns close() into a TCP reset: the client sees the connection die
            # mid-request, as with a crashed server or a load balancer killing it.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass  # the request log above is the record; stderr noise would drown test output

    return Handler
