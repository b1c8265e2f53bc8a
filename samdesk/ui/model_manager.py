"""The model manager: the official checkpoints, downloaded into ``models_dir()``.

One download at a time runs on a background thread (``samdesk.models.download.download``):
its progress reaches the progress bar through a ``CallbackBridge``, Cancel sets the
downloader's cancel event (the ``.part`` file is kept, so Download resumes it), and a
checksum mismatch (the downloader deletes the file) is shown as the downloader words it.
"Use this model" makes the checkpoint the one the engine uses (the window switches at once).
"""

from __future__ import annotations

import platform
import shutil
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from samdesk.ui import settings as user_settings
from samdesk.ui import theme
from samdesk.ui.bridge import CallbackBridge, FutureBridge


def human_size(size: int | float) -> str:
    """ "40.7 MB", "2.56 GB"."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return (
                f"{size / scale:.3g} {unit}" if size < 100 * scale else f"{size / scale:.0f} {unit}"
            )
    return f"{int(size)} B"


def has_gpu() -> bool:
    """Whether a CUDA or MPS device is present — only to recommend a model.

    torch is asked when it is loaded already; otherwise the system is looked at directly,
    because importing torch here (on the GUI thread, often before any model was chosen)
    would freeze the window for seconds.
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        mps = getattr(torch.backends, "mps", None)
        return bool(torch.cuda.is_available() or (mps is not None and mps.is_available()))
    if sys.platform == "darwin":
        return platform.machine() == "arm64"  # Apple silicon: MPS
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


