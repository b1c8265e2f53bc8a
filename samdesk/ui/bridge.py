"""The thin bridge from background futures to the GUI thread.

Work runs on plain-Python executors (no Qt there). A future's done-callback fires on the
worker thread; it emits a signal of a QObject living on the GUI thread, and Qt's queued
connection delivers it there. The callbacks given to ``watch`` therefore always run on the
GUI thread, and every exception reaches ``on_error`` (never lost in a worker).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal


class FutureBridge(QObject):
    """Deliver future results to GUI-thread callbacks. Create it on the GUI thread."""

    _delivered = Signal(object, object, object)  # callback, value, is_error

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._delivered.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def watch(
        self,
        future: Future,
        on_result: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Call ``on_result(value)`` or ``on_error(exc)`` on the GUI thread when done.

        A cancelled future calls neither: whoever cancelled it no longer wants the answer.
        """

        def done(fut: Future) -> None:
            try:
                value = fut.result()
            except CancelledError:
                return
            except BaseException as exc:
                self._delivered.emit(on_error, exc, True)
                return
            self._delivered.emit(on_result, value, False)

        future.add_done_callback(done)

    def _deliver(self, callback: Callable[[Any], None], value: Any, _is_error: bool) -> None:
        callback(value)


class CallbackBridge(QObject):
    """Turn calls made on any thread into a GUI-thread call of the same function."""

    _called = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._called.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def wrap(self, fn: Callable[..., None]) -> Callable[..., None]:
        """A thread-safe stand-in for ``fn``: calling it schedules ``fn`` on the GUI thread."""

        def call(*args: Any) -> None:
            self._called.emit(fn, args)

        return call

    def _deliver(self, fn: Callable[..., None], args: tuple) -> None:
        fn(*args)
