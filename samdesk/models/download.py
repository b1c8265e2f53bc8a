"""Resumable, verified download of one file over HTTP(S), standard library only.

The file is written to ``<dest>.part`` and only renamed to ``dest`` once its size and
SHA-256 match the published values, so ``dest`` is either absent or complete and verified.
An interrupted or cancelled download keeps its ``.part``; the next call asks the server for
the rest with an HTTP Range request. One download per ``dest`` at a time: the caller (the
UI's download service) must not start two for the same file.

Cancelling takes effect within a fraction of a second even against a server that sends a
byte now and then: reads return whatever has arrived (``read1``, never "wait for a full
megabyte"), and a watcher thread shuts the connection's socket down as soon as ``cancel``
is set, which wakes a read blocked in the socket (connecting, waiting for headers or
for the body alike).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import logging
import os
import re
import shutil
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from samdesk import __version__

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, "int | None"], None]
"""``progress(bytes_done, total_bytes)``; ``total_bytes`` is None while unknown."""

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
# "bytes 100-199/1000" or "bytes */1000" (the latter on 416); the total may be "*".
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", re.IGNORECASE)


class DownloadError(Exception):
    """A download failed; the message names the URL, the reason and what to try."""


class ChecksumMismatch(DownloadError):
    """The downloaded bytes are not the published file (SHA-256 or size); it was deleted.

    ``expected`` and ``actual`` hold the two hex digests, or the two sizes as text.
    """

    def __init__(self, message: str, *, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class DownloadCancelled(Exception):
    """The caller cancelled. The ``.part`` file is kept, so a later call resumes it.

    Deliberately not a DownloadError: a cancellation is not something to report as a
    failure to the user.
    """


class _RestartFromZero(Exception):  # internal control flow, not an error
    """The ``.part`` cannot be resumed (the server disowns its length); start over."""


def part_path(dest: Path) -> Path:
    """The unfinished-download file for ``dest``: ``dest`` with ``.part`` appended."""
    return dest.with_suffix(dest.suffix + ".part")


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None,
    expected_size: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    timeout: float = 30,
    chunk_size: int = 1 << 20,
) -> Path:
    """Download ``url`` to ``dest``, resuming an earlier ``.part``, and verify it.

    ``sha256`` is the published digest (64 hex); None means no digest is known, in which
    case only ``expected_size`` is checked and a warning is logged. ``progress`` is called
    from this thread with (bytes done, total) after every chunk; within one call the
    values never decrease. Setting ``cancel`` (e.g. from ``progress``) stops before the
    next chunk. ``timeout`` is in seconds, per connect and per read.

    Returns ``dest``. Raises ``DownloadCancelled`` (``.part`` kept), ``ChecksumMismatch``
    (``.part`` deleted) or ``DownloadError`` (network or HTTP failure; ``.part`` kept
    when what it holds is still a valid prefix). ``dest`` is never left half written.
    """
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if not _SHA256_RE.fullmatch(sha256):
            raise ValueError(f"expected a SHA-256 of 64 hex digits, got {sha256!r}")
    if expected_size is not None and expected_size < 0:
        raise ValueError(f"expected_size must be >= 0, got {expected_size}")
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be > 0, got {chunk_size}")

    dest = Path(dest)
    part = part_path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _check_cancel(cancel)
    if _already_there(dest, sha256):
        return dest

    offset = part.stat().st_size if part.exists() else 0
    if expected_size is not None and offset > expected_size:
        # Longer than the published file, so it cannot be a prefix of it.
        log.info("discarding %s: %d bytes, more than the expected %d", part, offset, expected_size)
        part.unlink()
        offset = 0

    if expected_size is not None:
        _check_free_space(dest.parent, expected_size - offset)

    fetch = _Fetch(url, part, expected_size, progress, cancel, timeout, chunk_size)
    if expected_size is not None and offset == expected_size and part.exists():
        # A previous run received everything but did not get to verify it.
        hasher = fetch.hash_prefix(offset)
        _report(progress, offset, expected_size)
    else:
        with fetch.watch:
            try:
                hasher = fetch.run(offset)
            except _RestartFromZero:
                part.unlink(missing_ok=True)
                hasher = fetch.run(0)

    _verify(part, url, hasher.hexdigest(), sha256, expected_size)
    if _already_there(dest, sha256):  # someone put a file there meanwhile: leave both
        return dest
    # Same folder, so the rename is atomic: dest appears complete or not at all.
    os.replace(part, dest)
    return dest


def _already_there(dest: Path, sha256: str | None) -> bool:
    """True when ``dest`` already holds the published file; raises when it holds another.

    A file at ``dest`` that samdesk did not download (the user's own, a different model
    under the same name) is never replaced: the download refuses with a message instead.
    """
    if not dest.exists() and not dest.is_symlink():
        return False
    if sha256 is not None and dest.is_file():
        h = hashlib.sha256()
        with dest.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        if h.hexdigest() == sha256:
            return True
    raise DownloadError(
        f"{dest} already exists and is not the published file; samdesk does not replace "
        "it. Move or rename it, then download again."
    )


class _CancelWatch:
    """Shuts down the download's sockets as soon as ``cancel`` is set.

    A blocked ``recv`` returns (or fails) at once when its socket is shut down from
    another thread, so a cancel never waits for the next byte of a slow server or for the
    read timeout. Used as a context manager around the transfer; without a cancel event
    it does nothing.
    """

    POLL_S = 0.05

    def __init__(self, cancel: threading.Event | None) -> None:
        self.cancel = cancel
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _CancelWatch:
        if self.cancel is not None:
            self._thread = threading.Thread(
                target=self._run, name="samdesk-download-cancel", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._sockets.clear()

    def add(self, sock: socket.socket) -> None:
        """Watch ``sock`` (shut down at once when the download is already cancelled)."""
        with self._lock:
            self._sockets.append(sock)
        if self.cancel is not None and self.cancel.is_set():
            self._shutdown()

    def _run(self) -> None:
        assert self.cancel is not None
        while not self._done.is_set():
            if self.cancel.wait(self.POLL_S):
                self._shutdown()
                return

    def _shutdown(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed: nothing to wake
                sock.shutdown(socket.SHUT_RDWR)


class _Watched:
    """Mixin for an http.client connection: its socket is registered with the watch once
    connected (for HTTPS, the TLS socket), so Cancel can shut it down."""

    sock: socket.socket

    def __init__(self, *args: object, watch: _CancelWatch, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self._watch = watch

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._watch.add(self.sock)


class _WatchedHTTPConnection(_Watched, http.client.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, http.client.HTTPSConnection):
    pass


class _WatchedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, watch: _CancelWatch) -> None:
        super().__init__()
        self._watch = watch

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_WatchedHTTPConnection, watch=self._watch), req)


class _WatchedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, watch: _CancelWatch) -> None:
        super().__init__()
        self._watch = watch

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            functools.partial(_WatchedHTTPSConnection, watch=self._watch),
            req,
            context=self._context,
        )


class _Fetch:
    """One HTTP transfer into ``part``, appending from ``offset`` when the server agrees."""

    def __init__(
        self,
        url: str,
        part: Path,
        expected_size: int | None,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        timeout: float,
        chunk_size: int,
    ) -> None:
        self.url = url
        self.part = part
        self.expected_size = expected_size
        self.progress = progress
        self.cancel = cancel
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.watch = _CancelWatch(cancel)
        self._opener = urllib.request.build_opener(
            _WatchedHTTPHandler(self.watch), _WatchedHTTPSHandler(self.watch)
        )

    def hash_prefix(self, offset: int) -> hashlib._Hash:
        """SHA-256 state over the first ``offset`` bytes already in ``part``.

        Hashing the prefix (instead of the whole file at the end) keeps the final check
        incremental; it is read before the request so that the connection never idles.
        """
        hasher = hashlib.sha256()
        if offset == 0:
            return hasher
        with self.part.open("rb") as f:
            remaining = offset
            while remaining:
                _check_cancel(self.cancel)
                block = f.read(min(self.chunk_size, remaining))
                if not block:  # the file shrank under us; let the size check catch it
                    break
                hasher.update(block)
                remaining -= len(block)
        return hasher

    def run(self, offset: int) -> hashlib._Hash:
        """Request the bytes from ``offset`` on, append them; return the whole file's hash."""
        hasher = self.hash_prefix(offset)
        request = urllib.request.Request(
            self.url,
            # identity: a compressed body would make byte ranges and sizes meaningless.
            headers={"User-Agent": f"samdesk/{__version__}", "Accept-Encoding": "identity"},
        )
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        try:
            response = self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            _check_cancel(self.cancel)
            with error:  # an HTTPError holds the connection open until closed
                if error.code == 416 and offset:
                    return self._after_416(offset, error.headers.get("Content-Range"), hasher)
                raise DownloadError(
                    f"Could not download {self.url}: the server answered HTTP {error.code} "
                    f"({error.reason}). If this persists, the file may have moved; you can "
                    f"download it by hand into {self.part.parent}."
                ) from error
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            _check_cancel(self.cancel)  # the watcher shut the socket down: not a failure
            raise DownloadError(_connect_message(self.url, error, self.timeout)) from error

        with response:
            if response.status == 206:
                start, total = _parse_content_range(response.headers.get("Content-Range"))
                if start != offset:
                    log.info("%s answered from byte %s instead of %d", self.url, start, offset)
                    if offset:
                        raise _RestartFromZero
                    raise DownloadError(
                        f"Could not download {self.url}: the server sent only part of the "
                        f"file ({response.headers.get('Content-Range')!r}) without being asked."
                    )
                if total is None:
                    total = _content_length(response, plus=offset)
            elif 200 <= response.status < 300:
                if offset:
                    # The server ignored the Range header and sends the whole file.
                    log.info("%s does not support resuming; starting over", self.url)
                    hasher, offset = hashlib.sha256(), 0
                total = _content_length(response, plus=0)
            else:
                raise DownloadError(
                    f"Could not download {self.url}: unexpected HTTP {response.status}."
                )

            if self.expected_size is not None and total not in (None, self.expected_size):
                self.part.unlink(missing_ok=True)
                raise DownloadError(
                    f"The server reports {self.url} as {total} bytes, but the published "
                    f"file has {self.expected_size} bytes: the file at that address has "
                    f"changed or the address is wrong. Nothing was kept."
                )
            if total is None:
                total = self.expected_size
            self._copy(response, hasher, offset, total)
        return hasher

    def _after_416(
        self, offset: int, content_range: str | None, hasher: hashlib._Hash
    ) -> hashlib._Hash:
        """Handle "Range Not Satisfiable": either the .part is complete, or it is junk."""
        _, total = _parse_content_range(content_range)
        if total is None:
            total = self.expected_size
        if total == offset:
            _report(self.progress, offset, total)
            return hasher
        raise _RestartFromZero

    def _copy(
        self,
        response: http.client.HTTPResponse,
        hasher: hashlib._Hash,
        offset: int,
        total: int | None,
    ) -> None:
        """Stream the body into ``part`` (append from ``offset``), hashing as it goes."""
        _report(self.progress, offset, total)
        try:
            done = self._write(response, hasher, offset, total)
        except OSError as error:  # the local disk; network errors are converted inside
            raise DownloadError(
                f"Could not write {self.part}: {error.strerror or error}. Check the free space "
                f"and permissions of {self.part.parent}, then try again."
            ) from error
        if total is not None and done < total:
            raise DownloadError(_interrupted_message(self.url, done, total, None, self.timeout))
        if total is not None and done > total:
            self.part.unlink(missing_ok=True)
            raise DownloadError(
                f"The server sent more of {self.url} than expected ({done} bytes, not "
                f"{total}). The partial file was deleted; try again."
            )

    def _write(
        self,
        response: http.client.HTTPResponse,
        hasher: hashlib._Hash,
        offset: int,
        total: int | None,
    ) -> int:
        """Append the body to ``part`` until it ends; return the bytes now in ``part``."""
        done = offset
        with self.part.open("ab" if offset else "wb") as out:
            while True:
                # Checked before each read so that a cancel set by the progress callback
                # stops the transfer at once; what was written stays for a resume.
                _check_cancel(self.cancel)
                try:
                    # read1: what has arrived (up to chunk_size), not a full chunk — a
                    # slow server must not hold the loop (and the cancel check) for minutes.
                    chunk = response.read1(self.chunk_size)
                except (OSError, http.client.HTTPException) as error:
                    _check_cancel(self.cancel)
                    raise DownloadError(
                        _interrupted_message(self.url, done, total, error, self.timeout)
                    ) from error
                if not chunk:
                    _check_cancel(self.cancel)  # a shut-down socket reads as the end
                    break
                out.write(chunk)
                hasher.update(chunk)
                done += len(chunk)
                if total is not None and done > total:
                    break  # a runaway body; do not let it fill the disk
                _report(self.progress, done, total)
            out.flush()
            os.fsync(out.fileno())
        return done


