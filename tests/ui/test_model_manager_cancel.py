"""Model Manager against a slow-drip server: Cancel and closing the dialog act at once."""

from __future__ import annotations

import threading
import time

import pytest

from samdesk.models import catalog
from samdesk.models.catalog import OfficialCheckpoint
from samdesk.ui.model_manager import ModelManagerDialog
from tests.models.drip_server import DRIP_SIZE, drip_server
from tests.ui.conftest import WAIT_MS
from tests.ui.workflow_support import isolated_settings  # noqa: F401


def _download_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("samdesk-download")]


@pytest.fixture
def dripping(monkeypatch, tmp_path):
    monkeypatch.setenv("SAMDESK_DATA_DIR", str(tmp_path / "data"))
    with drip_server(0.5) as server:
        entry = OfficialCheckpoint(
            key="drip",
            display_name="Drip model",
            file_name="drip.pth",
            url=server.url(),
            sha256=None,
            size=DRIP_SIZE,
            description="One byte every half second.",
            recommended_without_gpu=True,
        )
        monkeypatch.setattr(catalog, "OFFICIAL_CHECKPOINTS", (entry,))
        # A code path that waits for the download (the bug) would wait forever: the server
        # stops dripping after 5 s, so such a test fails on its time check instead of hanging.
        guard = threading.Timer(5.0, server.stop.set)
        guard.start()
        yield server
        guard.cancel()
        guard.join()


def _start(qtbot, server) -> ModelManagerDialog:
    dialog = ModelManagerDialog(gpu=False)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.start_download("drip")
    # The body is dripping: the server has sent bytes and the transfer is live.
    qtbot.waitUntil(server.first_byte_sent.is_set, timeout=WAIT_MS)
    return dialog


def test_cancel_button_stops_a_dripping_download_within_a_second(qtbot, dripping) -> None:
    dialog = _start(qtbot, dripping)
    started = time.monotonic()
    with qtbot.waitSignal(dialog.download_finished, timeout=WAIT_MS) as finished:
        dialog.cancel_button.click()
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"Cancel took {elapsed:.2f} s"
    assert finished.args == ["drip", dialog.status.text()]
    assert "Download cancelled" in dialog.status.text()
    dialog.shutdown()  # the executor's idle worker ends
    qtbot.waitUntil(lambda: not _download_threads(), timeout=WAIT_MS)


def test_closing_the_dialog_during_a_dripping_download_returns_at_once(qtbot, dripping) -> None:
    dialog = _start(qtbot, dripping)
    started = time.monotonic()
    dialog.reject()  # Close / Esc
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"closing took {elapsed:.2f} s"
    assert not dialog.isVisible()
    # The transfer ends on its own thread soon after; nothing half-done is installed.
    qtbot.waitUntil(lambda: not _download_threads(), timeout=WAIT_MS)
    checkpoint = dialog.checkpoint("drip")
    assert not checkpoint.local_path().exists() and not checkpoint.is_installed()
