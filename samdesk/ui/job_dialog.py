"""A dialog that runs one job at a time on a background thread (export, import).

The job is a plain function returning a summary text; it runs on the dialog's own
single-worker executor and its outcome reaches the GUI thread through a FutureBridge. The
dialog shows a busy bar while it runs, then the summary (in the error colour on failure).
Closing the dialog joins the worker, so no thread outlives it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtWidgets import QDialog, QPlainTextEdit, QProgressBar, QPushButton, QWidget

from samdesk.ui import theme
from samdesk.ui.bridge import FutureBridge


class BackgroundJobDialog(QDialog):
    """Base of the export and import dialogs: ``progress`` and ``summary`` for the form,
    ``_run_job`` to start, ``_on_job_done(text, ok)`` for the subclass to finish."""

    def __init__(self, thread_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._futures = FutureBridge(self)
        self.running = False
        self.progress = QProgressBar()
        self.progress.hide()
        self.summary = QPlainTextEdit(readOnly=True)
        self.summary.setMaximumHeight(140)

    def _run_job(
        self, button: QPushButton, busy_text: str, job: Callable[..., str], *args: Any
    ) -> None:
        """Start ``job(*args)`` in the background; ``button`` is disabled until it ends."""
        self.running = True
        button.setEnabled(False)
        self.progress.setRange(0, 0)  # a busy bar until the job reports progress, if ever
        self.progress.show()
        self.summary.setStyleSheet("")
        self.summary.setPlainText(busy_text)
        future = self._executor.submit(job, *args)
        self._futures.watch(future, lambda text: self._on_job_done(text, True), self._on_job_failed)

    def _on_job_failed(self, exc: BaseException) -> None:
        self._on_job_done(str(exc) or type(exc).__name__, False)

    def _on_job_done(self, text: str, ok: bool) -> None:
        raise NotImplementedError

    def _show_outcome(self, button: QPushButton, text: str, ok: bool, failed: str) -> None:
        """The job ended: re-enable ``button``, show ``text`` (``failed`` on the bar if not ok)."""
        self.running = False
        button.setEnabled(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if ok else 0)
        self.progress.setFormat("Done" if ok else failed)
        self.summary.setPlainText(text)
        self.summary.setStyleSheet("" if ok else f"color:{theme.error_color().name()}")

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)

    def shutdown(self) -> None:
        """Cancel a job not yet started and join the worker."""
        self._executor.shutdown(wait=True, cancel_futures=True)
