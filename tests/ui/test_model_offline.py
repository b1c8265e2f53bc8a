"""Model Manager offline: use a file downloaded elsewhere (verified, copied — never moved),
open the models folder, copy the address and SHA-256, and why a file is not installed."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from PySide6.QtGui import QDesktopServices, QGuiApplication

from samdesk.models import catalog, models_dir
from samdesk.models.catalog import OfficialCheckpoint
from samdesk.ui.model_manager import ModelManagerDialog
from tests.ui.conftest import WAIT_MS
from tests.ui.workflow_support import isolated_settings  # noqa: F401

PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # ~1 MB


def _entry() -> OfficialCheckpoint:
    return OfficialCheckpoint(
        key="test_model",
        display_name="Test model",
        file_name="test_model.pth",
        url="https://example.invalid/weights/test_model.pth",
        sha256=hashlib.sha256(PAYLOAD).hexdigest(),
        size=len(PAYLOAD),
        description="A megabyte of bytes.",
        recommended_without_gpu=True,
    )


@pytest.fixture
def manager(qtbot, monkeypatch):
    monkeypatch.setattr(catalog, "OFFICIAL_CHECKPOINTS", (_entry(),))
    dialog = ModelManagerDialog(gpu=False)
    qtbot.addWidget(dialog)
    yield dialog
    dialog.shutdown()
    assert not [t for t in threading.enumerate() if t.name.startswith("samdesk-verify")]


def _use(qtbot, manager, path: Path):
    with qtbot.waitSignal(manager.offline.local_finished, timeout=WAIT_MS) as finished:
        assert manager.offline.use_local_file("test_model", path)
    return finished.args[1]


def test_use_a_file_i_already_have(qtbot, manager, tmp_path):
    entry = manager.checkpoints[0]
    # Same size, other bytes: the checksum says no; nothing is copied.
    forged = tmp_path / "forged.pth"
    forged.write_bytes(bytes(reversed(PAYLOAD)))
    reason = _use(qtbot, manager, forged)
    assert "Checksum mismatch" in reason and manager.status.text() == reason
    assert not entry.local_path().exists() and forged.read_bytes() == bytes(reversed(PAYLOAD))
    # Wrong size: said so, nothing copied.
    short = tmp_path / "short.pth"
    short.write_bytes(PAYLOAD[:1000])
    assert "incomplete or another file" in _use(qtbot, manager, short)
    # The real file: verified and copied; the user's file stays where it is.
    mine = tmp_path / "Downloads" / "test_model.pth"
    mine.parent.mkdir()
    mine.write_bytes(PAYLOAD)
    assert _use(qtbot, manager, mine) == ""
    assert entry.local_path().read_bytes() == PAYLOAD
    assert mine.read_bytes() == PAYLOAD  # copied, not moved
    assert manager.table.item(0, 2).text() == "Installed" and manager.use_button.isEnabled()
    assert "verified" in manager.status.text()
    assert not list(models_dir().glob(".*.copy"))  # no temporary file left


def test_never_overwrites_another_file_in_the_models_folder(qtbot, manager, tmp_path):
    entry = manager.checkpoints[0]
    entry.local_path().parent.mkdir(parents=True, exist_ok=True)
    entry.local_path().write_bytes(b"the user's own experiment")
    # The table says why it is not installed.
    manager._fill()
    state = manager.table.item(0, 2).text()
    assert state.startswith("Not installed") and "wrong size" in state
    mine = tmp_path / "test_model.pth"
    mine.write_bytes(PAYLOAD)
    reason = _use(qtbot, manager, mine)
    assert "does not overwrite" in reason
    assert entry.local_path().read_bytes() == b"the user's own experiment"


def test_address_checksum_and_models_folder(qtbot, manager, monkeypatch):
    entry = manager.checkpoints[0]
    panel = manager.offline
    assert panel.url.text() == entry.url and panel.sha256.text() == entry.sha256
    assert panel.url.isReadOnly() and panel.sha256.isReadOnly()
    panel.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert entry.url in copied and entry.sha256 in copied and entry.file_name in copied
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    panel.folder_button.click()
    assert opened == [str(models_dir())] and models_dir().is_dir()


def test_checksum_mismatch_in_the_models_folder(qtbot, monkeypatch, tmp_path):
    monkeypatch.setattr(catalog, "OFFICIAL_CHECKPOINTS", (_entry(),))
    entry = catalog.OFFICIAL_CHECKPOINTS[0]
    entry.local_path().parent.mkdir(parents=True, exist_ok=True)
    foreign = bytes(reversed(PAYLOAD))  # the published size, other bytes
    entry.local_path().write_bytes(foreign)
    dialog = ModelManagerDialog(gpu=False)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.offline.checked, timeout=WAIT_MS):
        pass
    state = dialog.table.item(0, 2).text()
    assert "checksum mismatch" in state and not dialog.use_button.isEnabled()
    # Neither Download nor "Use" touches the foreign file.
    assert not dialog.download_button.isEnabled()
    assert dialog.start_download("test_model") is False and "does not replace" in (
        dialog.status.text()
    )
    dialog.use_model("test_model")
    assert entry.local_path().read_bytes() == foreign
    dialog.shutdown()
    # Remembered: the next dialog does not read the file again.
    from samdesk.models import local_file

    read: list[Path] = []
    real = local_file.file_sha256
    monkeypatch.setattr(local_file, "file_sha256", lambda p, *a, **k: read.append(p) or real(p))
    again = ModelManagerDialog(gpu=False)
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.offline.checked, timeout=WAIT_MS):
        pass
    assert read == [] and "checksum mismatch" in again.table.item(0, 2).text()
    again.shutdown()
