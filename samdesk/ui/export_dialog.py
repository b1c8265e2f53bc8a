"""The Export dialog: COCO, YOLO segmentation or YOLO detection, with the formats' options.

The export runs on a background thread on its own ``ProjectStore`` opened from the project
file: the window autosaves every edit, so the files on disk are the current state, and the
window's store (not thread-safe) is never touched from another thread. Progress counts the
images whose annotations were read; the summary lists images, objects and what was skipped
with the reasons (``ExportReport.summary``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from samdesk.io.export import ExportCancelled, ExportOptions, export_project
from samdesk.ui.bridge import CallbackBridge
from samdesk.ui.job_dialog import BackgroundJobDialog

FORMATS = {"coco": "COCO (instance segmentation JSON)", "yolo-seg": "YOLO segmentation"}
FORMATS["yolo-det"] = "YOLO detection (boxes)"
FORMATS["labelme"] = "LabelMe JSON (one file per image; no holes)"
FORMATS["masks-png"] = "Masks as PNG (semantic palette + 16-bit instance)"
FORMATS["voc"] = "Pascal VOC detection XML (boxes)"


def run_export(
    project_file: Path,
    options: ExportOptions,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> str:
    """Export the project at ``project_file``; returns the summary text (no Qt here)."""
    from samdesk.io.project import ProjectStore

    store = ProjectStore.open(project_file)
    report = export_project(store, options, progress, cancel)
    # The full report (what was written, each skipped or changed object and why), the same
    # text as the export-report.txt written beside the export.
    lines = [report.text().rstrip("\n"), *(f"  warning: {w}" for w in store.warnings)]
    return "\n".join(lines)


class ExportDialog(BackgroundJobDialog):
    """Signals: finished_export(str, bool): the summary (or error) and success."""

    finished_export = Signal(str, bool)
    progress_changed = Signal(int, int)

    def __init__(self, project_file: str | Path, parent: QWidget | None = None) -> None:
        super().__init__("samdesk-export", parent)
        self.setWindowTitle("Export")
        self.project_file = Path(project_file)
        self._calls = CallbackBridge(self)
        self._cancel: threading.Event | None = None
        self.format = QComboBox()
        for key, name in FORMATS.items():
            self.format.addItem(name, key)
        self.out_edit = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)
        self.segmentation = QComboBox()
        self.segmentation.addItem("Polygons, RLE for objects with holes", "auto")
        self.segmentation.addItem("Polygons", "polygon")
        self.segmentation.addItem("RLE masks", "rle")
        self.val_fraction = QDoubleSpinBox(minimum=0.0, maximum=0.95, singleStep=0.05, value=0.0)
        self.val_fraction.setToolTip("Share of images in the validation split (0: one split)")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.overwrite = QCheckBox("Replace a previous export in that folder")
        self.overwrite.setToolTip(
            "Only files a previous samdesk export wrote there (listed in its "
            ".samdesk-export.json) are replaced, once the new export is complete"
        )
        self.only_done = QCheckBox("Only images marked done")
        self.summary.setPlaceholderText("The summary appears here after the export.")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton(
            "Export", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.cancel_button = self.buttons.addButton(
            "Cancel Export", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.cancel_button.setEnabled(False)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Format:", self.format)
        form.addRow("Write to:", out_row)
        form.addRow("Segmentation:", self.segmentation)
        form.addRow("Validation share:", self.val_fraction)
        form.addRow("Split seed:", self.seed)
        form.addRow("", self.overwrite)
        form.addRow("", self.only_done)
        form.addRow(self.progress)
        form.addRow(self.summary)
        form.addRow(self.buttons)
        self._rows = form
        self.format.currentIndexChanged.connect(self._on_format)
        self.progress_changed.connect(self._on_progress)
        self._on_format()
        self.resize(620, 0)

    def _default_out(self, key: str) -> Path:
        # Beside the project folder, not in it: exports into the project are refused
        # (the copied images would be scanned as new project images).
        root = self.project_file.parent
        folder = root.parent / f"{root.name}_export"
        return folder / ("coco.json" if key == "coco" else key.replace("-", "_"))

    def _on_format(self) -> None:
        key = self.format.currentData()
        coco = key == "coco"
        for widget in (self.segmentation,):
            self._rows.setRowVisible(widget, coco)
        yolo = key in ("yolo-seg", "yolo-det")
        for widget in (self.val_fraction, self.seed):
            self._rows.setRowVisible(widget, yolo)
        self._rows.setRowVisible(self.overwrite, not coco)
        current = self.out_edit.text().strip()
        if not current or current in {str(self._default_out(k)) for k in FORMATS}:
            self.out_edit.setText(str(self._default_out(key)))

    def _browse(self) -> None:
        if self.format.currentData() == "coco":
            path, _ = QFileDialog.getSaveFileName(
                self, "COCO file", self.out_edit.text(), "JSON (*.json)"
            )
        else:
            path = QFileDialog.getExistingDirectory(self, "Dataset folder", self.out_edit.text())
        if path:
            self.out_edit.setText(path)

    def options(self) -> ExportOptions:
        return ExportOptions(
            format=self.format.currentData(),
            out=Path(self.out_edit.text().strip()).expanduser(),
            segmentation=self.segmentation.currentData(),
            val_fraction=self.val_fraction.value(),
            seed=self.seed.value(),
            only_done=self.only_done.isChecked(),
            overwrite=self.overwrite.isChecked(),
        )

    def set_format(self, key: str) -> None:
        self.format.setCurrentIndex(self.format.findData(key))

    # ----- running -------------------------------------------------------------------------
    def start(self) -> bool:
        """Run the export in the background; ``finished_export`` follows."""
        if self.running or not self.out_edit.text().strip():
            return False
        self._cancel = threading.Event()
        self.cancel_button.setEnabled(True)
        self._run_job(
            self.export_button,
            "Exporting…",
            run_export,
            self.project_file,
            self.options(),
            self._calls.wrap(self.progress_changed.emit),
            self._cancel,
        )
        return True

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"Reading annotations: {done} of {total} images")

    def _on_job_failed(self, exc: BaseException) -> None:
        text = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and exc.strerror:
            text = f"{exc.filename or ''}: {exc.strerror}".lstrip(": ")
        ok = False
        self._on_job_done(
            text if isinstance(exc, ExportCancelled) else f"Export failed: {text}", ok
        )

    def _on_job_done(self, text: str, ok: bool) -> None:
        self._cancel = None
        self.cancel_button.setEnabled(False)
        self._show_outcome(self.export_button, text, ok, "Not exported")
        self.finished_export.emit(text, ok)

    def shutdown(self) -> None:
        """Cancel a running export and join its thread."""
        self.cancel()
        super().shutdown()
