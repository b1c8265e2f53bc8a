"""The image list: file name, review state and object count, filterable, for 10,000+ images.

A QAbstractListModel over the project's image records (nothing per row is created up
front) behind a QSortFilterProxyModel, so long lists scroll without delay. Above the list:
the progress ("37 / 200 done"), a legend of the state marks, and a filter by state, by
"no objects yet" and by "missing or damaged".

Problems are marked per row (⚠, in the error colour, the reason in the tooltip):
- files: ``ImageListPanel.check_files`` looks on a worker thread whether each image file
  exists and is readable; an image that failed to decode (``set_file_problem``) too;
- annotations and saving: ``ImageListModel.set_marks(path → text)`` (the save-state
  guard, ``samdesk.ui.save_state``: damaged annotation file, changed by another annotator,
  not saved); ``set_annotation_problem(row, text)`` marks one row the same way.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QVBoxLayout,
    QWidget,
)

from samdesk.core.document import ImageRecord, ReviewState
from samdesk.ui import theme
from samdesk.ui.bridge import FutureBridge

STATE_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
PROBLEM_ROLE = Qt.ItemDataRole.UserRole + 3

_STATE_MARK = {ReviewState.NEW: "○", ReviewState.IN_PROGRESS: "◐", ReviewState.DONE: "●"}
_STATE_COLOR = {
    ReviewState.NEW: QColor("#9e9e9e"),
    ReviewState.IN_PROGRESS: QColor("#f0a030"),
    ReviewState.DONE: QColor("#43a047"),
}
PROBLEM_MARK = "⚠"
LEGEND = "○ new · ◐ in progress · ● done · ⚠ missing/damaged · (n) objects"
# Filter choices beyond the review states (the combo box's item data).
NO_OBJECTS = "no_objects"
PROBLEMS = "problems"

Index = QModelIndex | QPersistentModelIndex


def file_problem(path: str) -> str | None:
    """Why the image file at ``path`` cannot be used ("missing", "not readable"), or None.

    A simple check (exists, is a file, may be read): decoding is left to the loader.
    """
    try:
        if not os.path.isfile(path):
            return "file missing" if not os.path.exists(path) else "not a file"
        if not os.access(path, os.R_OK):
            return "file not readable (permissions)"
    except OSError as exc:
        return f"file not accessible: {exc}"
    return None


def _check_all(paths: Sequence[str]) -> dict[int, str]:
    return {row: why for row, path in enumerate(paths) if (why := file_problem(path))}


class ImageListModel(QAbstractListModel):
    """Rows are the project's images in the user's order.

    Signals: progress_changed(int, int): images done, images in all.
    """

    progress_changed = Signal(int, int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._images: list[ImageRecord] = []
        self._counts: list[int] = []
        self._file_problems: dict[int, str] = {}
        self._annotation_problems: dict[int, str] = {}
        self._marks: dict[str, str] = {}  # image path → a problem in words (save state)
        self._drafts: set[str] = set()  # image paths with an unaccepted object (✎)

    def set_images(self, images: list[ImageRecord], object_counts: list[int]) -> None:
        self.beginResetModel()
        self._images = images
        self._counts = list(object_counts)
        self._file_problems = {}
        self._annotation_problems = {}
        self.endResetModel()
        self._emit_progress()

    def update_row(self, row: int, object_count: int) -> None:
        self._counts[row] = object_count
        self._row_changed(row)
        self._emit_progress()  # the state may have changed with it

    def _row_changed(self, row: int) -> None:
        if 0 <= row < len(self._images):
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
                self._row_changed(row)

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

    def object_count(self, row: int) -> int:
        return self._counts[row]

    # ----- progress and problems -------------------------------------------------------------
    def progress(self) -> tuple[int, int]:
        """(images done, images in all)."""
        done = sum(1 for r in self._images if r.state is ReviewState.DONE)
        return done, len(self._images)

    def _emit_progress(self) -> None:
        self.progress_changed.emit(*self.progress())

    def set_file_problems(self, problems: dict[int, str]) -> None:
        """Rows whose image file cannot be used, with the reason (replaces earlier ones)."""
        changed = set(self._file_problems) | set(problems)
        self._file_problems = dict(problems)
        for row in changed:
            self._row_changed(row)

    def set_file_problem(self, row: int, text: str | None) -> None:
        """Mark (or with None, clear) a problem with row ``row``'s image file."""
        if self._file_problems.get(row) == (text or None):
            return  # unchanged: no repaint, no re-filtering of a long list
        if text:
            self._file_problems[row] = text
        else:
            self._file_problems.pop(row, None)
        self._row_changed(row)

    def set_annotation_problem(self, row: int, text: str | None) -> None:
        """Hook for the project store: row ``row``'s annotation file is damaged (None: ok)."""
        if text:
            self._annotation_problems[row] = text
        else:
            self._annotation_problems.pop(row, None)
        self._row_changed(row)

    def problem(self, row: int) -> str | None:
        """What is wrong with row ``row`` in words, or None."""
        path = self._images[row].path if 0 <= row < len(self._images) else None
        mark = self._marks.get(path) if path is not None else None
        parts = [self._file_problems.get(row), self._annotation_problems.get(row), mark]
        return "; ".join(p for p in parts if p) or None

    # ----- Qt model --------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._images)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = index.row()
        record = self._images[row]
        problem = self.problem(row)
        if role == Qt.ItemDataRole.DisplayRole:
            name = record.path.rsplit("/", 1)[-1]
            draft = "  ✎ draft" if record.path in self._drafts else ""
            text = f"{_STATE_MARK[record.state]}  {name}   ({self._counts[row]}){draft}"
            return f"{text}  {PROBLEM_MARK}" if problem else text
        if role == Qt.ItemDataRole.ToolTipRole:
            state = record.state.value.replace("_", " ")
            tip = f"{record.path}\n{state}, {self._counts[row]} objects"
            if record.path in self._drafts:
                tip += "\n✎ an unaccepted object (Enter accepts it, Esc discards it)"
            return f"{tip}\n{PROBLEM_MARK} {problem}" if problem else tip
        if role == Qt.ItemDataRole.ForegroundRole:
            if problem:
                return theme.error_color()
            return _STATE_COLOR[record.state] if record.state != ReviewState.NEW else None
        if role == STATE_ROLE:
            return record.state.value
        if role == ROW_ROLE:
            return row
        if role == PROBLEM_ROLE:
            return problem
        return None


