"""Unexpected exceptions: logged to a file, reported once in the window, never a crash.

``ErrorReporter.install()`` replaces ``sys.excepthook`` and ``threading.excepthook``. Each
unexpected exception is appended (with its traceback) to
``user_data_dir()/logs/samdesk.log``; the first one of the session is also announced in the
window through ``unexpected_error`` (later ones only go to the file and the log panel, so a
failure in a paint handler does not flood the user with messages). A worker thread's
exception reaches the GUI thread through a queued signal.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal

LOG_FILE = "samdesk.log"


def log_dir() -> Path:
    """Folder of the log files: ``user_data_dir()/logs`` (created on first write)."""
    from samdesk.models import user_data_dir

    return Path(user_data_dir()) / "logs"


class ErrorReporter(QObject):
    """Signals:
    unexpected_error(str, bool): a one-line message, and whether it is the first one.
    """

    unexpected_error = Signal(str, bool)
    _raised = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.count = 0
        self.log_path = log_dir() / LOG_FILE
        self._previous: tuple = ()
        self._lock = threading.Lock()
        self._raised.connect(self._announce, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        """Take over ``sys.excepthook`` and ``threading.excepthook`` (``uninstall`` undoes)."""
        if not self._previous:
            self._previous = (sys.excepthook, threading.excepthook)
            sys.excepthook = self._sys_hook
            threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        if self._previous:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = ()

    # ----- hooks (any thread) --------------------------------------------------------------
    def _sys_hook(
        self,
        kind: type[BaseException],
        value: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        self.handle(value, tb, "main thread")

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        self.handle(args.exc_value, args.exc_traceback, name)

    def handle(
        self, exc: BaseException, tb: TracebackType | None = None, where: str = "main thread"
    ) -> None:
        """Log ``exc`` to the file and announce it (thread-safe; never raises)."""
        text = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
        try:
            with self._lock:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.log_path, "a", encoding="utf-8") as out:
                    out.write(f"--- unexpected error in {where}\n{text}\n")
        except OSError as error:  # even a read-only disk must not turn this into a crash
            logging.getLogger(__name__).error("could not write %s: %s", self.log_path, error)
        logging.getLogger("samdesk").error("unexpected error in %s\n%s", where, text)
        message = f"Unexpected error ({type(exc).__name__}: {exc}); details in {self.log_path}"
        self._raised.emit(message)

    def _announce(self, message: str) -> None:
        self.count += 1
        self.unexpected_error.emit(message, self.count == 1)
