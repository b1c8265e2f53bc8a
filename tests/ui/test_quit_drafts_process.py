"""Quitting the real program (a separate process, offscreen) with unaccepted objects on
two images asks once; "Accept All" writes both to disk before the process ends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from samdesk.io.project import ProjectStore
from tests.conftest import REPO_ROOT

SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from PySide6.QtCore import QPointF, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QMessageBox
    from samdesk.ui.app import ensure_app
    from samdesk.ui.main_window import MainWindow

    app = ensure_app()
    window = MainWindow(checkpoint=None)
    window.resize(900, 700)
    window.show()

    def click(x, y):
        pos = window.canvas.mapFromScene(QPointF(x, y))
        QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)

    def draft(points):
        window.tool_actions["Polygon"].trigger()
        for x, y in points:
            click(x, y)

    def answer():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        print("ASKED:", box.text(), flush=True)
        next(b for b in box.buttons() if b.text().replace("&", "") == "Accept All").click()

    def on_shown(row, *_):
        if row == 0:
            draft([(30, 30), (150, 40), (90, 130)])
            QTest.keyClick(window.canvas, Qt.Key.Key_D)  # next image: the draft is kept
        else:
            draft([(20, 20), (120, 20), (70, 100)])
            QTimer.singleShot(0, answer)
            QTest.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)

    window.controller.image_shown.connect(on_shown)
    window.open_path(Path(sys.argv[1]))
    QTimer.singleShot(60_000, app.quit)  # never hang the test run
    sys.exit(app.exec())
    """
)


def test_quitting_the_program_accepts_all_drafts(project: Path, tmp_path: Path) -> None:
    script = tmp_path / "quit_with_drafts.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, str(script), str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "ASKED: 2 unaccepted objects on images img0.png, img1.png" in done.stdout
    store = ProjectStore.open(project)
    assert len(store.load_image_annotations(0).objects) == 1
    assert len(store.load_image_annotations(1).objects) == 1
