"""Feedback that stays true: model failures in the banner (a working model is kept), the
settings dialog refuses a non-SAM file, and status texts never outlive their cause."""

from __future__ import annotations

from pathlib import Path

from samdesk.ui import settings as user_settings
from samdesk.ui.model_settings import ModelSettingsDialog
from tests.ui.conftest import WAIT_MS, _close, _open_window, click, write_images
from tests.ui.workflow_support import isolated_settings  # noqa: F401


def _junk(tmp_path: Path) -> Path:
    junk = tmp_path / "holiday.pth"
    junk.write_bytes(b"PK\x03\x04 this is a zip of holiday photos, not a model")
    return junk


def test_settings_dialog_refuses_a_non_sam_file(qtbot, checkpoint, tmp_path):
    user_settings.set_checkpoint(checkpoint)  # the working model
    dialog = ModelSettingsDialog()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.checkpoint_ok is True, timeout=WAIT_MS)
    assert dialog.ok_button.isEnabled()
    with qtbot.waitSignal(dialog.detected, timeout=WAIT_MS) as found:
        dialog.set_checkpoint(str(_junk(tmp_path)))
        assert not dialog.ok_button.isEnabled()  # not while it is being read either
    reason, ok = found.args
    assert (
        not ok
        and reason
        and dialog.arch_label.text() == reason
        and dialog.arch_label.isVisibleTo(dialog)
    )
    assert not dialog.ok_button.isEnabled()
    dialog.accept()  # e.g. Enter pressed: refused
    assert dialog.result() != ModelSettingsDialog.DialogCode.Accepted
    assert user_settings.checkpoint() == str(checkpoint)  # the working file stays chosen
    # Typing another path disables OK until it is checked.
    dialog.checkpoint_edit.setText(str(checkpoint))
    assert not dialog.ok_button.isEnabled()
    with qtbot.waitSignal(dialog.detected, timeout=WAIT_MS):
        dialog.checkpoint_edit.editingFinished.emit()
    assert dialog.ok_button.isEnabled()
    dialog.shutdown()


def test_failed_model_keeps_the_working_one_and_says_why(qtbot, window, checkpoint, tmp_path):
    engine, banner = window.engine, window.workflow.banner
    assert not banner.isVisible()
    junk = _junk(tmp_path)
    user_settings.set_checkpoint(junk)  # as the settings would be saved for it
    window.set_engine_options(str(junk), **engine.options)
    qtbot.waitUntil(lambda: engine.checkpoint == str(checkpoint), timeout=WAIT_MS)
    qtbot.waitUntil(engine.is_ready, timeout=WAIT_MS)
    text = window.feedback.banner_text()
    assert banner.isVisible() and "holiday.pth" in text and "could not be loaded" in text
    assert f"Still using <b>{checkpoint.name}</b>" in text
    reason = window.feedback.last_error.removeprefix("Cannot load the model: ")
    assert reason[:30] in text  # the loader's own reason, where the user looks
    assert user_settings.checkpoint() == str(checkpoint)
    assert window.tool_actions["SAM Points"].isEnabled()


def test_bad_model_at_start_is_explained_in_the_banner(qtbot, project, tmp_path):
    window = _open_window(qtbot, project, _junk(tmp_path))
    qtbot.waitUntil(lambda: not window.engine.available, timeout=WAIT_MS)
    text = window.feedback.banner_text()
    assert window.workflow.banner.isVisible()
    assert "holiday.pth</b> could not be loaded" in text and "Model Manager" in text
    _close(window)


def test_loading_and_waiting_messages_expire(qtbot, window, checkpoint):
    bar, engine, annotator = window.statusBar(), window.engine, window.annotator
    # A new engine: the status bar says "Loading …" until the model has loaded.
    with qtbot.waitSignal(engine.model_loaded, timeout=WAIT_MS):
        assert window.set_engine_options(str(checkpoint), **{**engine.options, "prefetch_count": 0})
        assert bar.currentMessage().startswith("Loading small.pt")
        # A click before the embedding is there: "Waiting for the image embedding…".
        click(qtbot, window.canvas, 100, 90)
        assert bar.currentMessage().startswith("Waiting for the image embedding")
    assert not bar.currentMessage().startswith("Loading")
    qtbot.waitUntil(
        lambda: annotator.draft is not None and not annotator.draft.mask.is_empty, timeout=WAIT_MS
    )
    assert not bar.currentMessage().startswith("Waiting")
    assert window._model_label.text() == "Ready"
    # Another image that is not encoded yet (no prefetching): never the last one's "Ready".
    annotator.discard()
    with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
        window.controller.show_image(1)
    # (its embedding comes from the worker, queued: not delivered before this line)
    assert not engine.is_ready() and window._model_label.text() != "Ready"
    qtbot.waitUntil(engine.is_ready, timeout=WAIT_MS)
    assert window._model_label.text() == "Ready"


def test_last_click_time_is_not_carried_to_another_project(qtbot, window, tmp_path):
    from samdesk.io.project import ProjectStore

    with qtbot.waitSignal(window.annotator.click_latency, timeout=WAIT_MS):
        click(qtbot, window.canvas, 100, 90)
    assert "ms" in window._latency_label.text()
    other = tmp_path / "other"
    other.mkdir()
    write_images(other)
    ProjectStore.create(other, "other")
    window.annotator.discard()
    with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
        assert window.open_path(other)
    assert window._latency_label.text() == ""


def test_model_label_without_a_project_is_not_stuck_on_loading(qtbot, checkpoint):
    from samdesk.ui.main_window import MainWindow

    window = MainWindow(checkpoint=str(checkpoint))
    qtbot.addWidget(window)
    assert window._model_label.text() == "Loading model…"
    qtbot.waitUntil(lambda: window._model_label.text() == "Model ready", timeout=WAIT_MS)
    _close(window)


def test_settings_for_the_working_model_need_not_wait(qtbot, window, checkpoint):
    dialog = window.workflow.show_model_settings()
    # OK at once: the model in use has loaded; its details are still being read.
    assert dialog.ok_button.isEnabled() and "model in use" in dialog.arch_label.text()
    with qtbot.waitSignal(dialog.detected, timeout=WAIT_MS) as found:
        pass
    assert found.args[1] is True and dialog.ok_button.isEnabled()
    dialog.close()


def test_cursor_position_goes_when_the_mouse_leaves(qtbot, manual_window):
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    window = manual_window
    qtbot.mouseMove(window.canvas.viewport(), window.canvas.viewport().rect().center())
    qtbot.waitUntil(lambda: window._cursor_label.text().startswith("x "), timeout=WAIT_MS)
    QApplication.sendEvent(window.canvas.viewport(), QEvent(QEvent.Type.Leave))
    assert window._cursor_label.text() == ""
