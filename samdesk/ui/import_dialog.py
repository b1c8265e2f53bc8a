"""The Import dialog: a COCO file or a YOLO dataset merged into the open project.

One project, one writer: the dataset is read on a background thread (parsing a large
COCO file takes a while, and touches no project file), then merged on the GUI thread
into the window's own ``ProjectStore`` (``store``), the one the user is editing — classes
and objects the user adds while the file is read are in that store, so nothing is lost
on either side, and the window updates its views from the same store afterwards
(``imported``). Without a window (``store`` None) the project file is opened here.

The merge is the one of ``samdesk import`` (``samdesk.io.cli.merge_import``): classes
matched by name (written first), images outside the project copied in, objects already
present not added twice. A dataset that cannot be read changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from samdesk.ui.job_dialog import BackgroundJobDialog

FORMATS = {"coco": "COCO JSON file", "yolo": "YOLO dataset (data.yaml or its folder)"}
FORMATS["labelme"] = "LabelMe JSON (a folder of .json beside images)"
FORMATS["masks-png"] = "Masks as PNG (SegmentationClass/SegmentationObject folder)"
FORMATS["voc"] = "Pascal VOC XML (folder with Annotations/)"


def read_import(
    fmt: str,
    source: Path,
    image_root: Path | None = None,
    stage: Callable[[str], None] | None = None,
) -> Any:
    """Read a dataset (no project file is touched): an ``ImportResult``. Worker thread."""
    from samdesk.io.importers import import_dataset

    if stage is not None:
        stage(f"Reading {source.name}…")
    return import_dataset(fmt, source, image_root=image_root if fmt == "coco" else None)


def merge_result(store: Any, result: Any) -> str:
    """Merge a read dataset into ``store`` (saved); returns the summary."""
    from samdesk.io.cli import merge_import  # the CLI's merge: one behaviour for both

    images, objects, skipped = merge_import(store, result)
    lines = [
        f"imported {images} images, {objects} objects; skipped {len(skipped)} images",
        *(f"  skipped: {s}" for s in skipped),
        *(f"  warning: {w}" for w in [*result.warnings, *store.warnings]),
    ]
    return "\n".join(lines)


def run_import(
    project_file: Path,
    fmt: str,
    source: Path,
    image_root: Path | None = None,
    stage: Callable[[str], None] | None = None,
) -> str:
    """Merge ``source`` into the project at ``project_file``; returns the summary (no Qt)."""
    from samdesk.io.project import ProjectStore

    result = read_import(fmt, source, image_root, stage)
    if stage is not None:
        stage(f"Adding {len(result.images)} images to the project…")
    return merge_result(ProjectStore.open(project_file), result)


class ImportDialog(BackgroundJobDialog):
    """Signals: imported(str, bool): the summary (or error) and success.

    ``store``: the window's open project, merged into on the GUI thread (see the module
    docstring); None: the project at ``project_file`` is opened when the merge starts.
    """

    imported = Signal(str, bool)
    _stage = Signal(str)

    def __init__(
        self, project_file: str | Path, parent: QWidget | None = None, store: Any = None
    ) -> None:
        super().__init__("samdesk-import", parent)
        self.setWindowTitle("Import Annotations")
        self.project_file = Path(project_file)
        self.store = store
        self.format = QComboBox()
        for key, name in FORMATS.items():
            self.format.addItem(name, key)
        self.source_edit = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.source_edit, 1)
        row.addWidget(browse)
        self.image_root = QLineEdit()
        self.image_root.setPlaceholderText("Default: the JSON file's folder")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.import_button = self.buttons.addButton(
            "Import", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.import_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Format:", self.format)
        form.addRow("From:", row)
        form.addRow("COCO image folder:", self.image_root)
        form.addRow(self.progress)
        form.addRow(self.summary)
        form.addRow(self.buttons)
        self._rows = form
        self.format.currentIndexChanged.connect(
            lambda: form.setRowVisible(self.image_root, self.format.currentData() == "coco")
        )
        self._stage.connect(self.progress.setFormat)
        self.resize(600, 0)

    def _browse(self) -> None:
        if self.format.currentData() == "coco":
            path, _ = QFileDialog.getOpenFileName(self, "COCO file", "", "JSON (*.json)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Dataset folder")
        if path:
            self.source_edit.setText(path)

    def start(self) -> bool:
        """Run the import in the background; ``imported`` follows."""
        source = self.source_edit.text().strip()
        if self.running or not source:
            return False
        if getattr(self.store, "read_only", False):  # nothing may be written: say so now
            self._show_outcome(
                self.import_button,
                "The project is open read-only: nothing imported",
                False,
                "Not imported",
            )
            return False
        root = self.image_root.text().strip()
        self._run_job(
            self.import_button,
            "Importing…",
            read_import,
            self.format.currentData(),
            Path(source).expanduser(),
            Path(root).expanduser() if root else None,
            self._stage.emit,  # a signal emitted from the worker is queued to the GUI
        )
        return True

    def _on_job_done(self, result: Any, ok: bool) -> None:
        if ok:  # read: merge here, on the GUI thread, into the store the window edits
            self.progress.setFormat(f"Adding {len(result.images)} images to the project…")
            # The window waits for the merge (copies, one file per image): a busy cursor
            # says so, and no edit can slip in between the merge's writes.
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                store = self.store
                if store is None:
                    from samdesk.io.project import ProjectStore

                    store = ProjectStore.open(self.project_file)
                text = merge_result(store, result)
            except Exception as exc:  # reported like a read failure, never a crash
                text, ok = str(exc) or type(exc).__name__, False
            finally:
                QApplication.restoreOverrideCursor()
        else:
            text = result
        if not ok:
            text = f"Import failed: {text}"
        self._show_outcome(self.import_button, text, ok, "Not imported")
        self.imported.emit(text, ok)


def refresh_window(window: Any) -> None:
    """The window's store got an import (or part of one): its views follow it.

    Classes (panel, menu, annotator), the image list (new images, object counts), the
    engine's prefetch order and the objects on screen. The Classes panel's undo history
    is cleared: its class lists predate the import, and undoing one of them would leave
    imported objects pointing at a class that is gone.
    """
    from samdesk.ui.annotator import image_key

    store = window.controller.store
    if store is None:
        return
    panel = window.workflow.classes_panel
    panel.undo_stack.clear()
    panel._refill()
    panel.classes_changed.emit(list(store.project.classes))  # annotator, menu, canvas
    images = store.project.images
    window.image_list.model.set_images(images, [store.object_count(i) for i in range(len(images))])
    window.engine.set_images([image_key(store, record) for record in images])
    row = window.controller.current_row
    if row is not None:
        window.image_list.select_row(row)
    record = window.annotator.record
    if record is not None:
        window.annotator.document_changed.emit(record)