class ModelManagerDialog(QDialog):
    """Signals:
    download_finished(str, str): catalog key, and "" on success or the error message.
    progress_changed(int, object): bytes done, total bytes (None while unknown).
    model_chosen(str): "Use this model" set this checkpoint file.
    """

    download_finished = Signal(str, str)
    progress_changed = Signal(int, object)
    model_chosen = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        checkpoints: list[Any] | None = None,
        gpu: bool | None = None,
    ) -> None:
        super().__init__(parent)
        from samdesk.models import catalog

        self.setWindowTitle("Model Manager")
        # Read through the module so tests can point the catalog at a local server.
        self.checkpoints = list(
            checkpoints if checkpoints is not None else catalog.OFFICIAL_CHECKPOINTS
        )
        self.gpu = has_gpu() if gpu is None else gpu
        recommended = next(
            (
                c
                for c in self.checkpoints
                if (c.recommended_with_gpu if self.gpu else c.recommended_without_gpu)
            ),
            None,
        )
        self.recommended_key = recommended.key if recommended is not None else None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="samdesk-download")
        self._futures = FutureBridge(self)
        self._calls = CallbackBridge(self)
        self._cancel: threading.Event | None = None
        self.active_key: str | None = None
        app = QCoreApplication.instance()
        if app is not None:
            # Quitting with the dialog open: the download stops instead of holding the
            # interpreter's exit (its executor thread is joined at exit).
            app.aboutToQuit.connect(self.cancel_download)

        from samdesk.models import models_dir

        where = QLabel(f"Models are stored in {models_dir()}")
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        hint = (
            "A GPU was found: SAM ViT-H (★) gives the best masks."
            if self.gpu
            else "No GPU found: MobileSAM (★) is recommended — it is interactive on a CPU."
        )
        self.hint = QLabel(hint)
        self.table = QTableWidget(len(self.checkpoints), 3)
        self.table.setHorizontalHeaderLabels(["Model", "Size", "Status"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.download_button = QPushButton("Download")
        self.cancel_button = QPushButton("Cancel Download")
        self.use_button = QPushButton("Use This Model")
        close = QPushButton("Close")
        self.download_button.clicked.connect(lambda: self.start_download(self.selected_key()))
        self.cancel_button.clicked.connect(self.cancel_download)
        self.use_button.clicked.connect(lambda: self.use_model(self.selected_key()))
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        for button in (self.download_button, self.cancel_button, self.use_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.table)
        layout.addWidget(self.description)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(where)
        from samdesk.ui.model_offline import OfflinePanel

        self.offline = OfflinePanel(self)  # a file from elsewhere, the folder, URL + SHA-256
        layout.addWidget(self.offline)
        layout.addLayout(buttons)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.progress_changed.connect(self._show_progress)
        self._fill()
        default = next(
            (i for i, c in enumerate(self.checkpoints) if c.key == self.recommended_key), 0
        )
        if self.checkpoints:
            self.table.selectRow(default)
        self.resize(760, 520)

    # ----- table ---------------------------------------------------------------------------
    def _fill(self) -> None:
        chosen = user_settings.checkpoint()
        for row, c in enumerate(self.checkpoints):
            star = " ★" if c.key == self.recommended_key else ""
            name = QTableWidgetItem(c.display_name + star)
            name.setData(Qt.ItemDataRole.UserRole, c.key)
            name.setToolTip(c.description)
            self.table.setItem(row, 0, name)
            self.table.setItem(row, 1, QTableWidgetItem(human_size(c.size)))
            self.table.setItem(row, 2, QTableWidgetItem(self.state_text(c, chosen)))

    def state_text(self, checkpoint: Any, chosen: str | None = None) -> str:
        from samdesk.models.download import part_path

        if checkpoint.key == self.active_key:
            return "Downloading…"
        offline = getattr(self, "offline", None)  # built after the table's first fill
        if offline is not None and checkpoint.key in offline.problems:
            return offline.problems[checkpoint.key]
        if checkpoint.is_installed():
            in_use = chosen is not None and Path(chosen) == checkpoint.local_path()
            return "Installed, in use" if in_use else "Installed"
        part = part_path(checkpoint.local_path())
        if part.is_file():
            return f"Partly downloaded ({human_size(part.stat().st_size)})"
        from samdesk.models.local_file import not_installed_reason

        return not_installed_reason(checkpoint) or "Not installed"

    def selected_key(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)

    def checkpoint(self, key: str | None) -> Any:
        return next((c for c in self.checkpoints if c.key == key), None)

    def select(self, key: str) -> None:
        for row, c in enumerate(self.checkpoints):
            if c.key == key:
                self.table.selectRow(row)

    def _update_buttons(self) -> None:
        c = self.checkpoint(self.selected_key())
        busy = self.active_key is not None
        offline = getattr(self, "offline", None)
        installed = c is not None and c.is_installed()
        if installed and offline is not None and c.key in offline.problems:
            installed = False  # the right size, the wrong checksum
        # A file that is not the published one lies where the download would go: it is
        # not samdesk's to replace (the downloader renames over it), so no Download.
        foreign = c is not None and not installed and c.local_path().exists()
        self.download_button.setEnabled(c is not None and not busy and not installed)
        if foreign:
            self.download_button.setEnabled(False)
            self.download_button.setToolTip(
                f"Another {c.file_name} is in the models folder; move it away to download"
            )
        else:
            self.download_button.setToolTip("")
        self.cancel_button.setEnabled(busy)
        self.use_button.setEnabled(installed)
        self.description.setText(c.description if c is not None else "")
        if c is not None and not busy and not installed:
            from samdesk.models.download import part_path

            resume = part_path(c.local_path()).is_file()
            self.download_button.setText("Resume Download" if resume else "Download")

    # ----- downloading ---------------------------------------------------------------------
    def start_download(self, key: str | None) -> bool:
        """Download (or resume) the checkpoint ``key`` in the background."""
        from samdesk.models import download as download_module
        from samdesk.models.download import part_path

        c = self.checkpoint(key)
        if c is None or self.active_key is not None:
            return False
        offline = getattr(self, "offline", None)
        usable = c.is_installed() and not (offline is not None and c.key in offline.problems)
        if c.local_path().exists() and not usable:
            self._say(
                f"Another {c.file_name} is in the models folder (not the published file). "
                "Move it away (Open Models Folder) to download; samdesk does not replace it.",
                error=True,
            )
            return False
        self.active_key = c.key
        self._cancel = threading.Event()
        part = part_path(c.local_path())
        done = part.stat().st_size if part.is_file() else 0
        self._say(
            f"Resuming {c.display_name} from {human_size(done)}…"
            if done
            else f"Downloading {c.display_name}…"
        )
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * done / c.size) if c.size else 0)
        self.progress.show()
        progress = self._calls.wrap(self.progress_changed.emit)
        future = self._executor.submit(
            download_module.download,
            c.url,
            c.local_path(),
            sha256=c.sha256,
            expected_size=c.size,
            progress=progress,
            cancel=self._cancel,
        )
        self._futures.watch(
            future, lambda _p: self._finished(c, "", ok=True), lambda e: self._failed(c, e)
        )
        self._fill()
        self._update_buttons()
        return True

    def cancel_download(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self._say("Cancelling…")

    def _show_progress(self, done: int, total: int | None) -> None:
        if self.active_key is None:
            return
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{human_size(done)} of {human_size(total)} (%p%)")
        else:
            self.progress.setRange(0, 0)  # busy indicator: the size is unknown
        self.last_progress = (done, total)

    def _failed(self, c: Any, exc: BaseException) -> None:
        from samdesk.models import DownloadCancelled

        if isinstance(exc, DownloadCancelled):
            from samdesk.models.download import part_path

            part = part_path(c.local_path())
            kept = part.stat().st_size if part.is_file() else 0
            self.progress.setValue(int(1000 * kept / c.size) if c.size else 0)
            self.progress.setFormat(f"{human_size(kept)} of {human_size(c.size)} kept")
            message = "Download cancelled. The part already downloaded is kept: resume it later."
        else:
            message = str(exc) or type(exc).__name__
        self._finished(c, message, ok=False, error=not isinstance(exc, DownloadCancelled))

    def _finished(self, c: Any, message: str, *, ok: bool, error: bool = False) -> None:
        self.active_key = None
        self._cancel = None
        if ok:
            self.progress.setValue(1000)
            message = f"{c.display_name} is installed and verified."
            if c.sha256:  # the downloader checked it: never read in full again
                from samdesk.models.local_file import remember_sha256

                remember_sha256(c.local_path(), c.sha256)
                self.offline.problems.pop(c.key, None)
        self._say(message, error=error)
        self._fill()
        self._update_buttons()
        self.download_finished.emit(c.key, "" if ok else message)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color:{theme.error_color().name()}" if error else "")

    # ----- choosing ------------------------------------------------------------------------
    def use_model(self, key: str | None) -> None:
        c = self.checkpoint(key)
        if c is None or not c.is_installed() or c.key in self.offline.problems:
            return
        path = str(c.local_path())
        user_settings.set_checkpoint(path)
        self._say(f"{c.display_name} will be used from now on.")
        self._fill()
        self.model_chosen.emit(path)

    # ----- closing -------------------------------------------------------------------------
    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)

    def shutdown(self) -> None:
        """Cancel a running download (its ``.part`` is kept); never waits for it.

        The downloader shuts its socket down when cancelled, so its thread ends within a
        fraction of a second on its own; the GUI thread does not join it.
        """
        self.cancel_download()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.offline.shutdown()
