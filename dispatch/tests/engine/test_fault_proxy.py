"""The fault proxy injects only the faults a test asks for."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from dispatch.local_osrm.fault_proxy import FaultProxy


class _ResetsReusedConnections(BaseHTTPRequestHandler):
    """Answers the first request of a connection with keep-alive, resets on the second: what
    osrm-routed does to a request that races its 5 s idle close, made deterministic."""

    protocol_version = "HTTP/1.1"
    served = 0

    def do_GET(self) -> None:
        self.served += 1
        if self.served > 1:
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.close_connection = True
            return
        body = b'{"code":"Ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ResetsReusedConnections)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_upstream_closing_idle_connections_is_not_a_fault(upstream: str) -> None:
    with FaultProxy(upstream) as proxy, httpx.Client(timeout=30) as http:
        answers = [http.get(f"{proxy.url}/table/v1/driving/6.6,46.5;6.1,46.2") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
