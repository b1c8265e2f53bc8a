"""Render the app icon (samdesk/ui/resources/samdesk.svg) into the bundle formats.

    python packaging/make_icons.py   # writes resources/samdesk.png, .ico and .icns

The outputs are committed; run this again only when the SVG changes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "samdesk" / "ui" / "resources" / "samdesk.svg"
OUT = ROOT / "resources"


def render(size: int):
    """The SVG rendered to a size×size RGBA Pillow image."""
    from PIL import Image
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_RGBA8888)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(SVG)).render(painter)
    painter.end()
    data = bytes(image.constBits())[: size * size * 4]
    return Image.frombytes("RGBA", (size, size), data)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication(sys.argv[:1])
    big = render(1024)
    render(256).save(OUT / "samdesk.png")
    big.save(
        OUT / "samdesk.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (256, 256)]
    )
    big.save(OUT / "samdesk.icns")
    for name in ("samdesk.png", "samdesk.ico", "samdesk.icns"):
        print(f"{OUT / name}: {(OUT / name).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
