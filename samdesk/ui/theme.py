"""Light and dark: follow the system's colour scheme, and keep our own colours readable.

Qt 6 reports the system scheme through ``QStyleHints.colorScheme`` and updates the
palette itself; the only colours samdesk chooses are class colours (user data, drawn as
swatches with a contrasting text) and the info banner, which are derived here from the
current palette so they read well on both.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette


def is_dark() -> bool:
    """Whether the application currently uses a dark palette."""
    app = QGuiApplication.instance()
    if app is None:
        return False
    scheme = QGuiApplication.styleHints().colorScheme()
    if scheme != Qt.ColorScheme.Unknown:
        return scheme == Qt.ColorScheme.Dark
    # Platforms that do not report a scheme: judge by the window colour itself.
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def text_on(background: QColor | str) -> QColor:
    """Black or white, whichever reads better on ``background`` (WCAG relative luminance)."""
    color = QColor(background)

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    luminance = (
        0.2126 * channel(color.redF())
        + 0.7152 * channel(color.greenF())
        + 0.0722 * channel(color.blueF())
    )
    return QColor("#000000") if luminance > 0.179 else QColor("#ffffff")


def banner_style() -> str:
    """Style sheet of the information banner, for the current scheme."""
    if is_dark():
        return "QFrame{background:#3a3320;border:1px solid #8a7a3a;} QLabel{color:#f5e6b0;}"
    return "QFrame{background:#fff4cc;border:1px solid #d8c070;} QLabel{color:#3d3200;}"


def error_color() -> QColor:
    """A red that reads on the current background (for inline error text)."""
    return QColor("#ff8a80") if is_dark() else QColor("#b00020")
