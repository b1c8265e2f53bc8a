"""The downloader against a local HTTP server: resume, restart, verify, cancel, errors."""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
from pathlib import Path

import pytest

from samdesk.models.download import (
    ChecksumMismatch,
    DownloadCancelled,
    DownloadError,
    download,
    part_path,
)

CHUNK = 64 * 1024


class ProgressLog:
    """Collects progress calls; optionally sets ``cancel`` once ``cancel_at`` bytes are done."""

    def __init__(self, cancel: threading.Event | None = None, cancel_at: int = 0) -> None:
        self.calls: list[tuple[int, int | None]] = []
        self.cancel = cancel
        self.cancel_at = cancel_at

    def __call__(self, done: int, total: int | None) -> None:
        self.calls.append((done, total))
        if self.cancel is not None and done >= self.cancel_at:
            self.cancel.set()

    def assert_monotonic_to(self, total: int) -> None:
        done = [d for d, _ in self.calls]
        assert done == sorted(done), "progress went backwards"
        assert {t for _, t in self.calls} == {total}
        assert self.calls[-1] == (total, total)


def test_downloads_verifies_and_reports_progress(server, tmp_path: Path) -> None:
    dest = tmp_path / "models" / "model.pth"  # the folder does not exist yet
    progress = ProgressLog()

    result = download(
        server.url(), dest, sha256=server.sha256, expected_size=len(server.payload),
        progress=progress, chunk_size=CHUNK,
    )  # fmt: skip

    assert result == dest
    assert dest.read_bytes() == server.payload
    assert not part_path(dest).exists()
    assert server.ranges() == [None]
    progress.assert_monotonic_to(len(server.payload))
    assert len(progress.calls) > 10  # reported per chunk, not once at the end