def _verify(part: Path, url: str, actual: str, sha256: str | None, size: int | None) -> None:
    """Check size and digest of the finished ``part``; delete it and raise on mismatch."""
    got_size = part.stat().st_size
    if size is not None and got_size != size:
        part.unlink()
        raise ChecksumMismatch(
            f"Size mismatch for {url}: expected {size} bytes, got {got_size}. The downloaded "
            f"file was deleted; try again.",
            expected=str(size),
            actual=str(got_size),
        )
    if sha256 is None:
        log.warning(
            "No published SHA-256 for %s; only its size was checked (%s).",
            url,
            "not even that: no size known" if size is None else f"{size} bytes",
        )
        return
    if actual != sha256:
        part.unlink()
        raise ChecksumMismatch(
            f"Checksum mismatch for {url}: expected SHA-256 {sha256}, got {actual}. The "
            f"downloaded file was deleted; try again. If it happens again, the file at that "
            f"address is not the published one.",
            expected=sha256,
            actual=actual,
        )


def _check_free_space(folder: Path, needed: int) -> None:
    """Fail early, before a long transfer, when the disk cannot hold the rest of the file."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # unknown (e.g. some network drives): let the writes tell
    if needed > free:
        raise DownloadError(
            f"Not enough disk space in {folder}: the download needs {needed / 1e6:.0f} MB more, "
            f"{free / 1e6:.0f} MB are free. Free some space, then try again."
        )


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled("download cancelled; the partial file is kept for a resume")


def _report(progress: ProgressCallback | None, done: int, total: int | None) -> None:
    if progress is not None:
        progress(done, total)


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a Content-Range header; None for what it lacks."""
    match = _CONTENT_RANGE_RE.match(value.strip()) if value else None
    if match is None:
        return None, None
    start = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(3)) if match.group(3) != "*" else None
    return start, total


def _content_length(response: http.client.HTTPResponse, *, plus: int) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) + plus if value is not None else None
    except ValueError:
        return None


def _reason(error: BaseException) -> str:
    """The most specific human-readable reason inside a urllib/socket error."""
    reason = getattr(error, "reason", None)
    if isinstance(reason, BaseException):
        return _reason(reason)
    text = str(reason if reason is not None else error) or type(error).__name__
    return text


def _connect_message(url: str, error: BaseException, timeout: float) -> str:
    host = urllib.parse.urlsplit(url).hostname or url
    if isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError):
        why = f"no answer within {timeout:g} s"
    else:
        why = _reason(error)
    return (
        f"Could not reach {host} to download {url} ({why}). Check the internet connection "
        f"and any proxy or firewall settings, then try again."
    )


def _interrupted_message(
    url: str, done: int, total: int | None, error: BaseException | None, timeout: float
) -> str:
    of_total = f" of {total}" if total is not None else ""
    if error is None:
        why = "the server closed the connection"
    elif isinstance(error, TimeoutError):
        why = f"no data for {timeout:g} s"
    else:
        why = _reason(error)
    return (
        f"The download of {url} stopped after {done}{of_total} bytes ({why}). Try again: "
        f"it resumes where it stopped."
    )
