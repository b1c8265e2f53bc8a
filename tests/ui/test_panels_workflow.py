"""The workflow around the panels: review states, next unfinished, recent projects,
drag-and-drop, the no-model banner, unexpected errors, save on quit."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from samdesk.core.document import ReviewState
from samdesk.io.project import ProjectStore
from samdesk.ui import settings as user_settings
from samdesk.ui.errors_log import ErrorReporter
from tests.ui.conftest import write_images
from tests.ui.workflow_support import SQUARE, add_polygon, isolated_settings  # noqa: F401


def _states(project: Path):
    return [r.state for r in ProjectStore.open(project).project.images]


def test_mark_done_and_next_unfinished(qtbot, manual_window, project):
    w, flow = manual_window, manual_window.workflow
    add_polygon(w.annotator, SQUARE, class_id=1)
    # An image that got objects is in progress by itself.
    assert _states(project)[0] is ReviewState.IN_PROGRESS
    with qtbot.waitSignal(w.controller.image_shown):
        flow.actions["done_next"].trigger()  # Ctrl+Return
    assert _states(project) == [ReviewState.DONE, ReviewState.NEW]
    assert w.controller.current_row == 1
    assert w.image_list.model.data(w.image_list.model.index(0)).startswith("●")
    assert "Ctrl+Return" in flow.actions["done_next"].shortcut().toString()
    # The only unfinished image is the one on screen: nothing to go to.
    assert not flow.next_unfinished()
    flow.mark_in_progress()
    assert _states(project)[1] is ReviewState.IN_PROGRESS
    flow.mark_done_and_next()
    assert _states(project) == [ReviewState.DONE, ReviewState.DONE]
    assert "done" in w.statusBar().currentMessage()


def test_new_project_recent_and_drop(qtbot, manual_window, tmp_path, monkeypatch):
    w, flow = manual_window, manual_window.workflow
    assert [Path(p) for p in user_settings.recent_projects()] == [w.controller.store.path]
    folder = tmp_path / "second"
    folder.mkdir()
    write_images(folder)

    # File → New Project from Folder, with the dialog filled and accepted (no exec()).
    from samdesk.ui import new_project_dialog

    def fake_exec(dialog):
        dialog.folder_edit.setText(str(folder))
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(new_project_dialog.NewProjectDialog, "exec", fake_exec)
    with qtbot.waitSignal(w.controller.image_shown):
        flow.actions["new"].trigger()
    assert w.controller.store.root == folder.resolve()
    assert len(w.controller.images) == 2
    recent = user_settings.recent_projects()
    assert Path(recent[0]).parent == folder.resolve() and len(recent) == 2
    assert [a.text() for a in flow.recent_menu.actions()][:2] == [
        Path(recent[0]).name,
        Path(recent[1]).name,
    ]
    # Open Recent → the first project again.
    with qtbot.waitSignal(w.controller.image_shown):
        flow.recent_menu.actions()[1].trigger()
    assert w.controller.store.path == Path(recent[1])
    # Drop the second folder on the window (a drag-enter with it is accepted).
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    # Offscreen Qt delivers no synthetic drops: hand the event to the window's filter.
    with qtbot.waitSignal(w.controller.image_shown):
        assert flow.eventFilter(w, event)
    assert event.isAccepted()
    assert w.controller.store.root == folder.resolve()
    # A dropped file that is no project is reported, not opened.
    stray = tmp_path / "notes.txt"
    stray.write_text("x")
    assert not flow.open_dropped([stray])
    assert "samdesk.yaml" in w.statusBar().currentMessage()


def test_no_model_banner_and_menus(qtbot, manual_window):
    w, flow = manual_window, manual_window.workflow
    assert flow.banner.isVisible()
    assert "Model Manager" in flow.banner_label.text()
    assert not w.tool_actions["SAM Points"].isEnabled()
    assert w.tool_actions["Polygon"].isEnabled()
    # Every workflow action is in a menu and shows its shortcut there.
    for name in ("new", "export", "import", "next_unfinished", "done_next", "model_manager"):
        action = flow.actions[name]
        assert action.property("menu_name") and not action.shortcut().isEmpty()


def test_unexpected_errors_are_logged_and_reported_once(qtbot, manual_window):
    w = manual_window
    reporter = w.workflow.errors
    with qtbot.waitSignal(reporter.unexpected_error) as first:
        reporter.handle(RuntimeError("boom"))
    assert first.args[1] is True and "boom" in first.args[0]
    # From a worker thread, through threading.excepthook's handler.
    with qtbot.waitSignal(reporter.unexpected_error) as second:
        thread = threading.Thread(target=lambda: reporter.handle(ValueError("late"), None, "t"))
        thread.start()
        thread.join()
    assert second.args[1] is False
    text = reporter.log_path.read_text()
    assert "RuntimeError: boom" in text and "ValueError: late" in text
    assert "boom" in w.log_view.toPlainText()
    assert w._log_dock.isVisibleTo(w)


def test_hooks_install_and_uninstall(qtbot):
    import sys

    reporter = ErrorReporter()
    saved = sys.excepthook, threading.excepthook
    reporter.install()
    try:
        assert sys.excepthook == reporter._sys_hook
        with qtbot.waitSignal(reporter.unexpected_error):
            sys.excepthook(KeyError, KeyError("k"), None)
    finally:
        reporter.uninstall()
    assert (sys.excepthook, threading.excepthook) == saved


def test_quit_saves_unsaved_work(qtbot, manual_window, project, monkeypatch):
    w = manual_window
    store = w.controller.store
    real_save = store.save_image
    failing = {"on": True}

    def flaky_save(record):
        if failing["on"]:
            raise OSError("disk full")
        real_save(record)

    monkeypatch.setattr(store, "save_image", flaky_save)
    add_polygon(w.annotator, SQUARE, class_id=1)  # autosave fails: the title shows it
    assert w.isWindowModified()
    assert "disk full" in w.statusBar().currentMessage()
    failing["on"] = False
    w.workflow.before_close()
    assert len(ProjectStore.open(project).load_image_annotations(0).objects) == 1
    assert not w.isWindowModified()