def test_uppercase_digest_is_accepted(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    download(server.url(), dest, sha256=server.sha256.upper(), chunk_size=CHUNK)
    assert dest.read_bytes() == server.payload


def test_dropped_connection_keeps_part_and_next_call_resumes(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    cut = 1_000_000
    server.script.drop_after = cut

    with pytest.raises(DownloadError) as info:
        download(server.url(), dest, sha256=server.sha256, chunk_size=CHUNK)
    message = str(info.value)
    assert server.url() in message
    assert f"after {cut} of {len(server.payload)} bytes" in message
    assert "resumes" in message
    assert not dest.exists()
    assert part_path(dest).read_bytes() == server.payload[:cut]

    progress = ProgressLog()
    download(server.url(), dest, sha256=server.sha256, progress=progress, chunk_size=CHUNK)

    assert server.ranges() == [None, f"bytes={cut}-"]
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == server.sha256
    assert not part_path(dest).exists()
    # The resumed call starts its progress at the bytes it already had.
    assert progress.calls[0] == (cut, len(server.payload))
    progress.assert_monotonic_to(len(server.payload))


def test_resume_follows_a_redirect_with_its_range(server, tmp_path: Path) -> None:
    # MobileSAM's GitHub URL redirects; the Range header must survive the redirect.
    dest = tmp_path / "model.pth"
    part_path(dest).write_bytes(server.payload[:12_345])

    download(server.redirect_url(), dest, sha256=server.sha256, chunk_size=CHUNK)

    assert server.ranges("/redirect/model.pth") == ["bytes=12345-"]
    assert server.ranges() == ["bytes=12345-"]
    assert dest.read_bytes() == server.payload


def test_server_ignoring_range_restarts_from_zero(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    # Junk in the .part proves it is overwritten, not appended to.
    part_path(dest).write_bytes(b"x" * 5000)
    server.script.honour_range = False
    progress = ProgressLog()

    download(server.url(), dest, sha256=server.sha256, progress=progress, chunk_size=CHUNK)

    assert server.ranges() == ["bytes=5000-"]
    assert dest.read_bytes() == server.payload
    assert progress.calls[0] == (0, len(server.payload))
    progress.assert_monotonic_to(len(server.payload))


def test_wrong_checksum_deletes_the_file_and_says_so(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    wrong = "0" * 64

    with pytest.raises(ChecksumMismatch) as info:
        download(server.url(), dest, sha256=wrong, chunk_size=CHUNK)

    message = str(info.value)
    assert "Checksum mismatch" in message
    assert f"expected SHA-256 {wrong}" in message
    assert f"got {server.sha256}" in message
    assert "deleted" in message
    assert (info.value.expected, info.value.actual) == (wrong, server.sha256)
    assert not dest.exists()
    assert not part_path(dest).exists()


def test_size_announced_by_server_differs_from_published(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    with pytest.raises(DownloadError, match="published file has"):
        download(
            server.url(), dest, sha256=server.sha256, expected_size=len(server.payload) + 1,
            chunk_size=CHUNK,
        )  # fmt: skip
    assert not dest.exists()
    assert not part_path(dest).exists()


def test_without_digest_checks_size_and_warns(server, tmp_path: Path, caplog) -> None:
    dest = tmp_path / "model.pth"
    with caplog.at_level(logging.WARNING, logger="samdesk.models.download"):
        download(
            server.url(), dest, sha256=None, expected_size=len(server.payload), chunk_size=CHUNK
        )
    assert dest.read_bytes() == server.payload
    assert "No published SHA-256" in caplog.text


def test_unknown_length_short_of_published_size(server, tmp_path: Path) -> None:
    # Without Content-Length, fewer bytes than published looks like a broken transfer (kept
    # for a resume); when the server then says there is nothing more, the size check fails.
    dest = tmp_path / "model.pth"
    server.script.send_length = False
    expected = len(server.payload) + 1
    progress = ProgressLog()

    with pytest.raises(DownloadError, match="resumes"):
        download(
            server.url(), dest, sha256=server.sha256, expected_size=expected, progress=progress,
            chunk_size=CHUNK,
        )  # fmt: skip
    assert {total for _, total in progress.calls} == {expected}  # the published size
    assert part_path(dest).stat().st_size == len(server.payload)

    with pytest.raises(ChecksumMismatch, match="Size mismatch") as info:
        download(server.url(), dest, sha256=server.sha256, expected_size=expected)

    assert server.ranges() == [None, f"bytes={len(server.payload)}-"]  # answered 416
    assert (info.value.expected, info.value.actual) == (str(expected), str(len(server.payload)))
    assert not dest.exists()
    assert not part_path(dest).exists()


def test_unknown_length_beyond_published_size(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    server.script.send_length = False
    with pytest.raises(DownloadError, match=r"more of .* than expected"):
        download(
            server.url(), dest, sha256=server.sha256, expected_size=len(server.payload) - 1,
            chunk_size=CHUNK,
        )  # fmt: skip
    assert not dest.exists()
    assert not part_path(dest).exists()


def test_unknown_length_downloads_with_unknown_total(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    server.script.send_length = False
    progress = ProgressLog()

    download(server.url(), dest, sha256=server.sha256, progress=progress, chunk_size=CHUNK)

    assert dest.read_bytes() == server.payload
    assert {total for _, total in progress.calls} == {None}
    assert progress.calls[-1][0] == len(server.payload)


def test_cancel_from_progress_keeps_part_and_later_call_resumes(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    cancel = threading.Event()
    progress = ProgressLog(cancel=cancel, cancel_at=1_000_000)

    with pytest.raises(DownloadCancelled):
        download(
            server.url(), dest, sha256=server.sha256, progress=progress, cancel=cancel,
            chunk_size=CHUNK,
        )  # fmt: skip

    kept = part_path(dest).stat().st_size
    assert 1_000_000 <= kept < len(server.payload)
    assert kept == progress.calls[-1][0]  # everything reported was written
    assert part_path(dest).read_bytes() == server.payload[:kept]
    assert not dest.exists()

    download(server.url(), dest, sha256=server.sha256, cancel=threading.Event(), chunk_size=CHUNK)

    assert server.ranges() == [None, f"bytes={kept}-"]
    assert dest.read_bytes() == server.payload


def test_cancel_set_beforehand_makes_no_request(server, tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(DownloadCancelled):
        download(server.url(), tmp_path / "model.pth", sha256=server.sha256, cancel=cancel)
    assert server.requests == []


def test_http_404_is_a_download_error_naming_url_and_status(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    url = server.url("/no/such/file.pth")
    with pytest.raises(DownloadError) as info:
        download(url, dest, sha256=server.sha256)
    assert url in str(info.value)
    assert "HTTP 404" in str(info.value)
    assert not isinstance(info.value, ChecksumMismatch)
    assert not dest.exists()
    assert not part_path(dest).exists()


def test_unreachable_server_is_a_download_error(tmp_path: Path) -> None:
    # A port that was free a moment ago: nothing listens there, so connecting is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/model.pth"
    with pytest.raises(DownloadError, match=r"Could not reach 127\.0\.0\.1") as info:
        download(url, tmp_path / "model.pth", sha256="0" * 64, timeout=5)
    assert url in str(info.value)
    assert "try again" in str(info.value)


def test_stalled_transfer_times_out(server, tmp_path: Path) -> None:
    # The server sends its headers and then nothing: the read times out. (Under heavy load
    # the headers themselves could be late; either way the error names the timeout.)
    dest = tmp_path / "model.pth"
    server.script.stall = True
    with pytest.raises(DownloadError) as info:
        download(server.url(), dest, sha256=server.sha256, timeout=1)
    message = str(info.value)
    assert "no data for 1 s" in message or "no answer within 1 s" in message
    assert "try again" in message.lower()
    assert not dest.exists()


def test_416_on_a_complete_part_verifies_it(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    part_path(dest).write_bytes(server.payload)
    progress = ProgressLog()

    download(server.url(), dest, sha256=server.sha256, progress=progress)

    assert server.ranges() == [f"bytes={len(server.payload)}-"]
    assert dest.read_bytes() == server.payload
    assert progress.calls == [(len(server.payload), len(server.payload))]


def test_416_on_a_too_long_part_restarts_from_zero(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    part_path(dest).write_bytes(server.payload + b"junk")

    download(server.url(), dest, sha256=server.sha256, chunk_size=CHUNK)

    assert server.ranges() == [f"bytes={len(server.payload) + 4}-", None]
    assert dest.read_bytes() == server.payload


def test_complete_part_of_expected_size_needs_no_request(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    part_path(dest).write_bytes(server.payload)

    download(server.url(), dest, sha256=server.sha256, expected_size=len(server.payload))

    assert server.requests == []
    assert dest.read_bytes() == server.payload


def test_part_longer_than_expected_size_is_discarded(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    part_path(dest).write_bytes(server.payload + b"junk")

    download(
        server.url(), dest, sha256=server.sha256, expected_size=len(server.payload),
        chunk_size=CHUNK,
    )  # fmt: skip

    assert server.ranges() == [None]
    assert dest.read_bytes() == server.payload


def test_a_file_samdesk_did_not_download_is_never_replaced(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    dest.write_bytes(b"the user's own checkpoint")
    with pytest.raises(DownloadError, match="already exists"):
        download(server.url(), dest, sha256=server.sha256, chunk_size=CHUNK)
    assert dest.read_bytes() == b"the user's own checkpoint"
    assert server.ranges() == []  # refused before any request
    with pytest.raises(DownloadError, match="already exists"):
        download(server.url(), dest, sha256=None, expected_size=len(server.payload))
    assert dest.read_bytes() == b"the user's own checkpoint"


def test_the_published_file_already_in_place_needs_no_request(server, tmp_path: Path) -> None:
    dest = tmp_path / "model.pth"
    dest.write_bytes(server.payload)
    assert download(server.url(), dest, sha256=server.sha256, chunk_size=CHUNK) == dest
    assert server.ranges() == []
    assert dest.read_bytes() == server.payload


@pytest.mark.parametrize(
    ("url", "sha256", "match"),
    [
        ("file:///etc/passwd", "0" * 64, "http:// or https://"),
        ("ftp://127.0.0.1/model.pth", "0" * 64, "http:// or https://"),
        ("http://127.0.0.1/model.pth", "abc", "64 hex digits"),
    ],
)
def test_invalid_arguments_are_rejected(url: str, sha256: str, match: str, tmp_path) -> None:
    with pytest.raises(ValueError, match=match):
        download(url, tmp_path / "model.pth", sha256=sha256)
    assert list(tmp_path.iterdir()) == []


def test_not_enough_disk_space_fails_before_any_request(server, tmp_path, monkeypatch) -> None:
    import samdesk.models.download as module

    usage = module.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        module.shutil, "disk_usage", lambda _: usage._replace(free=len(server.payload) - 1)
    )
    with pytest.raises(DownloadError, match="Not enough disk space"):
        download(
            server.url(), tmp_path / "model.pth", sha256=server.sha256,
            expected_size=len(server.payload),
        )  # fmt: skip
    assert server.requests == []
