"""Failed saves, read-only projects and damaged files, seen from the real window.

A full disk is simulated by the atomic writer raising ENOSPC; a read-only folder by the
file system's permission answer (tests run as root, where chmod does not stop writes).
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

import samdesk.io.project as project_module
import samdesk.io.save_errors as save_errors
from samdesk.core.document import AnnotationObject, LabelClass, PolygonPart, Region, ReviewState
from samdesk.io.project import ProjectStore
from tests.ui.conftest import _close, _open_window
from tests.ui.workflow_support import SMALL, SQUARE, add_polygon


def _disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(path, text):  # the real writer would fail like this, with its temp file's name
        raise OSError(errno.ENOSPC, "No space left on device", f"{path}.1a2b.tmp")

    monkeypatch.setattr(project_module, "atomic_write_text", full)


def _saved_objects(project: Path, row: int = 0) -> int:
    return len(ProjectStore.open(project).load_image_annotations(row).objects)


def test_full_disk_shows_a_lasting_reason_and_retries(qtbot, manual_window, project, monkeypatch):
    w = manual_window
    guard = w.workflow.save_guard
    _disk_full(monkeypatch)
    add_polygon(w.annotator, SQUARE, class_id=1)
    assert guard.banner.isVisible()
    text = guard.label.text()
    assert "Not saved" in text and "The disk is full" in text and ".tmp" not in text
    assert w.windowTitle().endswith("NOT SAVED") and w.isWindowModified()
    assert len(w.annotator.record.objects) == 1  # the edit stays in memory
    assert _saved_objects(project) == 0
    # Still full: Ctrl+S fails again and says so; the banner stays.
    w.workflow.actions["save"].trigger()
    assert guard.banner.isVisible() and _saved_objects(project) == 0
    # Space again: the next edit saves both objects; the banner goes.
    monkeypatch.undo()
    add_polygon(w.annotator, SMALL, class_id=1)
    assert _saved_objects(project) == 2
    assert not guard.banner.isVisible() and not w.windowTitle().endswith("NOT SAVED")
    assert not w.isWindowModified()


def test_retry_saves_an_image_no_longer_on_screen(qtbot, manual_window, project, monkeypatch):
    w = manual_window
    guard = w.workflow.save_guard
    _disk_full(monkeypatch)
    add_polygon(w.annotator, SQUARE, class_id=1)
    with qtbot.waitSignal(w.controller.image_shown, timeout=60_000):
        w.controller.show_image(1)
    assert "img0.png" in guard.label.text()
    monkeypatch.undo()
    guard.retry_button.click()
    assert _saved_objects(project, 0) == 1 and not guard.banner.isVisible()


def test_quitting_with_unsaved_work_asks(qtbot, manual_window, project, monkeypatch):
    w = manual_window
    guard = w.workflow.save_guard
    _disk_full(monkeypatch)
    add_polygon(w.annotator, SQUARE, class_id=1)
    asked: list[str] = []
    answers = iter(["cancel", "save", "cancel"])
    guard.ask_unsaved = lambda text: asked.append(text) or next(answers, "discard")
    w.close()
    assert w.isVisible() and len(asked) == 1  # Cancel: the window stays, work in memory
    assert "img0.png" in asked[0] and "The disk is full" in asked[0]
    w.close()  # Try to Save: still full, asked again; Cancel
    assert w.isVisible() and len(asked) == 3
    monkeypatch.undo()
    w.close()  # the disk has space now: saved without a question
    assert not w.isVisible() and len(asked) == 3
    assert _saved_objects(project) == 1


def test_read_only_project_is_view_only(qtbot, project, monkeypatch):
    monkeypatch.setattr(project_module.os, "access", lambda path, mode: False)
    monkeypatch.setattr(save_errors, "probe_write", _refuse_write)
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    w = _open_window(qtbot, project, None)
    try:
        guard = w.workflow.save_guard
        assert guard.banner.isVisible()
        assert f"Read-only: The folder {project} is read-only" in guard.label.text()
        assert w.windowTitle().endswith("READ-ONLY")
        messages: list[str] = []
        w.annotator.message.connect(messages.append)
        for x, y in SQUARE:
            w.annotator.add_polygon_vertex(x, y)
        assert not w.annotator.accept()
        assert any("read-only" in m for m in messages)
        assert w.annotator.record.objects == [] and not w.isWindowModified()
    finally:
        _close(w)
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before


def test_damaged_file_is_shown_and_replaced_only_with_consent(qtbot, project):
    store = ProjectStore.open(project)
    record = store.load_image_annotations(0)
    file = store.annotation_path(record.path)
    file.parent.mkdir(parents=True, exist_ok=True)
    damaged = (
        "schema_version: 1\nimage: img0.png\nwidth: 320\nheight: 240\nstate: new\n"
        "object_count: 2\nobjects:\n"
        '- id: "kept"\n  class_id: 1\n  source: polygon\n'
        "  parts:\n  - exterior: [5, 5, 50, 5, 50, 50]\n"
        '- id: "lost"\n  class_id: 1\n  source: polygon\n  parts:\n  - exterior: [1, 2, {\n'
    )
    file.write_text(damaged)
    w = _open_window(qtbot, project, None)
    try:
        guard = w.workflow.save_guard
        assert [o.id for o in w.annotator.record.objects] == ["kept"]
        assert "img0.png is damaged" in guard.label.text() and guard.banner.isVisible()
        model = w.image_list.model
        assert "⚠" in model.data(model.index(0)) and "⚠" not in model.data(model.index(1))
        assert "damaged" in model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
        answers = iter([False, True])
        asked: list[str] = []
        guard.ask_overwrite = lambda path, problem: asked.append(problem) or next(answers)
        add_polygon(w.annotator, SMALL, class_id=1)
        assert len(asked) == 1 and file.read_text() == damaged  # declined: untouched
        assert "kept (not replaced)" in guard.label.text() and w.isWindowModified()
        assert list(file.parent.glob("*.damaged-*")) == []
        w.workflow.actions["save"].trigger()  # an explicit save asks again: yes
        assert len(asked) == 2
        (backup,) = file.parent.glob("*.damaged-*")
        assert backup.read_text() == damaged
        saved = ProjectStore.open(project).load_image_annotations(0).objects
        assert saved[0].id == "kept" and len(saved) == 2
        assert not guard.banner.isVisible() and not w.isWindowModified()
    finally:
        _close(w)


def test_another_annotators_saves_show_up(qtbot, manual_window, project):
    w = manual_window
    add_polygon(w.annotator, SQUARE, class_id=1)  # saved
    other = ProjectStore.open(project)  # a second annotator on the shared folder
    other.project.classes.append(LabelClass(4, "tree", "#00ff00"))
    other.save_project()
    theirs = other.load_image_annotations(0)
    theirs.add_object(AnnotationObject(4, Region((PolygonPart(SMALL),)), id="their-tree"))
    other.save_image(theirs)
    assert w.controller.store.changed_on_disk() == ["img0.png"]
    with qtbot.waitSignal(w.controller.image_shown, timeout=60_000):
        w.workflow.save_guard.check_disk()  # what activating the window does
    assert "their-tree" in {o.id for o in w.annotator.record.objects}
    assert len(w.annotator.record.objects) == 2
    assert "tree" in {c.name for c in w.annotator.classes}
    assert w.controller.store.changed_on_disk() == []
    # The next local edit merges, and the file holds everyone's objects.
    add_polygon(w.annotator, [(150, 20), (190, 20), (190, 60)], class_id=1)
    assert len(ProjectStore.open(project).load_image_annotations(0).objects) == 3
    # They save again while we keep working: our next save takes it in and shows it.
    theirs = other.load_image_annotations(0, reload=True)
    theirs.add_object(AnnotationObject(4, Region((PolygonPart(SQUARE),)), id="their-2"))
    other.save_image(theirs)
    add_polygon(w.annotator, [(220, 20), (260, 20), (260, 60)], class_id=1)
    shown = {o.id for o in w.canvas._objects}
    assert "their-2" in shown and len(shown) == 5
    assert len(ProjectStore.open(project).load_image_annotations(0).objects) == 5


def test_an_object_that_cannot_be_written_is_reported(qtbot, manual_window, project, monkeypatch):
    w = manual_window

    def refuse(record):
        raise ValueError("polygon coordinates must be finite")

    monkeypatch.setattr(project_module, "record_to_yaml", refuse)
    add_polygon(w.annotator, SQUARE, class_id=1)
    text = w.workflow.save_guard.label.text()
    assert "An object could not be written: polygon coordinates must be finite" in text
    assert len(w.annotator.record.objects) == 1 and _saved_objects(project) == 0
    monkeypatch.undo()
    w.workflow.actions["save"].trigger()
    assert _saved_objects(project) == 1 and not w.workflow.save_guard.banner.isVisible()


def _refuse_write(folder: Path) -> None:
    raise PermissionError(errno.EACCES, "Permission denied", str(folder / "probe"))


def test_a_review_state_that_could_not_be_saved_is_not_lost(
    qtbot, manual_window, project, monkeypatch
):
    w = manual_window
    guard = w.workflow.save_guard
    _disk_full(monkeypatch)
    w.workflow.set_state(0, ReviewState.DONE)
    assert "The disk is full" in guard.label.text() and guard.banner.isVisible()
    asked: list[str] = []
    guard.ask_unsaved = lambda text: asked.append(text) or "cancel"
    w.close()
    assert w.isVisible() and "img0.png" in asked[0]  # quitting asks
    monkeypatch.undo()
    guard.retry_button.click()
    assert ProjectStore.open(project).record(0).state is ReviewState.DONE
    assert not guard.banner.isVisible()


def test_class_delete_on_a_full_disk_keeps_the_change_and_retries(
    qtbot, manual_window, project, monkeypatch
):
    """Deleting a class rewrites several images; a full disk must not throw out of the
    undo command: the change stays in memory, the banner says why, Retry saves it."""
    w = manual_window
    guard = w.workflow.save_guard
    panel = w.workflow.classes_panel
    add_polygon(w.annotator, SQUARE, class_id=2)
    add_polygon(w.annotator, SMALL, class_id=3)
    with qtbot.waitSignal(w.controller.image_shown, timeout=60_000):
        w.controller.show_image(1)
    add_polygon(w.annotator, SQUARE, class_id=2)
    assert _saved_objects(project, 0) == 2 and _saved_objects(project, 1) == 1
    _disk_full(monkeypatch)
    monkeypatch.setattr(panel, "ask_delete_choice", lambda doomed, count: (True, None))
    assert panel.delete_class(2)  # an exception out of redo() would fail the test here
    store = w.controller.store
    assert [o.class_id for o in store.record(0).objects] == [3]  # changed in memory
    assert store.record(1).objects == [] and w.annotator.record.objects == []
    assert _saved_objects(project, 0) == 2 and _saved_objects(project, 1) == 1  # disk as was
    assert guard.banner.isVisible() and w.windowTitle().endswith("NOT SAVED")
    text = guard.label.text()
    assert "img0.png" in text and "img1.png" in text and "The disk is full" in text
    assert {"img0.png", "img1.png"} <= set(guard.unsaved_paths())
    # Retry while still full: still not saved, still no exception.
    guard.retry_button.click()
    assert guard.banner.isVisible() and _saved_objects(project, 0) == 2
    # Space again: Retry writes what the delete did; the banner goes.
    monkeypatch.undo()
    guard.retry_button.click()
    assert _saved_objects(project, 0) == 1 and _saved_objects(project, 1) == 0
    assert "dog" not in [c.name for c in ProjectStore.open(project).project.classes]
    assert not guard.banner.isVisible() and not w.windowTitle().endswith("NOT SAVED")
    # Undo on a full disk: the objects come back in memory, the banner says so.
    _disk_full(monkeypatch)
    panel.undo_stack.undo()
    assert len(store.record(0).objects) == 2 and len(store.record(1).objects) == 1
    assert guard.banner.isVisible() and _saved_objects(project, 0) == 1
    monkeypatch.undo()
    guard.retry_button.click()
    assert _saved_objects(project, 0) == 2 and _saved_objects(project, 1) == 1
    assert not guard.banner.isVisible()
