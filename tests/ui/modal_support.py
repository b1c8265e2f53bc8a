"""Answering a modal dialog the window opens (exec() blocks the test until it closes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication


def answer_modal(answer: Callable[[Any], None], seen: list[Any] | None = None) -> list[Any]:
    """Call ``answer(dialog)`` on the next modal dialog as soon as it is shown.

    Polls the event loop (no sleep) until a modal widget is up; ``seen`` collects the
    dialogs answered, so the test can assert that one was asked at all.
    """
    seen = [] if seen is None else seen

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(10, poll)
            return
        seen.append(dialog)
        answer(dialog)

    QTimer.singleShot(0, poll)
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
    closed dialog as the active window, and shortcuts would go nowhere)."""
    qtbot.waitUntil(lambda: QApplication.activeModalWidget() is None)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
