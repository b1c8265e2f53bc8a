"""Model Settings and Model Manager: architecture detection, settings, downloads against a
local HTTP server (progress, cancel + resume, checksum failure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from samdesk.models import catalog
from samdesk.models.catalog import OfficialCheckpoint
from samdesk.ui import settings as user_settings
from samdesk.ui.model_manager import ModelManagerDialog
from samdesk.ui.model_settings import ModelSettingsDialog
from tests.models import conftest as models_conftest
from tests.models.conftest import PAYLOAD, FileServer
from tests.ui.conftest import WAIT_MS
from tests.ui.workflow_support import isolated_settings  # noqa: F401

# The local HTTP server (127.0.0.1, Range support) of the downloader's tests, reused.
file_server = models_conftest.server


def test_model_settings_detects_and_persists(qtbot, checkpoint, tmp_path):
    dialog = ModelSettingsDialog()
    qtbot.addWidget(dialog)
    assert "No checkpoint" in dialog.arch_label.text()
    with qtbot.waitSignal(dialog.detected, timeout=WAIT_MS) as found:
        dialog.set_checkpoint(str(checkpoint))
    text, ok = found.args
    assert ok and text.startswith("SAM ViT") and dialog.arch_label.text() == text
    # A file that is no checkpoint: the loader's message, readable, in the error colour.
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(dialog.detected, timeout=WAIT_MS) as found:
        dialog.set_checkpoint(str(junk))
    assert found.args[1] is False and found.args[0] and "Traceback" not in found.args[0]
    assert "color" in dialog.arch_label.styleSheet()
    assert not dialog.ok_button.isEnabled()
    # Device, precision, prefetch, cache: stored on OK (once the checkpoint is read).
    with qtbot.waitSignal(dialog.detected, timeout=WAIT_MS):
        dialog.set_checkpoint(str(checkpoint))
    assert dialog.ok_button.isEnabled()
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    assert not dialog.precision.isEnabled()
    dialog.prefetch.setValue(5)
    dialog.cache_size.setValue(512)
    dialog.cache_place.setCurrentIndex(dialog.cache_place.findData("project"))
    dialog.accept()
    dialog.shutdown()
    saved = user_settings.model_settings()
    assert saved == user_settings.ModelSettings(str(checkpoint), "cpu", "fp32", 5, 512, "project")
    chosen, options = user_settings.engine_arguments(None)
    assert chosen == str(checkpoint)
    assert options["device"] == "cpu" and options["prefetch_count"] == 5
    assert saved.cache_dir(tmp_path) == tmp_path / ".samdesk" / "embeddings"
    # A saved checkpoint that has gone is ignored: the window opens without a model.
    user_settings.set_checkpoint(tmp_path / "gone.pth")
    assert user_settings.engine_arguments(None)[0] is None


def _entry(server: FileServer, sha256: str | None = None) -> OfficialCheckpoint:
    return OfficialCheckpoint(
        key="test_model",
        display_name="Test model",
        file_name="test_model.pth",
        url=server.url(),
        sha256=sha256 or server.sha256,
        size=len(PAYLOAD),
        description="A few random megabytes served on 127.0.0.1.",
        recommended_without_gpu=True,
    )


@pytest.fixture
def manager(qtbot, file_server, monkeypatch):
    monkeypatch.setattr(catalog, "OFFICIAL_CHECKPOINTS", (_entry(file_server),))
    dialog = ModelManagerDialog(gpu=False)
    qtbot.addWidget(dialog)
    yield dialog
    dialog.shutdown()


def _download(qtbot, dialog):
    return qtbot.waitSignal(dialog.download_finished, timeout=WAIT_MS)


def test_download_cancel_resume_use(qtbot, manager, file_server):
    entry = manager.checkpoints[0]
    assert manager.recommended_key == "test_model" and "★" in manager.table.item(0, 0).text()
    assert "MobileSAM" in manager.hint.text()
    assert manager.table.item(0, 2).text() == "Not installed"
    assert manager.selected_key() == "test_model" and not manager.use_button.isEnabled()
    # Cancel as soon as the first chunk has arrived: the part is kept.
    seen: list[tuple[int, int | None]] = []

    def on_progress(done, total):
        seen.append((done, total))
        if done > 0:
            manager.cancel_download()

    manager.progress_changed.connect(on_progress)
    with _download(qtbot, manager) as finished:
        manager.download_button.click()
    manager.progress_changed.disconnect(on_progress)
    assert "cancelled" in finished.args[1]
    assert seen and seen[0][1] == len(PAYLOAD)
    assert 0 < manager.progress.value() < 1000  # the bar showed the partial progress
    part = entry.local_path().with_name(entry.file_name + ".part")
    kept = part.stat().st_size
    assert 0 < kept < len(PAYLOAD)
    assert manager.table.item(0, 2).text().startswith("Partly downloaded")
    assert manager.download_button.text() == "Resume Download"
    # Resume: the server is asked for the rest only.
    with _download(qtbot, manager) as finished:
        manager.download_button.click()
    assert finished.args[1] == ""
    assert file_server.ranges()[-1] == f"bytes={kept}-"
    assert entry.local_path().read_bytes() == PAYLOAD and not part.exists()
    assert "verified" in manager.status.text() and manager.progress.value() == 1000
    assert manager.table.item(0, 2).text() == "Installed"
    # "Use this model" sets the checkpoint setting.
    with qtbot.waitSignal(manager.model_chosen):
        manager.use_button.click()
    assert user_settings.checkpoint() == str(entry.local_path())
    assert manager.table.item(0, 2).text() == "Installed, in use"


def test_checksum_failure_deletes_and_says_so(qtbot, file_server, monkeypatch):
    monkeypatch.setattr(catalog, "OFFICIAL_CHECKPOINTS", (_entry(file_server, "0" * 64),))
    dialog = ModelManagerDialog(gpu=True)
    qtbot.addWidget(dialog)
    try:
        assert "GPU" in dialog.hint.text()
        with _download(qtbot, dialog) as finished:
            assert dialog.start_download("test_model")
        message = finished.args[1]
        assert "Checksum mismatch" in message and "deleted" in message
        assert dialog.status.text() == message and "color" in dialog.status.styleSheet()
        entry = dialog.checkpoints[0]
        assert not entry.local_path().exists()
        assert not Path(str(entry.local_path()) + ".part").exists()
        assert dialog.table.item(0, 2).text() == "Not installed"
    finally:
        dialog.shutdown()
