"""The Model Manager's offline part: for a machine without (fast) internet.

* "Use a File I Already Have…": pick a checkpoint downloaded elsewhere; it is checked
  against the catalog's published size and SHA-256 on a worker thread and *copied* into
  the models folder (``samdesk.models.local_file``); the user's file is never moved.
* "Open Models Folder": the folder in the system's file manager.
* The selected model's download address and SHA-256, selectable and copyable, for
  downloading it on another machine.
* Files of the right size in the models folder are checked against the published SHA-256
  in the background once (remembered by size and time); a mismatch is shown in the
  table ("checksum mismatch") and the file is not offered for use.

``OfflinePanel(dialog)`` is added to a ``ModelManagerDialog`` by the dialog itself.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from samdesk.ui.bridge import CallbackBridge, FutureBridge


class OfflinePanel(QWidget):
    """Signals: local_finished(str, str): catalog key, "" on success or the reason.
    progress(int, int): bytes checked, bytes in all (while verifying a local file).
    checked(): the background check of the installed files is done (``problems``)."""

    local_finished = Signal(str, str)
    progress = Signal(int, int)
    checked = Signal()

    def __init__(self, dialog: Any) -> None:
        super().__init__(dialog)
        self.dialog = dialog
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="samdesk-verify")
        self._futures = FutureBridge(self)
        self._calls = CallbackBridge(self)
        self._cancel = threading.Event()
        self.busy_key: str | None = None
        self.problems: dict[str, str] = {}  # catalog key → why its file is not usable
        self.url = QLineEdit(readOnly=True)
        self.sha256 = QLineEdit(readOnly=True)
        self.sha256.setToolTip("Check the file with: sha256sum FILE  (macOS: shasum -a 256 FILE)")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the address and the SHA-256")
        self.copy_button.clicked.connect(self.copy_details)
        self.local_button = QPushButton("Use a File I Already Have…")
        self.local_button.setToolTip(
            "A checkpoint downloaded on another machine: checked and copied into the models "
            "folder (your file stays where it is)"
        )
        self.folder_button = QPushButton("Open Models Folder")
        self.local_button.clicked.connect(self._choose_file)
        self.folder_button.clicked.connect(self.open_models_folder)
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(self.copy_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.local_button)
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Download address:", url_row)
        form.addRow("SHA-256:", self.sha256)
        form.addRow(buttons)
        self.progress.connect(self._show_progress)
        dialog.table.itemSelectionChanged.connect(self.refresh)
        self.refresh()
        self.check_installed()

    def check_installed(self) -> None:
        """Check the SHA-256 of the files that look installed (size), in the background."""
        from samdesk.models.local_file import checksum_problem

        def check_all() -> dict[str, str]:
            found = {}
            for c in self.dialog.checkpoints:
                if c.is_installed():
                    why = checksum_problem(c, self._cancel)
                    if why:
                        found[c.key] = why
            return found

        self._futures.watch(self._executor.submit(check_all), self._on_checked, lambda _exc: None)

    def _on_checked(self, problems: dict[str, str]) -> None:
        self.problems = problems
        self.dialog._fill()
        self.dialog._update_buttons()
        self.checked.emit()

    def refresh(self) -> None:
        """Show the selected model's address and checksum; enable what applies."""
        c = self.dialog.checkpoint(self.dialog.selected_key())
        self.url.setText(c.url if c is not None else "")
        self.sha256.setText((c.sha256 or "(none published)") if c is not None else "")
        self.url.setCursorPosition(0)
        self.local_button.setEnabled(c is not None and self.busy_key is None)
        self.copy_button.setEnabled(c is not None)

    def copy_details(self) -> str:
        c = self.dialog.checkpoint(self.dialog.selected_key())
        if c is None:
            return ""
        text = f"{c.url}\nSHA-256 {c.sha256 or '(none published)'}  {c.file_name}\n"
        QGuiApplication.clipboard().setText(text)
        self.dialog._say("Address and SHA-256 copied.")
        return text

    def open_models_folder(self) -> Path:
        from samdesk.models import models_dir

        folder = models_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
        return folder

    def _choose_file(self) -> None:
        c = self.dialog.checkpoint(self.dialog.selected_key())
        if c is None:
            return
        path, _ = QFileDialog.getOpenFileName(
            self,
            f"The {c.display_name} file ({c.file_name})",
            str(Path.home()),
            "Checkpoints (*.pth *.pt);;All files (*)",
        )
        if path:
            self.use_local_file(c.key, path)

    def use_local_file(self, key: str, path: str | Path) -> bool:
        """Check ``path`` against catalog entry ``key`` and copy it into place (background)."""
        from samdesk.models.local_file import install_local_file

        c = self.dialog.checkpoint(key)
        if c is None or self.busy_key is not None or self.dialog.active_key is not None:
            return False
        self.busy_key = key
        self.refresh()
        self.dialog._say(f"Checking {Path(path).name} against the published SHA-256…")
        self.dialog.progress.setRange(0, 1000)
        self.dialog.progress.setValue(0)
        self.dialog.progress.show()
        report = self._calls.wrap(self.progress.emit)
        future = self._executor.submit(install_local_file, path, c, report, self._cancel)
        self._futures.watch(
            future,
            lambda _dest: self._done(c, Path(path), ""),
            lambda exc: self._done(c, Path(path), str(exc) or type(exc).__name__),
        )
        return True

    def _show_progress(self, done: int, total: int) -> None:
        if self.busy_key is not None and total:
            self.dialog.progress.setValue(int(1000 * done / total))
            self.dialog.progress.setFormat("Checking… %p%")

    def _done(self, c: Any, source: Path, error: str) -> None:
        self.busy_key = None
        if not error:
            self.problems.pop(c.key, None)
        if error:
            self.dialog._say(error, error=True)
        else:
            self.dialog.progress.setValue(1000)
            self.dialog.progress.setFormat("Verified")
            self.dialog._say(
                f"{c.display_name} is installed and verified (copied from {source}; "
                "your file was left where it is)."
            )
        self.dialog._fill()
        self.dialog._update_buttons()
        self.refresh()
        self.local_finished.emit(c.key, error)

    def shutdown(self) -> None:
        """Stop a check in progress and join the thread."""
        self._cancel.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
