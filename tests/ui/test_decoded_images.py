"""Switching back to the previous image shows it without decoding the file again; the
kept images are bounded (count and bytes) and a changed file is decoded afresh."""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from samdesk.io.project import ProjectStore
from samdesk.ui import project_controller
from samdesk.ui.decoded_images import DecodedImages
from tests.ui.conftest import WAIT_MS, _close, _open_window, write_images
from tests.ui.workflow_support import isolated_settings  # noqa: F401


def test_switching_back_does_not_decode_again(qtbot, tmp_path, monkeypatch):
    folder = tmp_path / "p"
    folder.mkdir()
    write_images(folder, ((320, 240), (200, 160), (160, 120)))
    ProjectStore.create(folder, "p")
    decoded: list[str] = []
    real = project_controller._load

    def counting(path, allow_large):
        decoded.append(path.name)
        return real(path, allow_large)

    monkeypatch.setattr(project_controller, "_load", counting)
    # Switching back only here (decoding ahead has its own test); two kept, as at 40 MP.
    monkeypatch.setattr(project_controller.ProjectController, "prefetch", lambda s, r: False)
    window = _open_window(qtbot, folder, None)
    controller = window.controller
    controller.decoded.max_images = 2

    def show(row: int) -> None:
        with qtbot.waitSignal(controller.image_shown, timeout=WAIT_MS) as shown:
            controller.show_image(row)
        assert shown.args[0] == row and window.canvas.isVisible()

    show(1)
    assert decoded == ["img0.png", "img1.png"]
    for _ in range(3):  # back and forth: both stay decoded
        show(0)
        show(1)
    assert decoded == ["img0.png", "img1.png"] and controller.decoded.hits == 6
    assert controller.current_row == 1 and controller.current_rgb.shape == (160, 200, 3)
    show(2)  # a third image: the oldest (img0) goes
    show(1)
    show(0)
    assert decoded == ["img0.png", "img1.png", "img2.png", "img0.png"]
    # A file changed on disk is read again, not served from memory.
    Image.fromarray(np.full((50, 60, 3), 200, np.uint8)).save(folder / "img1.png")
    show(1)
    assert decoded[-1] == "img1.png" and controller.current_rgb.shape == (50, 60, 3)
    _close(window)
    assert not [t for t in threading.enumerate() if t.name.startswith("image-loader")]


def test_bounded_in_bytes():
    from PySide6.QtGui import QImage

    def value(h: int, w: int):
        return np.zeros((h, w, 3), np.uint8), QImage(w, h, QImage.Format.Format_RGB888)

    cache = DecodedImages(max_images=5, max_bytes=2 * (100 * 100 * 3 * 2) + 10)
    for i in range(4):
        cache.put((f"{i}.png", 1, 1, False), value(100, 100))
    assert len(cache) == 2 and cache.nbytes() <= cache.max_bytes
    assert cache.get(("3.png", 1, 1, False)) is not None
    assert cache.get(("0.png", 1, 1, False)) is None
    cache.put(("huge.png", 1, 1, False), value(1000, 1000))  # alone above the bound
    assert len(cache) == 2 and cache.get(("huge.png", 1, 1, False)) is None


def test_next_image_is_decoded_ahead(qtbot, tmp_path, monkeypatch):
    folder = tmp_path / "p"
    folder.mkdir()
    write_images(folder, ((320, 240), (200, 160), (160, 120)))
    ProjectStore.create(folder, "p")
    decoded: list[tuple[str, str]] = []
    real = project_controller._load

    def counting(path, allow_large):
        decoded.append((path.name, threading.current_thread().name))
        return real(path, allow_large)

    monkeypatch.setattr(project_controller, "_load", counting)
    window = _open_window(qtbot, folder, None)
    controller = window.controller
    for row in (1, 2):  # D, D: each next image was decoded ahead, once
        qtbot.waitUntil(lambda r=row: len(decoded) == r + 1, timeout=WAIT_MS)
        with qtbot.waitSignal(controller.image_shown, timeout=WAIT_MS):
            window._step(1)
        assert controller.current_row == row
    qtbot.waitUntil(lambda: not controller._prefetching, timeout=WAIT_MS)
    assert [name for name, _t in decoded] == ["img0.png", "img1.png", "img2.png"]
    assert [t.split("_")[0] for _n, t in decoded] == [
        "image-loader",
        "image-prefetch",
        "image-prefetch",
    ]
    # Back to the first one: still kept (3 small images fit).
    with qtbot.waitSignal(controller.image_shown, timeout=WAIT_MS):
        controller.show_image(0)
    assert len(decoded) == 3
    _close(window)
    assert not [t for t in threading.enumerate() if t.name.startswith("image-")]


def test_no_decoding_ahead_when_it_would_push_out_the_previous_image(qtbot, project):
    from samdesk.ui.main_window import MainWindow

    window = MainWindow(checkpoint=None)
    qtbot.addWidget(window)
    controller = window.controller
    # Room for fewer than 3 images the size of the first (320×240): as 40 MP in 512 MB.
    controller.decoded.max_bytes = 5 * 320 * 240 * 3
    with qtbot.waitSignal(controller.image_shown, timeout=WAIT_MS):
        window.open_path(project)
    assert not controller._prefetching and len(controller.decoded) == 1
    assert controller.prefetch(1) is False
    _close(window)


def test_an_image_arriving_after_close_starts_nothing(qtbot, project):
    window = _open_window(qtbot, project, None)
    controller = window.controller
    window.close()
    # The loader's answer for a show requested just before quitting arrives late.
    assert controller.prefetch(1) is False
