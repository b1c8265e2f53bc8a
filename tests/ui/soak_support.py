"""Soak runs for ``test_soak``, each in its own process (``python -m tests.ui.soak_support``).

A binding that drops references to ``None``/``True``/``False`` aborts the interpreter
("Fatal Python error: none_dealloc") once the count reaches zero, so these run in a child
process: an abort fails the test instead of killing pytest. Each run prints one line
``deltas None=<n> True=<n> False=<n>`` (reference count changes over the run) and then
``done`` when it got through.

    python -m tests.ui.soak_support void-calls [N]
    python -m tests.ui.soak_support window PROJECT [MOVES] [SWITCHES]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

WAIT_S = 60.0
"""Longest wait for one image to show (the CPU is shared; a hang fails, never blocks)."""


def _counts() -> tuple[int, int, int]:
    return sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)


def _print_deltas(before: tuple[int, int, int]) -> None:
    after = _counts()
    names = ("None", "True", "False")
    deltas = " ".join(f"{n}={a - b}" for n, a, b in zip(names, after, before, strict=True))
    print("deltas", deltas, flush=True)


def void_calls(count: int) -> None:
    """``count`` rounds of void Qt methods (the kind the canvas calls while painting)."""
    from PySide6.QtCore import QPointF, QRectF
    from PySide6.QtGui import QColor, QFont, QPainterPath, QPen, QPolygonF

    triangle = QPolygonF([QPointF(0, 0), QPointF(4, 0), QPointF(4, 3)])
    pen, font, color, rect = QPen(), QFont(), QColor(10, 20, 30), QRectF(0, 0, 1, 1)
    before = _counts()
    for i in range(count):
        path = QPainterPath()
        path.addPolygon(triangle)
        path.moveTo(0.0, 0.0)
        path.lineTo(float(i), 1.0)
        polygon = QPolygonF()
        polygon.append(QPointF(i, i))
        pen.setWidthF(1.5)
        pen.setCosmetic(i % 2 == 0)
        font.setBold(i % 2 == 1)
        color.setAlphaF(0.5)
        rect.setWidth(2.0)
    _print_deltas(before)


def _count_paints(widget):  # a class made on demand: Qt is imported late
    from PySide6.QtCore import QEvent, QObject

    class PaintCounter(QObject):
        """Counts the paint events ``widget`` receives."""

        def __init__(self) -> None:
            super().__init__(widget)
            self.count = 0
            widget.installEventFilter(self)

        def eventFilter(self, watched, event) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    return PaintCounter()


def window(project: Path, moves: int, switches: int) -> None:
    """The real main window on ``project``: mouse moves over the canvas, image switches.

    Moves sweep the viewport in rows (entering and leaving objects, so the hover highlight,
    the cursor read-out and the repaint run); every ``moves // switches`` moves the
    Go ▸ Next / Previous Image action switches image (bouncing between the ends) and the
    run waits for it to show.
    """
    from PySide6.QtCore import QEvent, QEventLoop, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from samdesk.ui.app import ensure_app
    from samdesk.ui.main_window import MainWindow

    app = ensure_app()
    win = MainWindow(checkpoint=None)
    win.resize(900, 700)
    win.show()
    shown = [0]
    win.controller.image_shown.connect(lambda *_: shown.__setitem__(0, shown[0] + 1))

    def wait_shown(count: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while shown[0] < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"image {count} not shown within {WAIT_S} s")
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)

    assert win.open_path(project)
    wait_shown(1)
    actions = {a.text(): a for a in win.actions()}
    step = {1: actions["&Next Image"], -1: actions["&Previous Image"]}
    last_row = len(win.controller.images) - 1
    assert last_row > 0, "the soak needs a project with two images or more"
    viewport = win.canvas.viewport()
    width, height = viewport.width(), viewport.height()
    paints = _count_paints(viewport)
    every = max(1, moves // max(1, switches))
    direction, switched = 1, 0
    before = _counts()
    for i in range(moves):
        x = (i * 7) % width
        y = ((i * 7) // width * 23) % height
        event = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(x, y),
            viewport.mapToGlobal(QPointF(x, y)),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(viewport, event)
        if i % 10 == 0:
            app.processEvents()  # paint what the moves changed
        if i % every == every - 1 and switched < switches:
            row = win.controller.current_row
            if row + direction not in range(last_row + 1):
                direction = -direction
            step[direction].trigger()
            switched += 1
            wait_shown(switched + 1)
    app.processEvents()
    _print_deltas(before)
    assert switched == switches, f"switched {switched} of {switches} times"
    # The moves reached the canvas (its cursor read-out follows them), and it repainted.
    assert win._cursor_label.text().startswith("x "), win._cursor_label.text()
    print("paints", paints.count, flush=True)
    assert paints.count >= switches, f"the canvas painted only {paints.count} times"
    win.close()


def main(argv: list[str]) -> int:
    if argv[0] == "void-calls":
        void_calls(int(argv[1]) if len(argv) > 1 else 20_000)
    elif argv[0] == "window":
        moves = int(argv[2]) if len(argv) > 2 else 20_000
        window(Path(argv[1]), moves, int(argv[3]) if len(argv) > 3 else 300)
    else:
        raise SystemExit(f"unknown soak {argv[0]!r}")
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
