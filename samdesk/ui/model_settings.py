"""Settings → Model: checkpoint file, device, precision, prefetching and the embedding cache.

Choosing a checkpoint loads it on a background thread (``samdesk.sam.load_model`` on the
CPU) to show what it is ("SAM ViT-B (768-d, …)") or, for a file that is no SAM model, the
loader's readable message; the dialog never blocks while a 2.5 GB file is read. ``accept``
stores everything in QSettings (``samdesk.ui.settings``); the window applies it at once
(``MainWindow.set_engine_options``).
"""

from __future__ import annotations

import dataclasses
import itertools
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
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from samdesk.ui import settings as user_settings
from samdesk.ui import theme
from samdesk.ui.bridge import FutureBridge

_DEVICE_NAMES = {"auto": "Automatic (best available)", "cpu": "CPU", "cuda": "CUDA (NVIDIA)"}
_DEVICE_NAMES["mps"] = "MPS (Apple)"
_PRECISION_NAMES = {"fp32": "Full (fp32)", "bf16": "bfloat16", "fp16": "float16"}


def describe_checkpoint(path: str) -> str:
    """What the checkpoint at ``path`` is (loads it on the CPU; slow for big files)."""
    from samdesk.sam import load_model

    model = load_model(path, device="cpu")
    return model.info.describe()


