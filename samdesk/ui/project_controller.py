"""The open project and the image on screen, for the window.

Owns the ``ProjectStore`` and the current image. Image files are decoded on a background
thread (a 48 MP JPEG takes most of a second); each request gets an id and only the newest
one is shown, so paging quickly through images never shows a stale picture.

An image above Pillow's decompression-bomb limit (a 20,000×20,000 aerial tile) is opened
only when the user says so: ``ask_large`` asks once per image and session, and "Open
anyway" reads it again with ``allow_large`` (``large_image_allowed`` tells the engine).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox, QWidget

from samdesk.core.document import ImageRecord
from samdesk.ui.bridge import FutureBridge
from samdesk.ui.decoded_images import DecodedImages
from samdesk.ui.qt_convert import rgb_to_qimage


def _load(path: Path, allow_large: bool) -> tuple[np.ndarray, QImage]:
    from samdesk.core.images import read_image

    rgb = read_image(path, allow_large=allow_large)
    return rgb, rgb_to_qimage(rgb)


def large_image_question(path: str, width: int, height: int) -> tuple[str, str]:
    """(text, informative text) of the "Open anyway" question for a too-large image."""
    from samdesk.core.images import open_memory_estimate

    pixels = width * height
    text = (
        f"{Path(path).name} is {width:,} × {height:,} pixels "
        f"({pixels / 1e6:,.0f} megapixels), above the safety limit against "
        "decompression bombs."
    )
    # Measured peak (bench_large_image_memory.py): the pixels are held several times
    # over while shown and encoded (decoded array, pixmap, the encoder's own decode).
    informative = (
        "Open it if you trust the file. Showing and encoding it needs about "
        f"{open_memory_estimate(pixels) / 2**30:,.1f} GiB of memory (besides the model's) "
        "and takes a while."
    )
    return text, informative


def ask_open_large(parent: QWidget | None, path: str, width: int, height: int) -> bool:
    """Ask whether to open an image above the pixel safety limit; True: "Open anyway"."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Very large image")
    text, informative = large_image_question(path, width, height)
    box.setText(text)
    box.setInformativeText(informative)
    open_button = box.addButton("Open anyway", QMessageBox.ButtonRole.AcceptRole)
    skip = box.addButton("Skip", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(skip)
    box.exec()
    return box.clickedButton() is open_button


class ProjectController(QObject):
    """Signals:
    project_opened(): a project was opened (``store`` is set).
    image_shown(int, object, object): row, QImage, ImageRecord (objects loaded).
    image_failed(int, str): row, message (the image could not be read, or was skipped).
    error(str): a message for the user (non-blocking).
    large_image_allowed(str): the user chose to open this too-large image (absolute path).
    reloaded(str): an image another annotator changed was read again (project path).

    ``ask_large(path, width, height) -> bool`` asks about a too-large image (default: a
    message box; tests put a function here). Answers are remembered for the session.
    """

    project_opened = Signal()
    image_shown = Signal(int, object, object)
    image_failed = Signal(int, str)
    error = Signal(str)
    large_image_allowed = Signal(str)
    reloaded = Signal(str)

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
        self._large_answers: dict[str, bool] = {}  # absolute path → "Open anyway"?
        self.decoded = DecodedImages()  # the last images shown: switching back is instant
        # The next image is decoded ahead on its own thread, never delaying a shown one.
        self._prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-prefetch")
        self._prefetching: dict[Any, Future] = {}
        self._closed = False
        self.ask_large: Callable[[str, int, int], bool] = self._ask_large
        self.has_unsaved: Callable[[str], bool] = lambda path: False  # set by the window

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
        self.decoded.clear()
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
        path = self._abspath(row)
        allow_large = self._large_answers.get(path, False)
        key = DecodedImages.key(path, allow_large)
        cached = self.decoded.get(key)
        if cached is not None:
            self._pending = None
            self._on_loaded(request, row, cached)
            return
        ahead = self._prefetching.get(key)
        if ahead is not None:
            future = ahead  # being decoded ahead already: wait for that (never cancelled)
            self._pending = None
        else:
            future = self._executor.submit(_load, Path(path), allow_large)
            self._pending = future
        self._bridge.watch(
            future,
            lambda result: self._on_loaded(request, row, result, key),
            lambda exc: self._on_failed(request, row, exc),
        )

    def prefetch(self, row: int | None) -> bool:
        """Decode image ``row`` (the next one) ahead into ``decoded``; True if started.

        Only when it fits beside the image on screen and the previous one (estimated by
        the current image's size), so decoding ahead never pushes out the image the user
        flips back to. Failures are silent: showing the image reports them.
        """
        if row is None or self.store is None or self.current_rgb is None or self._closed:
            return False  # (closed: a late image_shown after quitting)
        if not 0 <= row < len(self.images) or row == self.current_row:
            return False
        per_image = 2 * self.current_rgb.nbytes  # the array and its QImage
        if self.decoded.max_images < 3 or 3 * per_image > self.decoded.max_bytes:
            return False
        path = self._abspath(row)
        allow_large = self._large_answers.get(path, False)
        key = DecodedImages.key(path, allow_large)
        if key is None or key in self.decoded or key in self._prefetching:
            return False
        future = self._prefetcher.submit(_load, Path(path), allow_large)
        self._prefetching[key] = future

        def done(result: Any) -> None:
            self._prefetching.pop(key, None)
            if result is not None:
                self.decoded.put(key, result)

        self._bridge.watch(future, done, lambda _exc: done(None))
        return True

    def _on_loaded(
        self, request: int, row: int, result: tuple[np.ndarray, QImage], key: Any = None
    ) -> None:
        if key is not None:
            self.decoded.put(key, result)  # even when not shown: it was paid for
        if request != self._wanted:
            return  # the user has moved on
        rgb, image = result
        path = self.images[row].path
        # Another annotator saved this image since we read it: show theirs (merged with
        # ours on our next save anyway), unless we hold unsaved edits of it.
        reload = self.store.changed_elsewhere(row) and not self.has_unsaved(path)
        record = self.store.load_image_annotations(row, reload=reload)
        if reload:
            self.reloaded.emit(path)
        self.current_row = row
        self.current_rgb = rgb
        self.image_shown.emit(row, image, record)

    def _on_failed(self, request: int, row: int, exc: BaseException) -> None:
        from samdesk.core.images import ImageTooLargeError

        if request != self._wanted:
            return
        if isinstance(exc, ImageTooLargeError):
            path = self._abspath(row)
            if path not in self._large_answers:
                self._large_answers[path] = bool(self.ask_large(path, exc.width, exc.height))
            if request != self._wanted:
                return  # the question's event loop delivered a newer request meanwhile
            if self._large_answers[path]:
                self.large_image_allowed.emit(path)
                self.show_image(row)  # again, with the limit lifted
                return
            megapixels = exc.width * exc.height / 1e6
            exc = RuntimeError(
                f"skipped: {exc.width}×{exc.height} pixels ({megapixels:,.0f} megapixels) "
                "is above the safety limit against decompression bombs"
            )
        self.current_row = row
        self.current_rgb = None
        message = f"{self.images[row].path}: {exc}"
        self.image_failed.emit(row, message)
        self.error.emit(message)

    def _abspath(self, row: int) -> str:
        # The same string as the engine's image key (``annotator.image_key``).
        return str(Path(self.store.image_abspath(self.images[row])))

    def _ask_large(self, path: str, width: int, height: int) -> bool:
        parent = self.parent()
        return ask_open_large(parent if isinstance(parent, QWidget) else None, path, width, height)

    def shutdown(self) -> None:
        """Cancel pending loads and join the loader threads."""
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._prefetcher.shutdown(wait=True, cancel_futures=True)
