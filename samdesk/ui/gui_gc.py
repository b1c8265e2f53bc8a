"""Python's cyclic garbage collector, run on the GUI thread only.

CPython runs an automatic collection in whichever thread happens to allocate when the
generation thresholds are crossed — with samdesk that is often the encoder worker (torch
allocates a great deal). If the cycle it frees holds a Qt widget (a dialog whose slots
close over itself, a panel with a lambda), the widget's C++ destructor then runs on the
worker thread, which Qt does not allow: seen here as a segmentation fault in ``~QWidget``
of a ``QFormLayout`` called by the collector on a worker thread. The remedy is the one
pyqtgraph ships: switch the automatic collector off and collect, generation by generation
as the thresholds say, from a timer on the GUI thread.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_INTERVAL_MS = 1000


class GuiThreadCollector(QObject):
    """Disables automatic collection; collects on the GUI thread every second.

    Create it on the GUI thread with the application as parent; it lives as long as the
    application. ``collections`` counts the collections it ran (for tests).
    """

    def __init__(self, parent: QObject | None = None, interval_ms: int = _INTERVAL_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.collections = 0
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(interval_ms)

    def check(self) -> None:
        """Collect the generations whose counts passed their thresholds (as CPython would)."""
        l0, l1, l2 = gc.get_count()
        if l0 > self.threshold[0]:
            gc.collect(0)
            if l1 > self.threshold[1]:
                gc.collect(1)
                if l2 > self.threshold[2]:
                    gc.collect(2)
            self.collections += 1

    def stop(self) -> None:
        """Stop the timer and give collection back to CPython."""
        self._timer.stop()
        gc.enable()


def install(app: QObject) -> GuiThreadCollector:
    """The application's collector, created once (idempotent)."""
    existing = app.findChild(GuiThreadCollector)
    if existing is not None:
        return existing
    return GuiThreadCollector(app)
