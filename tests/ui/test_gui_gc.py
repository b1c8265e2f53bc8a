"""Cyclic garbage is collected on the GUI thread, never on a worker (samdesk.ui.gui_gc)."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtWidgets import QApplication, QWidget

from samdesk.ui.gui_gc import GuiThreadCollector, install


def test_widget_cycles_are_freed_on_the_gui_thread(qtbot) -> None:
    app = QApplication.instance()
    collector = GuiThreadCollector(app, interval_ms=10)
    try:
        assert not gc.isenabled()
        freed_on: list[str] = []

        class Holder(QWidget):
            def __del__(self) -> None:
                freed_on.append(threading.current_thread().name)

        def make_garbage() -> weakref.ref:
            widget = Holder()
            widget.me = widget  # a reference cycle: only the collector frees it
            return weakref.ref(widget)

        ref = make_garbage()

        # A worker that allocates a lot must not run the collection (and the destructor).
        def churn() -> None:
            junk = []
            for _ in range(50_000):
                junk.append([[]])

        worker = threading.Thread(target=churn, name="worker")
        worker.start()
        worker.join()
        assert ref() is not None and not freed_on
        # Every generation due at the next tick (the thresholds' logic is CPython's own).
        collector.threshold = (-1, -1, -1)
        qtbot.waitUntil(lambda: ref() is None, timeout=5000)
        assert freed_on == [threading.main_thread().name]
        assert collector.collections >= 1
    finally:
        collector.stop()
        collector.deleteLater()
    assert gc.isenabled()


def test_install_is_idempotent(qtbot) -> None:
    app = QApplication.instance()
    first = install(app)
    try:
        assert install(app) is first
    finally:
        first.stop()
        first.setParent(None)
        first.deleteLater()
