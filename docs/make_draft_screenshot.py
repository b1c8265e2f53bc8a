"""Render docs/screenshot-draft.png: a saved object beside an unaccepted one (a draft).

    QT_QPA_PLATFORM=offscreen python docs/make_draft_screenshot.py [shared-folder]

Uses samples/dog.jpg of the shared fixtures folder ($SAMDESK_SHARED, the argument, or
../shared); settings and the project go to a temporary folder, never the user's.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def main() -> None:
    shared = Path(
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SAMDESK_SHARED", "../shared")
    )
    tmp = Path(tempfile.mkdtemp(prefix="samdesk-shots-"))
    for var, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache")):
        os.environ[var] = str(tmp / sub)
    from PIL import Image
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from samdesk.core.document import LabelClass
    from samdesk.io.project import ProjectStore
    from samdesk.ui.main_window import MainWindow

    folder = tmp / "project"
    folder.mkdir()
    photo = Image.open(shared / "samples" / "dog.jpg").convert("RGB").resize((800, 534))
    photo.save(folder / "dog.jpg")
    classes = [LabelClass(1, "dog", "#3cb44b", 1), LabelClass(2, "grass", "#e6194b", 2)]
    ProjectStore.create(folder, "demo", classes=classes)
    window = MainWindow(checkpoint=None)
    window.drafts.ask = lambda *_: "discard"  # the draft is for the picture only
    window.resize(1100, 720)
    window.show()
    loop = QEventLoop()
    window.controller.image_shown.connect(lambda *_: loop.quit())
    window.open_path(folder)
    QTimer.singleShot(20_000, loop.quit)
    loop.exec()
    a = window.annotator
    a.set_class(2)  # a saved object: a polygon, accepted
    for x, y in [(40, 420), (300, 400), (330, 520), (30, 525)]:
        a.add_polygon_vertex(x, y)
    a.accept()
    a.set_class(1)  # the draft: a brush stroke, not accepted
    a.brush_radius = 45
    a.begin_stroke(420, 200, True)
    for x, y in [(470, 230), (520, 260), (560, 300), (600, 330), (560, 380), (500, 360)]:
        a.stroke_to(x, y)
    a.end_stroke()
    window.canvas.fit_to_window()
    window.tool_actions["Brush"].trigger()
    for _ in range(5):
        app.processEvents()
    window.grab().save(str(DOCS / "screenshot-draft.png"))
    window.close()


if __name__ == "__main__":
    main()
