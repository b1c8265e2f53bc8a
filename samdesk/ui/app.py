"""Start the window: QApplication, main window, optional project to open."""

from __future__ import annotations

import sys
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
    from samdesk.ui.main_window import MainWindow

    window = MainWindow(checkpoint=checkpoint)
    window.show()
    if project:
        target = Path(project)
        # Open after the window is on screen, so a big project never delays the first paint.
        QTimer.singleShot(0, lambda: window.open_path(target))
    return app.exec()
