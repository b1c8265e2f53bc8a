"""The open project and the image on screen, for the window.

Owns the ``ProjectStore`` and the current image. Image files are decoded on a background
thread (a 48 MP JPEG takes most of a second); each request gets an id and only the newest
one is shown, so paging quickly through images never shows a stale picture.
"""

from __future__ import annotations

import itertools
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from samdesk.core.document import ImageRecord
from samdesk.ui.bridge import FutureBridge
from samdesk.ui.qt_convert import rgb_to_qimage


def _load(path: Path) -> tuple[np.ndarray, QImage]:
    from samdesk.core.images import read_image

    rgb = read_image(path)
    return rgb, rgb_to_qimage(rgb)


class ProjectController(QObject):
    """Signals:
    project_opened(): a project was opened (``store`` is set).
    image_shown(int, object, object): row, QImage, ImageRecord (objects loaded).
    image_failed(int, str): row, message (the image could not be read).
    error(str): a message for the user (non-blocking).
    """

    project_opened = Signal()
    image_shown = Signal(int, object, object)
    image_failed = Signal(int, str)
    error = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = None
        self.current_row: int | None = None
        self.current_rgb: np.ndarray | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-loader")
        self._bridge = FutureBridge(self)
        self._ids = itertools.count(1)
        self._wanted = 0
        self._pending: Future | None = None

    # ----- project -----------------------------------------------------------------------
    def open(self, path: Path) -> bool:
        """Open a project file or a folder holding one; False (and ``error``) on failure."""
        from samdesk.io.project import ProjectStore

        try:
            store = ProjectStore.open(path)
        except Exception as exc:  # a bad project is reported, never a crash
            self.error.emit(f"Could not open {path}: {exc}")
            return False
        self.store = store
        self.current_row = None
        self.current_rgb = None
        for warning in getattr(store, "warnings", []):
            self.error.emit(warning)
        self.project_opened.emit()
        return True

    @property
    def images(self) -> list[ImageRecord]:
        return self.store.project.images if self.store is not None else []

    # ----- images ------------------------------------------------------------------------
    def show_image(self, row: int) -> None:
        """Load image ``row`` in the background; ``image_shown`` follows (newest wins)."""
        if self.store is None or not 0 <= row < len(self.images):
            return
        request = next(self._ids)
        self._wanted = request
        if self._pending is not None:
            self._pending.cancel()  # not started yet: never decode an image nobody waits for
        record = self.images[row]
        future = self._executor.submit(_load, self.store.image_abspath(record))
        self._pending = future
        self._bridge.watch(
            future,
            lambda result: self._on_loaded(request, row, result),
            lambda exc: self._on_failed(request, row, exc),
        )

    def _on_loaded(self, request: int, row: int, result: tuple[np.ndarray, QImage]) -> None:
        if request != self._wanted:
            return  # the user has moved on
        rgb, image = result
        record = self.store.load_image_annotations(row)
        self.current_row = row
        self.current_rgb = rgb
        self.image_shown.emit(row, image, record)

    def _on_failed(self, request: int, row: int, exc: BaseException) -> None:
        if request != self._wanted:
            return
        self.current_row = row
        self.current_rgb = None
        message = f"{self.images[row].path}: {exc}"
        self.image_failed.emit(row, message)
        self.error.emit(message)

    def shutdown(self) -> None:
        """Cancel pending loads and join the loader thread."""
        self._executor.shutdown(wait=True, cancel_futures=True)
