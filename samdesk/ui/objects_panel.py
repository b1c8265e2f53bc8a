"""The Objects panel: the current image's objects with class and area, in drawing order.

Select (synced both ways with the canvas through the annotator's selection), hide, delete,
change class and reorder; every edit goes through an undo command on the image's stack
(the annotator's ``push``/``replace_object``/``delete_selected``), so Ctrl+Z undoes it and
the image is autosaved like any canvas edit. Row 0 is drawn first (at the bottom).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from samdesk.core.document import AnnotationObject, ImageRecord, LabelClass
from samdesk.ui.classes_panel import swatch
from samdesk.ui.commands import set_class, set_hidden
from samdesk.ui.naming import NO_CLASS

COLUMNS = ("#", "Class", "Area (px²)", "Source")


class MoveObjectCommand(QUndoCommand):
    """Move an object to another place in the drawing order (undo moves it back)."""

    def __init__(self, record: ImageRecord, object_id: str, index: int, changed: Any) -> None:
        super().__init__("Reorder object")
        self.record = record
        self.object_id = object_id
        self.index = index
        self._old = 0
        self._changed = changed

    def _move_to(self, index: int) -> int:
        old, obj = self.record.remove_object(self.object_id)
        self.record.add_object(obj, index)
        self._changed(self.record)
        return old

    def redo(self) -> None:
        self._old = self._move_to(self.index)

    def undo(self) -> None:
        self._move_to(self._old)


class ObjectsModel(QAbstractTableModel):
    """The objects of one ImageRecord (a live view: ``reset`` after each change)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.record: ImageRecord | None = None
        self.classes: list[LabelClass] = []
        self._areas: dict[int, float] = {}  # id(region) → area; regions are immutable

    def reset(self, record: ImageRecord | None, classes: list[LabelClass]) -> None:
        self.beginResetModel()
        self.record = record
        self.classes = classes
        live = {id(o.region) for o in (record.objects if record else [])}
        self._areas = {k: v for k, v in self._areas.items() if k in live}
        self.endResetModel()

    def object(self, row: int) -> AnnotationObject:
        assert self.record is not None
        return self.record.objects[row]

    def row_of(self, object_id: str | None) -> int | None:
        if self.record is None or object_id is None:
            return None
        try:
            return self.record.object_index(object_id)
        except KeyError:
            return None

    def area(self, obj: AnnotationObject) -> float:
        key = id(obj.region)
        if key not in self._areas:
            from samdesk.core.geometry import region_area

            self._areas[key] = region_area(obj.region)
        return self._areas[key]

    def rowCount(self, parent: Any = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self.record is None else len(self.record.objects)

    def columnCount(self, parent: Any = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index: Any) -> Qt.ItemFlag:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.record is None:
            return None
        obj = self.record.objects[index.row()]
        column = index.column()
        label_class = next((c for c in self.classes if c.id == obj.class_id), None)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return str(index.row() + 1)
            if column == 1:
                return label_class.name if label_class else NO_CLASS  # never an internal id
            if column == 2:
                return f"{self.area(obj):,.0f}"
            # A COCO crowd region (iscrowd) is one object standing for many: say so.
            return f"{obj.source.value} · crowd" if obj.crowd else obj.source.value
        if role == Qt.ItemDataRole.CheckStateRole and column == 0:
            return Qt.CheckState.Unchecked if obj.hidden else Qt.CheckState.Checked
        if role == Qt.ItemDataRole.DecorationRole and column == 1 and label_class:
            return swatch(label_class.color)
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return "Shown (uncheck to hide)" if not obj.hidden else "Hidden (check to show)"
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 2:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        return None


class ObjectsPanel(QWidget):
    """The list of the image's objects; ``attach(annotator)`` connects it to the canvas."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.annotator: Any = None
        self.model = ObjectsModel(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().hide()
        self.view.setShowGrid(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.view.clicked.connect(self._on_clicked)
        self.class_box = QComboBox(toolTip="Class of the selected object")
        self.class_box.activated.connect(self._on_class_chosen)
        row = QHBoxLayout()
        row.setSpacing(2)
        self.buttons: dict[str, QToolButton] = {}
        for name, tip, slot in (
            ("▲", "Draw later (on top)", lambda: self.move_selected(1)),
            ("▼", "Draw earlier (below)", lambda: self.move_selected(-1)),
            ("⊘", "Hide/show (Shift+H)", self.toggle_hidden),
            ("−", "Delete (Del)", self.delete_selected),
        ):
            button = QToolButton(text=name, toolTip=tip)
            button.clicked.connect(slot)
            row.addWidget(button)
            self.buttons[name] = button
        row.addWidget(self.class_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.view)
        layout.addLayout(row)
        self._syncing = False
        self._update_controls()

    def attach(self, annotator: Any) -> None:
        """Follow ``annotator``: its image, its document changes and its selection."""
        self.annotator = annotator
        annotator.document_changed.connect(self._on_document_changed)
        annotator.selection_changed.connect(self._select_row_of)
        self.view.selectionModel().selectionChanged.connect(self._on_view_selection)
        self.refresh()

    # ----- following the annotator ----------------------------------------------------------
    def refresh(self) -> None:
        """Show the annotator's current image and classes again."""
        a = self.annotator
        self._syncing = True
        self.model.reset(a.record if a else None, a.classes if a else [])
        self.class_box.clear()
        for c in a.classes if a else []:
            self.class_box.addItem(swatch(c.color), c.name, c.id)
        self._syncing = False
        self._select_row_of(a.selected_id if a else None)

    def _on_document_changed(self, record: ImageRecord) -> None:
        if self.annotator is not None and record is self.annotator.record:
            self.refresh()

    def _select_row_of(self, object_id: str | None) -> None:
        self._syncing = True
        row = self.model.row_of(object_id)
        selection = self.view.selectionModel()
        if row is None:
            selection.clearSelection()
        else:
            flags = (
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows
            )
            selection.select(self.model.index(row, 0), flags)
            self.view.scrollTo(self.model.index(row, 0))
        self._syncing = False
        self._update_controls()

    def _on_view_selection(self, *_args: Any) -> None:
        if self._syncing or self.annotator is None:
            return
        rows = self.view.selectionModel().selectedRows()
        object_id = self.model.object(rows[0].row()).id if rows else None
        self.annotator.select(object_id)
        self._update_controls()

    def _update_controls(self) -> None:
        obj = self.selected_object()
        for button in self.buttons.values():
            button.setEnabled(obj is not None)
        self.class_box.setEnabled(obj is not None)
        if obj is not None:
            index = self.class_box.findData(obj.class_id)
            self.class_box.setCurrentIndex(index)

    # ----- edits (all through undo commands) ----------------------------------------------
    def selected_object(self) -> AnnotationObject | None:
        return self.annotator.selected_object() if self.annotator is not None else None

    def _on_clicked(self, index: Any) -> None:
        if index.column() == 0 and self.annotator is not None:
            # The check box column: a click toggles visibility of that row's object.
            obj = self.model.object(index.row())
            self.annotator.select(obj.id)
            self.toggle_hidden()

    def toggle_hidden(self) -> None:
        obj = self.selected_object()
        if obj is not None:
            text = "Show object" if obj.hidden else "Hide object"
            self.annotator.replace_object(set_hidden(obj, not obj.hidden), text)

    def delete_selected(self) -> None:
        if self.selected_object() is not None:
            self.annotator.delete_selected()

    def change_class(self, class_id: int) -> None:
        obj = self.selected_object()
        if obj is not None and obj.class_id != class_id:
            self.annotator.replace_object(set_class(obj, class_id), "Change class")

    def _on_class_chosen(self, index: int) -> None:
        class_id = self.class_box.itemData(index)
        if class_id is not None:
            self.change_class(class_id)

    def move_selected(self, delta: int) -> None:
        """Move the selected object ``delta`` places in the drawing order (+1: on top)."""
        obj = self.selected_object()
        record = self.annotator.record if self.annotator is not None else None
        if obj is None or record is None:
            return
        index = record.object_index(obj.id)
        target = min(max(index + delta, 0), len(record.objects) - 1)
        if target != index:
            changed = self.annotator.document_changed.emit  # reordering never removes one
            self.annotator.push(MoveObjectCommand(record, obj.id, target, changed))
