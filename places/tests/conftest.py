"""A tiny Nominatim-compatible geocoder on loopback (a real HTTP server, not a mock)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

# Addresses the fake geocoder knows (matched on the lower-cased query), and its answers.
KNOWN = {
    "rue du bugnon 46, lausanne": [{"lat": "46.5254", "lon": "6.6423", "display_name": "CHUV"}],
    "avenue de la gare 10, lausanne": [{"lat": "46.5167", "lon": "6.6291"}],
}
SLOW = "slow street 1"  # answers only when the test ends: longer than any timeout
BROKEN = "broken street 1"  # a 500
GARBAGE = "garbage street 1"  # 200 with a body that is not a list of positions


@dataclass
class FakeGeocoder:
    url: str
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(state: FakeGeocoder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            params = parse_qs(parsed.query)
            state.queries.append({"path": [parsed.path], **params})
            q = params.get("q", [""])[0].lower()
            if parsed.path != "/search" or params.get("format") != ["jsonv2"]:
                return self._send(404, b"not found")
            if q == SLOW:
                state.release.wait(30)
            if q == BROKEN:
                return self._send(500, b"boom")
            if q == GARBAGE:
                return self._send(200, b'{"lat": "x"}')
            self._send(200, json.dumps(KNOWN.get(q, [])).encode())

        def _send(self, status: int, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                pass

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def geocoder(settings) -> Iterator[FakeGeocoder]:
    """A real HTTP server on 127.0.0.1 (an ephemeral port), set as GEOCODER_URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(FakeGeocoder(url="")))
    server.daemon_threads = True
    state = FakeGeocoder(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.GEOCODER_URL = state.url
    settings.GEOCODER_TIMEOUT_S = 5.0
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)
