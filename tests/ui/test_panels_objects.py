"""The Objects panel: list, selection synced with the canvas, hide/delete/class/reorder + undo."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt

from samdesk.io.project import ProjectStore
from tests.ui.workflow_support import SMALL, SQUARE, add_polygon, isolated_settings  # noqa: F401


def _select_row(panel, row: int) -> None:
    flags = (
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    )
    panel.view.selectionModel().select(panel.model.index(row, 0), flags)


def test_list_and_selection_sync(qtbot, manual_window):
    panel = manual_window.workflow.objects_panel
    annotator = manual_window.annotator
    first = add_polygon(annotator, SQUARE, class_id=1)
    second = add_polygon(annotator, SMALL, class_id=2)
    model = panel.model
    assert model.rowCount() == 2
    assert model.data(model.index(0, 1)) == "car" and model.data(model.index(1, 1)) == "dog"
    assert model.data(model.index(0, 2)) == "2,500"  # 50 × 50 px
    # Panel → canvas.
    _select_row(panel, 1)
    assert annotator.selected_id == second
    assert manual_window.canvas.object_item(second).isSelected()
    # Canvas → panel.
    annotator.select(first)
    assert [i.row() for i in panel.view.selectionModel().selectedRows()] == [0]
    annotator.select(None)
    assert panel.view.selectionModel().selectedRows() == []
    # Another image: the panel follows.
    with qtbot.waitSignal(manual_window.controller.image_shown):
        manual_window.controller.show_image(1)
    assert model.rowCount() == 0


def test_edits_are_undoable_and_saved(qtbot, manual_window, project):
    panel = manual_window.workflow.objects_panel
    annotator = manual_window.annotator
    first = add_polygon(annotator, SQUARE, class_id=1)
    second = add_polygon(annotator, SMALL, class_id=2)
    record = annotator.record
    stack = annotator.stack

    def on_disk():
        return ProjectStore.open(project).load_image_annotations(0).objects

    # Hide (the check box column) and undo.
    qtbot.mouseClick(
        panel.view.viewport(),
        Qt.MouseButton.LeftButton,
        pos=panel.view.visualRect(panel.model.index(0, 0)).center(),
    )
    assert record.get_object(first).hidden and on_disk()[0].hidden
    assert panel.model.data(panel.model.index(0, 0), Qt.ItemDataRole.CheckStateRole) == (
        Qt.CheckState.Unchecked
    )
    stack.undo()
    assert not record.get_object(first).hidden
    # Change class through the combo box.
    annotator.select(first)
    panel.class_box.setCurrentIndex(panel.class_box.findData(3))
    panel.class_box.activated.emit(panel.class_box.currentIndex())
    assert record.get_object(first).class_id == 3 and on_disk()[0].class_id == 3
    stack.undo()
    assert record.get_object(first).class_id == 1
    # Reorder: the first object goes on top; undo puts it back.
    annotator.select(first)
    panel.buttons["▲"].click()
    assert [o.id for o in record.objects] == [second, first]
    assert [o.id for o in on_disk()] == [second, first]
    assert [i.row() for i in panel.view.selectionModel().selectedRows()] == [1]
    stack.undo()
    assert [o.id for o in record.objects] == [first, second]
    # Delete and undo.
    annotator.select(second)
    panel.buttons["−"].click()
    assert [o.id for o in record.objects] == [first] and panel.model.rowCount() == 1
    stack.undo()
    assert [o.id for o in on_disk()] == [first, second]
    # Buttons are off without a selection.
    annotator.select(None)
    assert not panel.buttons["−"].isEnabled() and not panel.class_box.isEnabled()


def test_crowd_objects_are_marked_in_the_list(qtbot):
    from samdesk.core.document import AnnotationObject, ImageRecord, LabelClass, ObjectSource
    from samdesk.core.geometry import mask_to_region
    from samdesk.ui.objects_panel import ObjectsModel

    mask = [[1, 1], [1, 1]]
    record = ImageRecord("a.png", 2, 2)
    record.objects = [
        AnnotationObject(1, mask_to_region(mask), ObjectSource.IMPORT, crowd=True),
        AnnotationObject(1, mask_to_region(mask), ObjectSource.IMPORT),
    ]
    model = ObjectsModel()
    model.reset(record, [LabelClass(1, "person", "#ff0000")])
    assert model.data(model.index(0, 3)) == "import · crowd"
    assert model.data(model.index(1, 3)) == "import"
