"""New Project from Folder: pick a folder of images, name the project, scan sub-folders.

The dialog counts the images it would list (common types, TIFF and WebP included: the
suffixes of ``samdesk.core.images.IMAGE_EXTENSIONS``) as the user types, so an empty or
wrong folder is visible before anything is written. The count runs on a worker thread,
``DEBOUNCE_MS`` after the last keystroke, and is bounded (``samdesk.core.folder_count``):
typing "/" never walks the whole disk on the GUI thread. A file-system root or the home
folder is only used after the user confirms it (``confirm_broad``). ``accept()`` creates the
project file (``ProjectStore.create``); ``store`` holds it afterwards.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from samdesk.core import folder_count
from samdesk.io.class_names import classes_from_names
from samdesk.ui import theme
from samdesk.ui.bridge import FutureBridge
from samdesk.ui.class_names_field import ClassNamesField

DEBOUNCE_MS = 300


def _count(folder: Path, recursive: bool) -> folder_count.FolderCount:
    # Looked up on the module at call time so tests can record where it runs.
    return folder_count.count_images(folder, recursive)


class NewProjectDialog(QDialog):
    """Create a project in an existing folder. After ``accept()``, ``store`` is the project.

    Signals: counted(object): the ``FolderCount`` of the folder in the field (None: not a
    folder), after the background count of the latest text.
    ``confirm_broad(folder, why) -> bool`` asks before using "/" or the home folder
    (default: a question box; tests put a function here).
    """

    counted = Signal(object)

    def __init__(self, folder: str | Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New Project from Folder")
        self.store = None
        self.last_count: folder_count.FolderCount | None = None
        self.confirm_broad: Callable[[str, str], bool] = self._ask_broad
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="samdesk-count")
        self._bridge = FutureBridge(self)
        self._ids = itertools.count(1)
        self._wanted = 0
        self._closed = False
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self._start_count)
        self.folder_edit = QLineEdit(str(folder) if folder else "")
        self.folder_edit.setPlaceholderText("Folder with the images")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Defaults to the folder's name")
        self.recursive = QCheckBox("Include images in sub-folders")
        self.recursive.setChecked(True)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.classes_field = ClassNamesField()  # samdesk.ui.class_names_field
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Folder:", row)
        form.addRow("Name:", self.name_edit)
        form.addRow("", self.recursive)
        form.addRow("Classes:", self.classes_field)
        form.addRow(self.info)
        form.addRow(self.buttons)
        self.folder_edit.textChanged.connect(self._schedule)
        self.recursive.toggled.connect(self._schedule)
        self.resize(560, 0)
        self._schedule()
        if folder:
            self._debounce.stop()
            self._start_count()  # prefilled: no keystrokes to wait for

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Folder with images", self.folder_edit.text()
        )
        if folder:
            self.folder_edit.setText(folder)

    def folder(self) -> Path | None:
        text = self.folder_edit.text().strip()
        return Path(text).expanduser() if text else None

    def image_count(self) -> int | None:
        """Images the project would list now, counted on the calling thread (bounded; None
        when the field is not a folder). The dialog itself never calls this: its count
        runs in the background (``counted``); this is for callers that need the number."""
        folder = self.folder()
        if folder is None or not folder.is_dir():
            return None
        try:
            return _count(folder, self.recursive.isChecked()).images
        except OSError:
            return None

    # ----- counting (debounced, on the worker) ----------------------------------------------
    def _schedule(self) -> None:
        """A keystroke: forget the running count's answer, count again after a pause.

        Only cheap checks run here: whether the text is a folder (Create needs no count:
        the root and the home folder are confirmed on Create) and its names file.
        """
        self._wanted = next(self._ids)
        self.last_count = None
        folder = self.folder()
        self.classes_field.suggest_from(str(folder) if folder is not None else "")
        self._ok_button().setEnabled(folder is not None and folder.is_dir())
        if folder is None:
            self._debounce.stop()
            self._say("Choose an existing folder.")
            return
        self._say("Counting images…")
        self._debounce.start()

    def _start_count(self) -> None:
        folder = self.folder()
        if folder is None or self._closed:
            return
        request = self._wanted
        future = self._executor.submit(_count, folder, self.recursive.isChecked())
        self._bridge.watch(
            future,
            lambda result: self._on_counted(request, result),
            lambda _exc: self._on_counted(request, None),
        )

    def _on_counted(self, request: int, result: folder_count.FolderCount | None) -> None:
        if request != self._wanted:
            return  # the text changed meanwhile
        self.last_count = result
        self._ok_button().setEnabled(result is not None)
        if result is None:
            self._say("Choose an existing folder.", error=True)
        else:
            broad = folder_count.is_broad_folder(self.folder() or "")
            if result.complete:
                text = f"{result.images} images found (JPEG, PNG, TIFF, WebP, BMP, …)."
                if not result.images:
                    text += " You can add images to the folder later."
            else:
                text = (
                    f"More than {result.images} images found (stopped counting after "
                    f"{result.visited:,} files)."
                )
            if broad:
                text = f"This is {broad}: a project here lists every image below it. " + text
            self._say(text, error=bool(broad))
        self.counted.emit(result)

    def _ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.info.setText(text)
        color = theme.error_color().name() if error else ""
        self.info.setStyleSheet(f"color:{color}" if color else "")

    def _ask_broad(self, folder: str, why: str) -> bool:
        answer = QMessageBox.question(
            self,
            "Use this folder?",
            f"{folder} is {why}. A project there would list every image on it, which can "
            "take a long time. Create the project there anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # ----- creating --------------------------------------------------------------------------
    def accept(self) -> None:
        """Create the project; on failure the reason is shown and the dialog stays open."""
        from samdesk.io.project import ProjectStore

        folder = self.folder()
        if folder is None:
            self._say("Choose an existing folder.", error=True)
            return
        why = folder_count.is_broad_folder(folder)
        if why and not self.confirm_broad(str(folder), why):
            self._say(f"Not created: {folder} is {why}. Choose the folder of the images.")
            return
        try:
            self.store = ProjectStore.create(
                folder,
                self.name_edit.text().strip() or None,
                recursive=self.recursive.isChecked(),
                classes=classes_from_names(self.classes_field.names()),
            )
        except FileExistsError as exc:
            self._say(f"{exc}. Use File → Open Project to open it.", error=True)
            return
        except OSError as exc:
            self._say(f"Could not create the project: {exc}", error=True)
            return
        super().accept()

    def done(self, result: int) -> None:
        self._closed = True
        self._debounce.stop()
        self._wanted = -1  # a count still running is not waited for; its answer is dropped
        self._executor.shutdown(wait=False, cancel_futures=True)
        super().done(result)

    def shutdown(self) -> None:
        """Join the counting thread (tests)."""
        self._closed = True
        self._debounce.stop()
        self._executor.shutdown(wait=True, cancel_futures=True)
