"""The image list: file name, review state and object count, filterable, for 10,000+ images.

A QAbstractListModel over the project's image records (nothing per row is created up
front) behind a QSortFilterProxyModel, so long lists scroll without delay.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QListView, QVBoxLayout, QWidget

from samdesk.core.document import ImageRecord, ReviewState

STATE_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2

_STATE_MARK = {ReviewState.NEW: "○", ReviewState.IN_PROGRESS: "◐", ReviewState.DONE: "●"}
_STATE_COLOR = {
    ReviewState.NEW: QColor("#9e9e9e"),
    ReviewState.IN_PROGRESS: QColor("#f0a030"),
    ReviewState.DONE: QColor("#43a047"),
}

Index = QModelIndex | QPersistentModelIndex


class ImageListModel(QAbstractListModel):
    """Rows are the project's images in the user's order."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._images: list[ImageRecord] = []
        self._counts: list[int] = []
        self._marks: dict[str, str] = {}  # image path → a problem in words (⚠ in the list)
        self._drafts: set[str] = set()  # image paths with an unaccepted object (✎)

    def set_images(self, images: list[ImageRecord], object_counts: list[int]) -> None:
        self.beginResetModel()
        self._images = images
        self._counts = list(object_counts)
        self.endResetModel()

    def update_row(self, row: int, object_count: int) -> None:
        self._counts[row] = object_count
        index = self.index(row)
        self.dataChanged.emit(index, index)

    def set_marks(self, marks: dict[str, str]) -> None:
        """Mark images with a problem (damaged file, changed by another annotator):
        path → the text shown in the tooltip; the row gets a ⚠. Replaces earlier marks."""
        changed = set(marks) ^ set(self._marks) | {
            p for p in marks if self._marks.get(p) != marks[p]
        }
        self._marks = dict(marks)
        for row, record in enumerate(self._images):
            if record.path in changed:
                index = self.index(row)
                self.dataChanged.emit(index, index)

    def set_drafts(self, paths: set[str]) -> None:
        """Mark the images that hold an unaccepted object (``samdesk.ui.drafts``)."""
        changed = set(paths) ^ self._drafts
        if not changed:
            return
        self._drafts = set(paths)
        for row, record in enumerate(self._images):
            if record.path in changed:
                index = self.index(row)
                self.dataChanged.emit(index, index)

    def image(self, row: int) -> ImageRecord:
        return self._images[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._images)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        record = self._images[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            count = self._counts[index.row()]
            name = record.path.rsplit("/", 1)[-1]
            warn = "⚠ " if record.path in self._marks else ""
            draft = "  ✎ draft" if record.path in self._drafts else ""
            return f"{_STATE_MARK[record.state]}  {warn}{name}   ({count}){draft}"
        if role == Qt.ItemDataRole.ToolTipRole:
            state = record.state.value.replace("_", " ")
            mark = self._marks.get(record.path)
            text = f"{record.path}\n{state}, {self._counts[index.row()]} objects"
            if record.path in self._drafts:
                text += "\n✎ an unaccepted object (Enter accepts it, Esc discards it)"
            return text + (f"\n⚠ {mark}" if mark else "")
        if role == Qt.ItemDataRole.ForegroundRole:
            return _STATE_COLOR[record.state] if record.state != ReviewState.NEW else None
        if role == STATE_ROLE:
            return record.state.value
        if role == ROW_ROLE:
            return index.row()
        return None


class _ImageFilter(QSortFilterProxyModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._state: str | None = None
        self._text = ""

    def set_state(self, state: str | None) -> None:
        self._state = state
        self.invalidateFilter()

    def set_text(self, text: str) -> None:
        self._text = text.lower()
        self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, ImageListModel)
        record = model.image(row)
        if self._state is not None and record.state.value != self._state:
            return False
        return not self._text or self._text in record.path.lower()


class ImageListPanel(QWidget):
    """Filter box + state filter + list. Emits ``image_activated(row)`` (row in the project)."""

    image_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ImageListModel(self)
        self._proxy = _ImageFilter(self)
        self._proxy.setSourceModel(self.model)
        self.search = QLineEdit(placeholderText="Filter by name…")
        self.search.setClearButtonEnabled(True)
        self.state_filter = QComboBox()
        self.state_filter.addItem("All", None)
        for state in ReviewState:
            self.state_filter.addItem(state.value.replace("_", " ").capitalize(), state.value)
        self.view = QListView()
        self.view.setModel(self._proxy)
        self.view.setUniformItemSizes(True)  # constant-time layout for very long lists
        self.view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.state_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.view)
        self.search.textChanged.connect(self._proxy.set_text)
        self.state_filter.currentIndexChanged.connect(
            lambda _i: self._proxy.set_state(self.state_filter.currentData())
        )
        self.view.activated.connect(self._on_activated)
        self.view.clicked.connect(self._on_activated)

    def _on_activated(self, proxy_index: QModelIndex) -> None:
        self.image_activated.emit(self._proxy.mapToSource(proxy_index).row())

    def select_row(self, row: int) -> None:
        """Highlight project row ``row`` (without emitting image_activated)."""
        proxy_index = self._proxy.mapFromSource(self.model.index(row))
        if proxy_index.isValid():
            self.view.setCurrentIndex(proxy_index)
            self.view.scrollTo(proxy_index)

    def visible_rows(self) -> list[int]:
        """Project rows in the current filter's order (for next/previous navigation)."""
        return [
            self._proxy.mapToSource(self._proxy.index(i, 0)).row()
            for i in range(self._proxy.rowCount())
        ]
