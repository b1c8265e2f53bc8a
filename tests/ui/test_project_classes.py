"""A new project asks for its classes, and no object is ever accepted without one."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from samdesk.io.project import ProjectStore
from samdesk.ui.new_project_dialog import NewProjectDialog
from tests.ui.conftest import _close, _open_window, click, write_images
from tests.ui.modal_support import answer_modal, back_to, type_and_accept
from tests.ui.workflow_support import isolated_settings  # noqa: F401


def test_new_project_dialog_takes_typed_classes(qtbot, tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    write_images(folder)
    dialog = NewProjectDialog(str(folder))
    qtbot.addWidget(dialog)
    field = dialog.classes_field
    assert field.isVisibleTo(dialog) and "No classes yet" in field.info.text()
    for line in ("car", "dog, person", "", "dog"):  # typed, one class a line
        qtbot.keyClicks(field.edit, line)
        qtbot.keyClick(field.edit, Qt.Key.Key_Return)
    assert field.names() == ["car", "dog", "person"]
    assert "3 classes" in field.info.text() and "1: car" in field.info.text()
    dialog.accept()
    store = ProjectStore.open(folder)
    assert [(c.name, c.key) for c in store.project.classes] == [
        ("car", 1),
        ("dog", 2),
        ("person", 3),
    ]
    assert len({c.color for c in store.project.classes}) == 3


def test_new_project_dialog_loads_names_files(qtbot, tmp_path, monkeypatch):
    folder = tmp_path / "pics"
    folder.mkdir()
    write_images(folder)
    (folder / "classes.txt").write_text("truck\nbus\n", encoding="utf-8")
    dialog = NewProjectDialog(str(folder))  # a classes.txt beside the images: suggested
    qtbot.addWidget(dialog)
    field = dialog.classes_field
    assert field.names() == ["truck", "bus"] and "classes.txt" in field.info.text()
    # Another folder without a names file: the suggestion goes; back: it comes again.
    other = tmp_path / "other"
    other.mkdir()
    dialog.folder_edit.setText(str(other))
    assert field.names() == []
    dialog.folder_edit.setText(str(folder))
    assert field.names() == ["truck", "bus"]
    # A hostile file from the Load button: refused with its reason, the list kept.
    bad = tmp_path / "data.yaml"
    bad.write_bytes(b"names: [oops\n")
    monkeypatch.setattr(
        "samdesk.ui.class_names_field.QFileDialog.getOpenFileName",
        lambda *a, **k: (str(bad), ""),
    )
    qtbot.mouseClick(field.load_button, Qt.MouseButton.LeftButton)
    assert "not valid YAML" in field.info.text() and field.names() == ["truck", "bus"]
    good = tmp_path / "data2.yaml"
    good.write_text("names:\n  0: cat\n  1: dog\n", encoding="utf-8")
    monkeypatch.setattr(
        "samdesk.ui.class_names_field.QFileDialog.getOpenFileName",
        lambda *a, **k: (str(good), ""),
    )
    qtbot.mouseClick(field.load_button, Qt.MouseButton.LeftButton)
    assert field.names() == ["cat", "dog"]
    dialog.accept()
    classes = ProjectStore.open(folder).project.classes
    assert [(c.name, c.key) for c in classes] == [("cat", 1), ("dog", 2)]


def _classless_window(qtbot, tmp_path: Path):
    folder = tmp_path / "bare"
    folder.mkdir()
    write_images(folder)
    ProjectStore.create(folder, "bare")  # no classes
    window = _open_window(qtbot, folder, None)
    window.canvas.setFocus()
    return window, folder


def _draw_square(qtbot, window) -> None:
    for x, y in ((40, 40), (140, 40), (140, 120), (40, 120)):
        click(qtbot, window.canvas, x, y)


def test_accept_without_a_class_asks_for_one(qtbot, tmp_path):
    window, folder = _classless_window(qtbot, tmp_path)
    try:
        annotator, canvas = window.annotator, window.canvas
        assert window.canvas.tool.name == "Polygon" and not annotator.classes
        # Cancelled: nothing is accepted, the polygon stays, the status bar says why.
        _draw_square(qtbot, window)
        seen = answer_modal(lambda dialog: dialog.reject())
        qtbot.keyClick(canvas, Qt.Key.Key_Return)
        assert seen and annotator.record.objects == []
        assert annotator.draft is not None and len(annotator.draft.polygon) == 4
        assert "needs a class" in window.statusBar().currentMessage()
        back_to(qtbot, window)
        # Named: the class is created (key 1) and the object accepted with it.
        labels: list[str] = []
        seen = answer_modal(type_and_accept("dog", labels))
        qtbot.keyClick(canvas, Qt.Key.Key_Return)
        assert seen and "needs a class" in labels[0]
        back_to(qtbot, window)
        (obj,) = annotator.record.objects
        store = ProjectStore.open(folder)
        assert [(c.name, c.key) for c in store.project.classes] == [("dog", 1)]
        assert obj.class_id == store.project.classes[0].id
        assert store.load_image_annotations(0).objects[0].class_id == obj.class_id
        panel = window.workflow.objects_panel
        shown = panel.model.data(panel.model.index(0, 1))
        assert shown == "dog"
        # The next object takes the current class without asking.
        for x, y in ((180, 150), (260, 150), (260, 220)):
            click(qtbot, canvas, x, y)
        qtbot.keyClick(canvas, Qt.Key.Key_Return)
        assert [o.class_id for o in annotator.record.objects] == [obj.class_id] * 2
    finally:
        _close(window)