class ModelSettingsDialog(QDialog):
    """Signals: detected(str, bool): the checkpoint description or error, and success."""

    detected = Signal(str, bool)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        in_use: str | None = None,
        in_use_works: bool = False,
    ) -> None:
        """``in_use``: the checkpoint the window runs (``--checkpoint`` may differ from the
        saved one); shown instead of the saved one so that OK does not swap it silently.
        ``in_use_works``: it has loaded in the window, so OK need not wait for the check
        (changing only the device must not wait for a 2.5 GB file to be read again)."""
        super().__init__(parent)
        self.setWindowTitle("Model Settings")
        current = user_settings.model_settings()
        if in_use:
            current = dataclasses.replace(current, checkpoint=in_use)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="samdesk-inspect")
        self._bridge = FutureBridge(self)
        self._ids = itertools.count(1)
        self._wanted = 0
        self.checkpoint_ok: bool | None = None
        self._inspected: str | None = None  # the text whose check is shown or running
        self._works = in_use if in_use and in_use_works else None

        self.checkpoint_edit = QLineEdit(current.checkpoint or "")
        self.checkpoint_edit.setPlaceholderText("No model: manual tools only")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.checkpoint_edit, 1)
        row.addWidget(browse)
        self.arch_label = QLabel()
        self.arch_label.setWordWrap(True)
        self.device = QComboBox()
        for key in user_settings.DEVICES:
            self.device.addItem(_DEVICE_NAMES[key], key)
        self.device.setCurrentIndex(self.device.findData(current.device))
        self.precision = QComboBox()
        for key in user_settings.PRECISIONS:
            self.precision.addItem(_PRECISION_NAMES[key], key)
        self.precision.setCurrentIndex(self.precision.findData(current.precision))
        self.precision.setToolTip("Reduced precision speeds up the image encoder on a GPU")
        self.prefetch = QSpinBox(minimum=0, maximum=32, value=current.prefetch_count)
        self.prefetch.setToolTip("How many of the next images are encoded ahead of time")
        self.cache_size = QSpinBox(minimum=0, maximum=1_000_000, value=current.cache_size_mb)
        self.cache_size.setSuffix(" MB")
        self.cache_size.setSingleStep(256)
        self.cache_size.setToolTip("Embeddings kept in memory (one is about 4 MB)")
        self.cache_place = QComboBox()
        self.cache_place.addItem("User cache folder", "user")
        self.cache_place.addItem("Project folder (.samdesk/embeddings)", "project")
        self.cache_place.setCurrentIndex(self.cache_place.findData(current.cache_place))
        self.disk_cache = QSpinBox(minimum=0, maximum=100_000, value=current.disk_cache_gb)
        self.disk_cache.setSuffix(" GB")
        self.disk_cache.setSpecialValueText("No limit")
        self.disk_cache.setToolTip(
            "Embeddings kept on disk (about 2 MB each); the least recently used are deleted "
            "beyond this size"
        )
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        # OK only for a checkpoint that was read successfully (or none): a file that is no
        # SAM model is never saved over the working one.
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        form = QFormLayout(self)
        form.addRow("Checkpoint:", row)
        form.addRow("", self.arch_label)
        form.addRow("Device:", self.device)
        form.addRow("GPU precision:", self.precision)
        form.addRow("Prefetch images:", self.prefetch)
        form.addRow("Memory cache:", self.cache_size)
        form.addRow("Disk cache in:", self.cache_place)
        form.addRow("Disk cache limit:", self.disk_cache)
        form.addRow(QLabel("Changes apply at once: a new model is loaded in the background."))
        form.addRow(buttons)
        self.device.currentIndexChanged.connect(self._update_precision)
        self.checkpoint_edit.editingFinished.connect(self._inspect_if_changed)
        self.checkpoint_edit.textChanged.connect(self._on_text_changed)
        self._update_precision()
        self.resize(620, 0)
        self.inspect()

    def _update_precision(self) -> None:
        self.precision.setEnabled(self.device.currentData() != "cpu")

    def _browse(self) -> None:
        from samdesk.models import models_dir

        start = self.checkpoint_edit.text() or str(models_dir())
        path, _ = QFileDialog.getOpenFileName(
            self, "Checkpoint", start, "Checkpoints (*.pth *.pt);;All files (*)"
        )
        if path:
            self.set_checkpoint(path)

    def set_checkpoint(self, path: str) -> None:
        self.checkpoint_edit.setText(path)
        self.inspect()

    def _on_text_changed(self, text: str) -> None:
        if text.strip() != self._inspected:
            self._wanted = -1  # an answer for the previous text no longer applies
            self.checkpoint_ok = None
            self.ok_button.setEnabled(False)
            self.arch_label.setStyleSheet("")
            self.arch_label.setText("Press Enter to check this file.")

    def _inspect_if_changed(self) -> None:
        if self.checkpoint_edit.text().strip() != self._inspected:
            self.inspect()

    def inspect(self) -> None:
        """Detect the checkpoint's architecture in the background (newest request wins)."""
        path = self.checkpoint_edit.text().strip()
        self._inspected = path
        request = next(self._ids)
        self._wanted = request
        if not path:
            self._show("No checkpoint: the SAM tools stay off; polygon and brush work.", True)
            return
        if not Path(path).is_file():
            self._show(f"No such file: {path}", False)
            return
        known_good = path == self._works
        self.checkpoint_ok = True if known_good else None
        self.ok_button.setEnabled(known_good)
        self.arch_label.setStyleSheet("")
        self.arch_label.setText(
            "The model in use (reading its details…)" if known_good else "Reading the checkpoint…"
        )
        future = self._executor.submit(describe_checkpoint, path)
        self._bridge.watch(
            future,
            lambda text: self._on_result(request, text, True),
            lambda exc: self._on_result(request, _readable(exc), False),
        )

    def _on_result(self, request: int, text: str, ok: bool) -> None:
        if request == self._wanted:
            self._show(text, ok)

    def _show(self, text: str, ok: bool) -> None:
        self.checkpoint_ok = ok
        self.ok_button.setEnabled(ok)
        self.arch_label.setText(text)
        self.arch_label.setStyleSheet("" if ok else f"color:{theme.error_color().name()}")
        self.detected.emit(text, ok)

    def values(self) -> user_settings.ModelSettings:
        return user_settings.ModelSettings(
            checkpoint=self.checkpoint_edit.text().strip() or None,
            device=self.device.currentData(),
            precision=self.precision.currentData(),
            prefetch_count=self.prefetch.value(),
            cache_size_mb=self.cache_size.value(),
            cache_place=self.cache_place.currentData(),
            disk_cache_gb=self.disk_cache.value(),
        )

    def accept(self) -> None:
        """Save and close; refused (the reason stays under the field) unless the chosen
        checkpoint was read successfully."""
        if self.checkpoint_ok is not True:
            if self.checkpoint_ok is None:
                self.arch_label.setText("Reading the checkpoint… OK is possible once it is read.")
            return
        user_settings.save_model_settings(self.values())
        super().accept()

    def done(self, result: int) -> None:
        # Do not wait for a big checkpoint being read: its answer is simply dropped.
        self._wanted = -1
        self._executor.shutdown(wait=False, cancel_futures=True)
        super().done(result)

    def shutdown(self) -> None:
        """Join the inspection thread (tests; the app lets it finish on its own)."""
        self._executor.shutdown(wait=True, cancel_futures=True)


def _readable(exc: BaseException) -> str:
    """The loader's message (SamCheckpointError messages are written for users)."""
    text = str(exc).strip() or type(exc).__name__
    from samdesk.sam.errors import SamCheckpointError

    if isinstance(exc, SamCheckpointError):
        return text
    return f"Not usable as a SAM checkpoint: {text}"
