"""The Import dialog: a COCO file or a YOLO dataset merged into the open project.

Runs on a background thread with its own ``ProjectStore`` (the window's store is not
thread-safe; the window autosaves, so the files are current). The merge is the one of
``samdesk import`` (``samdesk.io.cli._merge``): classes matched by name, images outside the
project copied in, objects already present not added twice. Afterwards the window reopens
the project to show the result (``imported`` signal).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QWidget,
)

from samdesk.ui import theme
from samdesk.ui.bridge import FutureBridge

FORMATS = {"coco": "COCO JSON file", "yolo": "YOLO dataset (data.yaml or its folder)"}


def run_import(
    project_file: Path,
    fmt: str,
    source: Path,
    image_root: Path | None = None,
    stage: Callable[[str], None] | None = None,
) -> str:
    """Merge ``source`` into the project at ``project_file``; returns the summary (no Qt)."""
    from samdesk.io.cli import _merge  # the CLI's merge: one behaviour for both front ends
    from samdesk.io.coco import import_coco
    from samdesk.io.project import ProjectStore
    from samdesk.io.yolo import import_yolo

    if stage is not None:
        stage(f"Reading {source.name}…")
    if fmt == "coco":
        result = import_coco(source, image_root=image_root)
    else:
        result = import_yolo(source)
    if stage is not None:
        stage(f"Adding {len(result.images)} images to the project…")
    store = ProjectStore.open(project_file)
    images, objects, skipped = _merge(store, result)
    lines = [
        f"imported {images} images, {objects} objects; skipped {len(skipped)} images",
        *(f"  skipped: {s}" for s in skipped),
        *(f"  warning: {w}" for w in [*result.warnings, *store.warnings]),
    ]
    return "\n".join(lines)


class ImportDialog(QDialog):
    """Signals: imported(str, bool): the summary (or error) and success."""

    imported = Signal(str, bool)
    _stage = Signal(str)

    def __init__(self, project_file: str | Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import Annotations")
        self.project_file = Path(project_file)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="samdesk-import")
        self._futures = FutureBridge(self)
        self.running = False
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
        self.progress = QProgressBar()
        self.progress.hide()
        self.summary = QPlainTextEdit(readOnly=True)
        self.summary.setMaximumHeight(140)
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
            path = QFileDialog.getExistingDirectory(self, "YOLO dataset folder")
        if path:
            self.source_edit.setText(path)

    def start(self) -> bool:
        """Run the import in the background; ``imported`` follows."""
        source = self.source_edit.text().strip()
        if self.running or not source:
            return False
        self.running = True
        self.import_button.setEnabled(False)
        self.progress.setRange(0, 0)  # the formats report no progress: a busy bar
        self.progress.show()
        self.summary.setStyleSheet("")
        self.summary.setPlainText("Importing…")
        root = self.image_root.text().strip()
        future = self._executor.submit(
            run_import,
            self.project_file,
            self.format.currentData(),
            Path(source).expanduser(),
            Path(root).expanduser() if root else None,
            self._stage.emit,  # a signal emitted from the worker is queued to the GUI
        )
        self._futures.watch(future, lambda text: self._done(text, True), self._error)
        return True

    def _error(self, exc: BaseException) -> None:
        text = str(exc) or type(exc).__name__
        self._done(f"Import failed: {text}", False)

    def _done(self, text: str, ok: bool) -> None:
        self.running = False
        self.import_button.setEnabled(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if ok else 0)
        self.progress.setFormat("Done" if ok else "Not imported")
        self.summary.setPlainText(text)
        self.summary.setStyleSheet("" if ok else f"color:{theme.error_color().name()}")
        self.imported.emit(text, ok)

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
