"""A hostile HTTP server on 127.0.0.1: it sends one byte every ``interval`` seconds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DRIP_SIZE = 10_000_000  # announced Content-Length; never reached at one byte per 0.5 s


class DripServer(ThreadingHTTPServer):
    daemon_threads = False  # joined by server_close(): nothing outlives a test

    def __init__(self, interval: float = 0.5, drip_headers: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _DripHandler)
        self.interval = interval
        self.drip_headers = drip_headers
        self.stop = threading.Event()
        self.first_byte_sent = threading.Event()

    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/files/model.pth"


class _DripHandler(BaseHTTPRequestHandler):
    server: DripServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def _drip(self, data: bytes) -> bool:
        for i in range(len(data)):
            try:
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
            except OSError:
                return False  # the client hung up
            self.server.first_byte_sent.set()
            if self.server.stop.wait(self.server.interval):
                return False
        return True

    def do_GET(self) -> None:
        head = (
            "HTTP/1.1 200 OK\r\n"
            f"Content-Length: {DRIP_SIZE}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        if self.server.drip_headers:
            if not self._drip(head):
                return
        else:
            self.wfile.write(head)
        self._drip(b"\0" * DRIP_SIZE)
        self.close_connection = True


@contextmanager
def drip_server(interval: float = 0.5, drip_headers: bool = False) -> Iterator[DripServer]:
    server = DripServer(interval, drip_headers)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-drip-server"
    )
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)
        assert not thread.is_alive(), "drip server thread did not stop"
