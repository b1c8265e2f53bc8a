"""The Classes panel: add, rename, recolour, reorder, delete (with its objects), undo."""

from __future__ import annotations

from PySide6.QtGui import QColor

from samdesk.io.project import ProjectStore
from samdesk.ui.classes_panel import DeleteClassDialog
from tests.ui.workflow_support import SMALL, SQUARE, add_polygon, isolated_settings  # noqa: F401


def _names(store):
    return [(c.name, c.key) for c in store.project.classes]


def test_add_rename_recolour_reorder_undo(qtbot, manual_window, project, monkeypatch):
    panel = manual_window.workflow.classes_panel
    store = manual_window.controller.store
    assert panel.list.count() == 3
    new_id = panel.add_class("bird")
    assert _names(store)[-1] == ("bird", 4)
    assert manual_window.annotator.classes[-1].name == "bird"  # the canvas side follows
    assert "bird" in [a.text() for a in manual_window._class_menu.actions()]
    # Rename in place (the list item is editable) is deferred past the editor's commit.
    item = panel.list.item(3)
    item.setText("4  parrot")
    qtbot.waitUntil(lambda: _names(store)[-1] == ("parrot", 4))
    # Recolour through the colour dialog.
    monkeypatch.setattr(
        "samdesk.ui.classes_panel.QColorDialog.getColor", lambda *a, **k: QColor("#123456")
    )
    panel.select(new_id)
    panel.buttons["◐"].click()
    assert store.project.class_by_id(new_id).color == "#123456"
    # Reorder: up twice; keys follow the order.
    panel.buttons["▲"].click()
    panel.buttons["▲"].click()
    assert _names(store) == [("car", 1), ("parrot", 2), ("dog", 3), ("food", 4)]
    # Saved in the project file.
    assert _names(ProjectStore.open(project)) == _names(store)
    # Every edit is one undo step on the project-level stack.
    stack = panel.undo_stack
    assert stack.count() == 5
    for _ in range(5):
        stack.undo()
    assert _names(ProjectStore.open(project)) == [("car", 1), ("dog", 2), ("food", 3)]
    stack.redo()
    assert _names(store)[-1] == ("bird", 4)
    # Duplicate names are refused with a message, not a crash.
    with qtbot.waitSignal(panel.error):
        panel.rename_class(1, "dog")


def test_delete_class_moves_or_deletes_its_objects(qtbot, manual_window, project, monkeypatch):
    panel = manual_window.workflow.classes_panel
    annotator = manual_window.annotator
    store = manual_window.controller.store
    add_polygon(annotator, SQUARE, class_id=2)
    add_polygon(annotator, SMALL, class_id=3)
    # A class without objects goes at once.
    assert panel.delete_class(1)
    assert [c.name for c in store.project.classes] == ["dog", "food"]
    # With objects: the dialog's choice "move them to food".
    monkeypatch.setattr(panel, "ask_delete_choice", lambda doomed, count: (True, 3))
    assert panel.delete_class(2)
    on_disk = ProjectStore.open(project).load_image_annotations(0)
    assert [o.class_id for o in on_disk.objects] == [3, 3]
    assert [c.name for c in store.project.classes] == ["food"]
    assert manual_window.canvas.object_item(on_disk.objects[0].id) is not None
    # Undo brings back the class and the objects' class, on disk too.
    panel.undo_stack.undo()
    on_disk = ProjectStore.open(project).load_image_annotations(0)
    assert [o.class_id for o in on_disk.objects] == [2, 3]
    assert [c.name for c in store.project.classes] == ["dog", "food"]
    # "Delete them": the objects go with the class.
    monkeypatch.setattr(panel, "ask_delete_choice", lambda doomed, count: (True, None))
    assert panel.delete_class(2)
    assert [o.class_id for o in ProjectStore.open(project).load_image_annotations(0).objects] == [3]
    # Cancelled: nothing changes.
    monkeypatch.setattr(panel, "ask_delete_choice", lambda doomed, count: (False, None))
    assert not panel.delete_class(3)


def test_delete_dialog_choice(qtbot):
    from samdesk.core.document import LabelClass

    doomed = LabelClass(1, "car", "#ff0000")
    dialog = DeleteClassDialog(doomed, 4, [LabelClass(2, "dog", "#00ff00")], None)
    qtbot.addWidget(dialog)
    assert dialog.move_objects.isChecked() and dialog.choice() == 2
    dialog.delete_objects.setChecked(True)
    assert dialog.choice() is None
    alone = DeleteClassDialog(doomed, 4, [], None)
    qtbot.addWidget(alone)
    assert alone.delete_objects.isChecked() and not alone.move_objects.isEnabled()


def test_clicking_a_class_picks_it(qtbot, manual_window):
    panel = manual_window.workflow.classes_panel
    item = panel.list.item(2)
    rect = panel.list.visualItemRect(item)
    from PySide6.QtCore import Qt

    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert manual_window.annotator.class_id == 3
    assert panel.list.item(2).font().bold()


def test_plus_button_asks_for_a_name_and_updates_menu_and_file(qtbot, manual_window, project):
    from PySide6.QtCore import Qt

    from tests.ui.modal_support import answer_modal, type_and_accept

    panel = manual_window.workflow.classes_panel
    store = manual_window.controller.store
    asked: list[str] = []
    seen = answer_modal(type_and_accept("bird", asked))
    qtbot.mouseClick(panel.buttons["+"], Qt.MouseButton.LeftButton)
    assert seen and asked[0] == "Name of the new class:" and asked[1] == "class 4"
    assert _names(store)[-1] == ("bird", 4)
    assert "bird" in [a.text() for a in manual_window._class_menu.actions()]
    text = (project / "test.samdesk.yaml").read_text()
    assert "name: bird" in text and "false" not in text.lower().split("classes:")[1][:400]
    assert [c.name for c in ProjectStore.open(project).project.classes][-1] == "bird"
    # Cancel adds nothing.
    seen = answer_modal(lambda dialog: dialog.reject())
    qtbot.mouseClick(panel.buttons["+"], Qt.MouseButton.LeftButton)
    assert seen and len(store.project.classes) == 4
    # A name must be a string: a bool (a signal's checked) is refused loudly.
    import pytest

    with pytest.raises(TypeError):
        panel.add_class(False)
