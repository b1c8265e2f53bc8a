"""Start the window: QApplication, main window, optional project to open."""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

import samdesk

ORGANIZATION = "samdesk"
APPLICATION = "samdesk"


def ensure_app(argv: list[str] | None = None) -> QApplication:
    """The process's QApplication, created (with our names and icon) if there is none."""
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName(ORGANIZATION)
        QCoreApplication.setApplicationName(APPLICATION)
        QCoreApplication.setApplicationVersion(samdesk.__version__)
        # Settings as INI files: readable, and the same on every OS.
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        app = QApplication(argv if argv is not None else sys.argv[:1])
        icon = app_icon()
        if not icon.isNull():
            app.setWindowIcon(icon)
    assert isinstance(app, QApplication)
    return app


def app_icon() -> QIcon:
    from samdesk.ui.resources import resource_path

    path = resource_path("samdesk.svg")
    return QIcon(str(path)) if path.exists() else QIcon()


def run_gui(project: str | None = None, *, checkpoint: str | None = None) -> int:
    """Open the main window (on ``project`` if given) and run the event loop; exit code."""
    app = ensure_app()
    from samdesk.ui import gui_gc
    from samdesk.ui.main_window import MainWindow

    gui_gc.install(app)  # cycles holding widgets are freed on this thread, never a worker's

    window = MainWindow(checkpoint=checkpoint)
    window.show()
    if project:
        target = Path(project)
        # Open after the window is on screen, so a big project never delays the first paint.
        QTimer.singleShot(0, lambda: window.open_path(target))
    return leave_past_workers(app.exec())


def leave_past_workers(code: int) -> int:
    """Return ``code``, or end the process with it now if a daemon worker is still busy.

    Quitting waits only a moment for an encode in progress (``MainWindow.shutdown_timeout``):
    a forward pass cannot be interrupted. The worker is a daemon thread, but letting the
    interpreter finalise under it aborts the process: when the forward pass returns and the
    thread asks for the GIL of a finalising interpreter, CPython (< 3.14) ends it with
    ``pthread_exit``, whose forced unwinding through torch's C++ frames calls
    ``std::terminate`` ("terminate called without an active exception", exit status 134;
    with one torch thread too). Everything the user made is already on disk (every edit is
    saved as it is made; the window saved its layout on close) and the worker would only
    write a cache entry (atomically; a stale temporary file is removed on the next open), so
    the process ends without finalising: non-daemon threads are joined first, as the
    interpreter's exit would, then output is flushed and ``os._exit`` ends it.
    """
    main = threading.main_thread()
    busy = [t.name for t in threading.enumerate() if t is not main and t.daemon and t.is_alive()]
    if not busy:
        return code
    logging.getLogger(__name__).info("exiting while %s still run", ", ".join(busy))
    # The interpreter's own first exit step (joins non-daemon threads after telling idle
    # executor workers to stop); private, hence looked up defensively.
    join_non_daemon = getattr(threading, "_shutdown", None)
    if join_non_daemon is not None:
        join_non_daemon()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(code)
