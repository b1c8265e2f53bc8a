"""Render docs/screenshot-toolbar.png and docs/screenshot-refine.png from the real window.

    QT_QPA_PLATFORM=offscreen python docs/make_first_hour_screenshots.py [shared-folder]

Uses the sample photos and the parity checkpoint of the shared fixtures folder
($SAMDESK_SHARED, the argument, or ../shared); everything else is written to a temporary
folder (settings, caches, the project), never to the user's.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def main() -> None:
    shared = Path(
        sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SAMDESK_SHARED", "../shared")
    )
    tmp = Path(tempfile.mkdtemp(prefix="samdesk-shots-"))
    for var, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache")):
        os.environ[var] = str(tmp / sub)
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    from samdesk.core.document import LabelClass
    from samdesk.io.project import ProjectStore
    from samdesk.ui.main_window import MainWindow

    app = QApplication([])
    QCoreApplication.setOrganizationName("samdesk-shots")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "qs"))

    def wait(condition, seconds: float = 120.0) -> None:
        end = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("the window did not get there in time")
            app.processEvents()
            time.sleep(0.01)

    folder = tmp / "street"
    folder.mkdir()
    for name in ("truck.jpg", "dog.jpg", "groceries.jpg"):
        shutil.copy(shared / "samples" / name, folder / name)
    classes = [
        LabelClass(1, "truck", "#e6194b", 1),
        LabelClass(2, "dog", "#3cb44b", 2),
        LabelClass(3, "person", "#4363d8", 3),
    ]
    ProjectStore.create(folder, "street", classes=classes)
    checkpoint = shared / "parity" / "tinyvit_s2" / "checkpoint.pt"
    MainWindow.shutdown_timeout = None  # join the encoder on close (no abort at exit)
    window = MainWindow(checkpoint=str(checkpoint))
    window.resize(1280, 800)
    window.show()
    window.open_path(folder)
    a = window.annotator
    wait(lambda: a.record is not None)
    wait(window.engine.is_ready)
    # A hand-drawn polygon on the first image, so there is something to refine.
    w, h = a.image_size()
    outline = [
        (0.0, 0.62),
        (0.1, 0.52),
        (0.2, 0.43),
        (0.3, 0.41),
        (0.4, 0.44),
        (0.5, 0.55),
        (0.53, 0.62),
        (0.45, 0.72),
        (0.36, 0.84),
        (0.3, 0.999),
        (0.0, 0.999),
    ]
    a.set_class(2 if a.record.path == "dog.jpg" else 1)
    for fx, fy in outline:
        a.add_polygon_vertex(fx * w, fy * h)
    a.accept()
    window.canvas.fit_to_window()
    for _ in range(20):
        app.processEvents()
    window.grab().save(str(DOCS / "screenshot-toolbar.png"))
    a.select(a.record.objects[0].id)
    a.start_refine()
    for _ in range(20):
        app.processEvents()
    window.grab().save(str(DOCS / "screenshot-refine.png"))
    window.close()
    shutil.rmtree(tmp, ignore_errors=True)
    print("wrote", DOCS / "screenshot-toolbar.png", DOCS / "screenshot-refine.png")


if __name__ == "__main__":
    main()
