"""The Qt part of ``samdesk --selftest`` (``samdesk.selftest`` itself may not import Qt).

Opens the real main window, lets it paint, grabs it to an image, and checks that the Qt
plugins a bundle needs are there (the platform, JPEG/PNG/SVG image formats, SVG icons).
"""

from __future__ import annotations

from pathlib import Path

# Image formats the app reads (photos) and draws (SVG icons); each is a Qt plugin in a
# bundle, so a missing one means the bundle left it out.
NEEDED_IMAGE_FORMATS = ("jpeg", "png", "svg")


def check_window(settings_dir: Path) -> str:
    """Create, show, paint and grab the main window; a one-line detail for the report.

    Settings are redirected into ``settings_dir`` first: the window saves its layout on
    close, and a self-test must not change the user's.
    """
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtGui import QGuiApplication, QIcon, QImageReader

    from samdesk.ui.app import ensure_app
    from samdesk.ui.main_window import MainWindow
    from samdesk.ui.resources import resource_path

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(settings_dir))
    ensure_app()

    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    missing = [f for f in NEEDED_IMAGE_FORMATS if f not in formats]
    if missing:
        raise AssertionError(f"Qt image formats missing: {', '.join(missing)}")

    icons = sorted(resource_path("__init__.py").parent.glob("*.svg"))
    if icons and QIcon(str(icons[0])).pixmap(32, 32).isNull():
        raise AssertionError(f"SVG icon {icons[0].name} does not render (iconengines plugin?)")

    window = MainWindow()
    try:
        window.show()
        QCoreApplication.processEvents()
        image = window.grab().toImage()
        if image.isNull() or image.width() == 0 or image.height() == 0:
            raise AssertionError("the window grabbed to an empty image")
        size = f"{image.width()}x{image.height()}"
    finally:
        window.close()
        window.deleteLater()
        QCoreApplication.processEvents()
    platform_name = QGuiApplication.platformName()
    return f"MainWindow {size} on '{platform_name}', image formats ok, {len(icons)} SVG icons"
