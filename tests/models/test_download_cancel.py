"""Cancelling a download from a slow-drip server (1 byte per 0.5 s) takes effect at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from samdesk.models.download import DownloadCancelled, download, part_path
from tests.models.drip_server import DRIP_SIZE, drip_server

WAIT = 10.0


def _start(url: str, dest: Path, cancel: threading.Event) -> tuple[threading.Thread, list]:
    outcome: list = []
    got_bytes = threading.Event()

    def progress(done: int, total: int | None) -> None:
        if done > 0:
            got_bytes.set()

    def run() -> None:
        try:
            download(
                url,
                dest,
                sha256=None,
                expected_size=DRIP_SIZE,
                progress=progress,
                cancel=cancel,
                timeout=30,
            )
            outcome.append("finished")
        except BaseException as exc:  # the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=run, name="test-download")
    thread.start()
    thread.got_bytes = got_bytes  # type: ignore[attr-defined]
    return thread, outcome


@pytest.mark.parametrize("where", ["body", "headers"])
def test_cancel_against_a_drip_server_returns_within_a_second(tmp_path: Path, where: str) -> None:
    with drip_server(0.5, drip_headers=where == "headers") as server:
        cancel = threading.Event()
        dest = tmp_path / "model.pth"
        thread, outcome = _start(server.url(), dest, cancel)
        if where == "body":
            # Some body bytes arrived (the progress callback saw them): mid-transfer.
            assert thread.got_bytes.wait(WAIT)
        else:
            assert server.first_byte_sent.wait(WAIT)  # the client waits for its headers
        started = time.monotonic()
        cancel.set()
        thread.join(WAIT)
        elapsed = time.monotonic() - started
        assert not thread.is_alive(), "cancel did not stop the download"
        assert elapsed < 1.0, f"cancel took {elapsed:.2f} s"
        assert len(outcome) == 1 and isinstance(outcome[0], DownloadCancelled), outcome
        assert not dest.exists()
        if where == "body":
            assert part_path(dest).stat().st_size >= 1  # kept for a resume
