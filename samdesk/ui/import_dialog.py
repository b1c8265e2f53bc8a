"""The Import dialog: a COCO file or a YOLO dataset merged into the open project.

Runs on a background thread with its own ``ProjectStore`` (the window's store is not
thread-safe; the window autosaves, so the files are current). The merge is the one of
``samdesk import`` (``samdesk.io.cli.merge_import``): classes matched by name, images outside the
project copied in, objects already present not added twice. Afterwards the window reopens
the project to show the result (``imported`` signal).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
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


def run_import(
    project_file: Path,
    fmt: str,
    source: Path,
    image_root: Path | None = None,
    stage: Callable[[str], None] | None = None,
) -> str:
    """Merge ``source`` into the project at ``project_file``; returns the summary (no Qt)."""
    from samdesk.io.cli import merge_import  # the CLI's merge: one behaviour for both
    from samdesk.io.importers import import_dataset
    from samdesk.io.project import ProjectStore

    if stage is not None:
        stage(f"Reading {source.name}…")
    result = import_dataset(fmt, source, image_root=image_root if fmt == "coco" else None)
    if stage is not None:
        stage(f"Adding {len(result.images)} images to the project…")
    store = ProjectStore.open(project_file)
    images, objects, skipped = merge_import(store, result)
    lines = [
        f"imported {images} images, {objects} objects; skipped {len(skipped)} images",
        *(f"  skipped: {s}" for s in skipped),
        *(f"  warning: {w}" for w in [*result.warnings, *store.warnings]),
    ]
    return "\n".join(lines)


class ImportDialog(BackgroundJobDialog):
    """Signals: imported(str, bool): the summary (or error) and success."""

    imported = Signal(str, bool)
    _stage = Signal(str)

    def __init__(self, project_file: str | Path, parent: QWidget | None = None) -> None:
        super().__init__("samdesk-import", parent)
        self.setWindowTitle("Import Annotations")
        self.project_file = Path(project_file)
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
        root = self.image_root.text().strip()
        self._run_job(
            self.import_button,
            "Importing…",
            run_import,
            self.project_file,
            self.format.currentData(),
            Path(source).expanduser(),
            Path(root).expanduser() if root else None,
            self._stage.emit,  # a signal emitted from the worker is queued to the GUI
        )
        return True

    def _on_job_done(self, text: str, ok: bool) -> None:
        if not ok:
            text = f"Import failed: {text}"
        self._show_outcome(self.import_button, text, ok, "Not imported")
        self.imported.emit(text, ok)
