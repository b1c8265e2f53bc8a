"""Answering a modal dialog the window opens (exec() blocks the test until it closes).

No reference to the dialog outlives the answer, and nothing here forms a reference cycle:
a Qt widget kept alive only by a cycle is destroyed by whichever thread's garbage
collection finds it — a worker's, which crashes Qt (seen with PySide6 6.12).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication


class _ModalAnswer:
    """Polls the event loop (no sleep) until a modal widget is up, then answers it once."""

    def __init__(self, answer: Callable[[Any], None], seen: list[str]) -> None:
        self.answer = answer
        self.seen = seen

    def poll(self) -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(10, self.poll)
            return
        self.seen.append(type(dialog).__name__)
        answer, self.answer = self.answer, None
        answer(dialog)


def answer_modal(answer: Callable[[Any], None], seen: list[str] | None = None) -> list[str]:
    """Call ``answer(dialog)`` on the next modal dialog as soon as it is shown.

    Returns a list that gets the class name of the dialog answered, so the test can assert
    that one was asked at all.
    """
    seen = [] if seen is None else seen
    QTimer.singleShot(0, _ModalAnswer(answer, seen).poll)
    return seen


def type_and_accept(text: str, labels: list[str] | None = None) -> Callable[[Any], None]:
    """An ``answer`` for a QInputDialog: keep its label text, type ``text``, press OK."""

    def answer(dialog: Any) -> None:
        if labels is not None:
            labels.append(dialog.labelText())
            labels.append(dialog.textValue())
        dialog.setTextValue(text)
        dialog.accept()

    return answer


def back_to(qtbot: Any, window: Any) -> None:
    """After a modal dialog: the window is active again (offscreen, Qt may leave the
    closed dialog as the active window, and shortcuts would go nowhere). Garbage left by
    the dialog is collected here, on the GUI thread."""
    qtbot.waitUntil(lambda: QApplication.activeModalWidget() is None)
    gc.collect()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
