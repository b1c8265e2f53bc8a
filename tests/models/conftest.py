"""A local HTTP file server (127.0.0.1 only) with Range support and scripted misbehaviour."""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# ~3 MB of fixed pseudo-random bytes; an odd size so no chunk boundary lines up by luck.
PAYLOAD = random.Random(20240501).randbytes(3 * 1024 * 1024 + 12_345)
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
FILE_PATH = "/files/model.pth"
REDIRECT_PATH = "/redirect/model.pth"
_RANGE_RE = re.compile(r"bytes=(\d+)-")
_WRITE_BLOCK = 64 * 1024


@dataclass
class ServerScript:
    """How the server behaves; tests change it before (or between) downloads."""

    payload: bytes = PAYLOAD
    honour_range: bool = True
    # Close the connection after sending this many body bytes; applies to one response.
    drop_after: int | None = None
    # Send the headers, then send nothing until ``release`` is set (a stalled server).
    stall: bool = False
    # Omit Content-Length (HTTP/1.0 then ends the body by closing): total size unknown.
    send_length: bool = True
    release: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    path: str
    range: str | None


class FileServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that records requests and follows a ``ServerScript``."""

    # Non-daemon handler threads, so server_close() joins them: nothing outlives a test.
    daemon_threads = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = ServerScript()
        # The published values of the served file, as a catalog entry would hold them.
        self.payload = PAYLOAD
        self.sha256 = PAYLOAD_SHA256
        self.requests: list[Request] = []
        self._lock = threading.Lock()

    def url(self, path: str = FILE_PATH) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{path}"

    def redirect_url(self) -> str:
        """A URL that answers 302 and points at the file."""
        return self.url(REDIRECT_PATH)

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def ranges(self, path: str = FILE_PATH) -> list[str | None]:
        """The Range header of each request to ``path`` (the file by default), in order."""
        with self._lock:
            return [r.range for r in self.requests if r.path == path]


class _Handler(BaseHTTPRequestHandler):
    server: FileServer

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        script = self.server.script
        range_header = self.headers.get("Range")
        self.server.record(Request(self.path, range_header))
        if self.path == REDIRECT_PATH:
            self.send_response(302)
            self.send_header("Location", FILE_PATH)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path != FILE_PATH:
            self.send_error(404, "Not Found")
            return

        data = script.payload
        start = 0
        match = _RANGE_RE.fullmatch(range_header or "")
        if match and script.honour_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
            self.send_header("Accept-Ranges", "none")
        body = data[start:]
        if script.send_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()

        if script.stall:
            script.release.wait(timeout=30)
            return
        if script.drop_after is not None:
            # Announced the whole length, send less, then close (HTTP/1.0: the socket
            # closes when the handler returns): a broken download.
            body, script.drop_after = body[: script.drop_after], None
        try:
            for i in range(0, len(body), _WRITE_BLOCK):
                self.wfile.write(body[i : i + _WRITE_BLOCK])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up (a cancelled download)


@pytest.fixture
def server() -> Iterator[FileServer]:
    """A running FileServer on 127.0.0.1 and a free port, shut down cleanly afterwards."""
    srv = FileServer()
    thread = threading.Thread(
        target=srv.serve_forever, kwargs={"poll_interval": 0.05}, name="test-http-server"
    )
    thread.start()
    try:
        yield srv
    finally:
        srv.script.release.set()  # unblock a stalled handler so it can be joined
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=30)
        assert not thread.is_alive(), "HTTP server thread did not stop"
