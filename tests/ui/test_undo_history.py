"""Ctrl+Z undoes the last change the user made, whether it touched an image's objects or
the project's classes (one Undo, routed by ``samdesk.ui.history``). Through the window's
own shortcuts."""

from __future__ import annotations

from PySide6.QtCore import Qt

from samdesk.io.project import ProjectStore
from tests.ui.workflow_support import SMALL, SQUARE, add_polygon, isolated_settings  # noqa: F401

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _undo(qtbot, w) -> None:
    qtbot.keyClick(w.canvas, Qt.Key.Key_Z, CTRL)


def _redo(qtbot, w) -> None:
    qtbot.keyClick(w.canvas, Qt.Key.Key_Z, CTRL | SHIFT)


def _undo_action(w):
    """The window's action on Ctrl+Z (what Edit → Undo shows)."""
    (action,) = [a for a in w.actions() if a.shortcut().toString() == "Ctrl+Z"]
    return action


def _class_names(store) -> list[str]:
    return [c.name for c in store.project.classes]


def test_ctrl_z_undoes_a_class_delete_with_its_objects(qtbot, manual_window, project, monkeypatch):
    w = manual_window
    panel, store = w.workflow.classes_panel, w.controller.store
    add_polygon(w.annotator, SQUARE, class_id=1)
    add_polygon(w.annotator, SMALL, class_id=2)
    monkeypatch.setattr(panel, "ask_delete_choice", lambda doomed, count: (True, None))
    assert panel.delete_class(1)  # "car" and its object go
    assert _class_names(store) == ["dog", "food"] and len(w.annotator.record.objects) == 1
    assert _undo_action(w).text().replace("&", "") == "Undo Delete class"
    _undo(qtbot, w)  # the user's last change was the delete: it comes back whole
    assert _class_names(store) == ["car", "dog", "food"]
    on_disk = ProjectStore.open(project)
    assert _class_names(on_disk) == ["car", "dog", "food"]
    assert sorted(o.class_id for o in on_disk.load_image_annotations(0).objects) == [1, 2]
    assert sorted(o.class_id for o in w.annotator.record.objects) == [1, 2]
    _redo(qtbot, w)
    assert _class_names(store) == ["dog", "food"]


def test_ctrl_z_follows_the_order_of_changes(qtbot, manual_window, project):
    w = manual_window
    panel, store = w.workflow.classes_panel, w.controller.store
    first = add_polygon(w.annotator, SQUARE, class_id=1)  # image change 1
    bird = panel.add_class("bird")  # project change
    second = add_polygon(w.annotator, SMALL, class_id=bird)  # image change 2
    assert _undo_action(w).text().replace("&", "") == "Undo Add object"

    def ids():
        return [o.id for o in w.annotator.record.objects]

    _undo(qtbot, w)
    assert ids() == [first] and "bird" in _class_names(store)
    _undo(qtbot, w)
    assert ids() == [first] and "bird" not in _class_names(store)
    _undo(qtbot, w)
    assert ids() == []
    # Redo goes forward in the same order.
    _redo(qtbot, w)
    assert ids() == [first] and "bird" not in _class_names(store)
    _redo(qtbot, w)
    assert "bird" in _class_names(store) and ids() == [first]
    _redo(qtbot, w)
    assert ids() == [first, second]
    # A new change after an undo: Ctrl+Z undoes that one, not an older one.
    _undo(qtbot, w)
    panel.add_class("fish")
    _undo(qtbot, w)
    assert "fish" not in _class_names(store) and ids() == [first]
    assert _class_names(ProjectStore.open(project))[-1] == "bird"