class _ImageFilter(QSortFilterProxyModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._state: str | None = None
        self._text = ""

    def refilter(self) -> None:
        """Apply a changed filter (Qt ≥ 6.9 names it begin/endFilterChange)."""
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            self.endFilterChange()
        else:  # pragma: no cover - older Qt
            self.invalidateFilter()

    def set_state(self, state: str | None) -> None:
        self._state = state
        self.refilter()

    def set_text(self, text: str) -> None:
        self._text = text.lower()
        self.refilter()

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, ImageListModel)
        record = model.image(row)
        if self._state == NO_OBJECTS:
            if model.object_count(row) != 0:
                return False
        elif self._state == PROBLEMS:
            if model.problem(row) is None:
                return False
        elif self._state is not None and record.state.value != self._state:
            return False
        return not self._text or self._text in record.path.lower()


class ImageListPanel(QWidget):
    """Progress, legend, filters + list. Emits ``image_activated(row)`` (row in the project).

    ``files_checked`` is emitted once ``check_files``' background look at the files is in.
    """

    image_activated = Signal(int)
    files_checked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ImageListModel(self)
        self._proxy = _ImageFilter(self)
        self._proxy.setSourceModel(self.model)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="samdesk-files")
        self._bridge = FutureBridge(self)
        self._checks = itertools.count(1)
        self._wanted_check = 0
        self.progress_label = QLabel()
        self.progress_label.setObjectName("ImageProgress")
        self.legend = QLabel(LEGEND)
        self.legend.setWordWrap(True)
        self.legend.setEnabled(False)  # muted: a key, not content
        self.search = QLineEdit(placeholderText="Filter by name…")
        self.search.setClearButtonEnabled(True)
        self.state_filter = QComboBox()
        self.state_filter.addItem("All", None)
        for state in ReviewState:
            self.state_filter.addItem(state.value.replace("_", " ").capitalize(), state.value)
        self.state_filter.addItem("No objects yet", NO_OBJECTS)
        self.state_filter.addItem("Missing or damaged", PROBLEMS)
        # Narrow: the name filter beside it keeps most of the dock's width.
        self.state_filter.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.state_filter.setMinimumContentsLength(8)
        self.view = QListView()
        self.view.setModel(self._proxy)
        self.view.setUniformItemSizes(True)  # constant-time layout for very long lists
        self.view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.state_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.progress_label)
        layout.addLayout(top)
        layout.addWidget(self.view)
        layout.addWidget(self.legend)
        self.search.textChanged.connect(self._proxy.set_text)
        self.state_filter.currentIndexChanged.connect(
            lambda _i: self._proxy.set_state(self.state_filter.currentData())
        )
        self.model.progress_changed.connect(self._show_progress)
        self.model.dataChanged.connect(lambda *_: self._refilter_if_needed())
        self.view.activated.connect(self._on_activated)
        self.view.clicked.connect(self._on_activated)
        self._show_progress(0, 0)

    def _show_progress(self, done: int, total: int) -> None:
        if not total:
            self.progress_label.setText("No images")
            return
        self.progress_label.setText(f"{done} / {total} done")
        self.progress_label.setToolTip(f"{done / total:.0%} of the images are marked done")

    def _refilter_if_needed(self) -> None:
        # Counts, states and problems change under a filter that depends on them.
        if self.state_filter.currentData() is not None:
            self._proxy.refilter()

    def check_files(self, paths: Sequence[str]) -> None:
        """Look (on a worker thread) whether each row's image file exists and is readable."""
        request = next(self._checks)
        self._wanted_check = request
        future = self._executor.submit(_check_all, list(paths))
        self._bridge.watch(
            future,
            lambda problems: self._on_checked(request, problems),
            lambda _exc: None,  # a check that failed itself marks nothing
        )

    def _on_checked(self, request: int, problems: dict[int, str]) -> None:
        if request != self._wanted_check:
            return  # another project meanwhile
        self.model.set_file_problems(problems)
        self.files_checked.emit()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _on_activated(self, proxy_index: QModelIndex) -> None:
        self.image_activated.emit(self._proxy.mapToSource(proxy_index).row())

    def select_row(self, row: int) -> None:
        """Highlight project row ``row`` (without emitting image_activated)."""
        proxy_index = self._proxy.mapFromSource(self.model.index(row))
        if proxy_index.isValid():
            self.view.setCurrentIndex(proxy_index)
            self.view.scrollTo(proxy_index)

    def next_row(self, row: int) -> int | None:
        """The project row after ``row`` in the list's current order and filter, or None."""
        proxy_index = self._proxy.mapFromSource(self.model.index(row))
        if not proxy_index.isValid():
            return None
        after = self._proxy.index(proxy_index.row() + 1, 0)
        return self._proxy.mapToSource(after).row() if after.isValid() else None

    def visible_rows(self) -> list[int]:
        """Project rows in the current filter's order (for next/previous navigation)."""
        return [
            self._proxy.mapToSource(self._proxy.index(i, 0)).row()
            for i in range(self._proxy.rowCount())
        ]
