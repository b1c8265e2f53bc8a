"""Changing the model in the running window: applied at once, old engine stopped and
silenced; no model → manual tools; "cache place: project" → the project's folder."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication

from samdesk.ui import settings as user_settings
from tests.ui.conftest import WAIT_MS, _close, _open_window, click, write_images
from tests.ui.workflow_support import SQUARE, add_polygon, isolated_settings  # noqa: F401


@pytest.fixture(scope="module")
def other_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second random-weight checkpoint (another seed: other weights, other answers)."""
    from samdesk.sam.testing import make_checkpoint

    folder = tmp_path_factory.mktemp("other-ckpt")
    return Path(make_checkpoint(folder / "other.pt", arch="vit", seed=7))


def _engine_threads() -> dict[str, int]:
    names = [t.name for t in threading.enumerate()]
    return {n: names.count(n) for n in ("samdesk-encoder", "samdesk-decoder")}


def _click_and_wait(qtbot, window, x: float, y: float):
    with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS) as blocker:
        click(qtbot, window.canvas, x, y)
    return blocker.args[0]


def test_switching_the_model_applies_at_once(qtbot, window, other_checkpoint):
    engine, annotator = window.engine, window.annotator
    old_key = engine.model_key
    old = _click_and_wait(qtbot, window, 100, 90)
    assert annotator.draft is not None  # an object being built with the old model
    # Another click goes to the old engine; the switch follows before its answer is shown.
    seen = []
    engine.decoded.connect(seen.append)
    click(qtbot, window.canvas, 120, 100)
    with qtbot.waitSignal(engine.availability_changed, timeout=WAIT_MS) as available:
        assert window.set_engine_options(str(other_checkpoint))
    assert available.args == [True]
    assert engine.checkpoint == str(other_checkpoint) == window.checkpoint
    assert annotator.draft is None and annotator._pending is None
    assert "discarded" in window.statusBar().currentMessage()
    assert not engine.is_ready()
    # The current image is handed to the new engine at once, which encodes it.
    qtbot.waitUntil(engine.is_ready, timeout=WAIT_MS)
    assert engine.model_key is not None and engine.model_key != old_key
    qtbot.waitUntil(lambda: engine.retired_running() == 0, timeout=WAIT_MS)
    QCoreApplication.processEvents()  # anything the old engine had queued is delivered
    assert seen == []  # ... and dropped: the old model's answer never reached the window
    assert engine.status.startswith("Ready")  # not the old engine's "closed"
    assert _engine_threads() == {"samdesk-encoder": 1, "samdesk-decoder": 1}
    # A click now decodes with the new model: same point, another model's answer.
    new = _click_and_wait(qtbot, window, 100, 90)
    assert annotator.draft is not None
    assert new.best.score != pytest.approx(old.best.score, abs=1e-6)
    # The same options again change nothing (no reload).
    assert not window.set_engine_options(str(other_checkpoint), **dict(engine.options))


def test_switching_to_no_model_keeps_manual_tools(qtbot, window):
    engine = window.engine
    with qtbot.waitSignal(engine.availability_changed, timeout=WAIT_MS) as available:
        assert window.set_engine_options(None)
    assert available.args == [False]
    assert not engine.available and engine.status == "No model"
    assert not window.tool_actions["SAM Points"].isEnabled()
    assert window.tool_actions["Polygon"].isEnabled()
    assert window.canvas.tool.name == "Polygon"
    assert not window.workflow.banner.isHidden()
    add_polygon(window.annotator, SQUARE)
    assert len(window.annotator.record.objects) == 1
    qtbot.waitUntil(lambda: engine.retired_running() == 0, timeout=WAIT_MS)
    assert _engine_threads() == {"samdesk-encoder": 0, "samdesk-decoder": 0}


def test_settings_dialog_turns_a_model_on(qtbot, manual_window, checkpoint):
    window = manual_window
    assert not window.engine.available and not window.workflow.banner.isHidden()
    dialog = window.workflow.show_model_settings()
    with qtbot.waitSignal(dialog.detected, timeout=WAIT_MS):  # OK waits for the check
        dialog.set_checkpoint(str(checkpoint))
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    with qtbot.waitSignal(window.engine.availability_changed, timeout=WAIT_MS):
        dialog.accept()
    dialog.shutdown()
    assert window.engine.checkpoint == str(checkpoint)
    assert window.engine.options["device"] == "cpu"
    assert window.tool_actions["SAM Points"].isEnabled()
    assert window.workflow.banner.isHidden()
    # The image on screen was handed over: it gets encoded without any navigation.
    qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)


def test_model_manager_choice_applies_at_once(qtbot, window, other_checkpoint):
    user_settings.set_checkpoint(other_checkpoint)
    manager = window.workflow.show_model_manager()
    with qtbot.waitSignal(window.engine.availability_changed, timeout=WAIT_MS):
        manager.model_chosen.emit(str(other_checkpoint))
    manager.close()
    assert window.engine.checkpoint == str(other_checkpoint)
    qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)


def test_project_folder_cache_follows_the_open_project(qtbot, project, checkpoint, tmp_path):
    user_settings.save_model_settings(
        user_settings.ModelSettings(str(checkpoint), "cpu", cache_place="project")
    )
    window = _open_window(qtbot, project, None)  # the saved checkpoint is used
    try:
        assert window.engine.checkpoint == str(checkpoint)
        qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)
        first = project / ".samdesk" / "embeddings"
        assert Path(window.engine.options["cache_dir"]).resolve() == first.resolve()
        assert any(first.glob("*.emb"))  # written before the embedding was delivered
        # Another project: its own folder, and still one engine (no service left behind).
        other = tmp_path / "other"
        other.mkdir()
        write_images(other, ((160, 120),))
        from samdesk.io.project import ProjectStore

        ProjectStore.create(other, "other")
        with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
            assert window.open_path(other)
        qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)
        assert any((other / ".samdesk" / "embeddings").glob("*.emb"))
        assert _engine_threads() == {"samdesk-encoder": 1, "samdesk-decoder": 1}
    finally:
        _close(window)


def test_quitting_waits_at_most_the_shutdown_budget_for_an_encode(
    qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window gives the encoder 1 s to finish; a longer encode is abandoned (daemon
    worker, only a cache entry lost) instead of holding the quit."""
    from samdesk.ui.engine_bridge import EngineBridge
    from samdesk.ui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "shutdown_timeout", 1.0)
    budgets: list[float | None] = []
    real_shutdown = EngineBridge.shutdown

    def recording(self, timeout=None):
        budgets.append(timeout)
        return real_shutdown(self, timeout)

    monkeypatch.setattr(EngineBridge, "shutdown", recording)
    window = MainWindow(checkpoint=None)
    qtbot.addWidget(window)
    window.close()
    assert budgets == [1.0]
    assert window.engine.shutdown(timeout=0.0) is True  # no engine: nothing to wait for
