"""Fixtures for the window tests: a small random-weight checkpoint and a tmp project.

The window runs for real (offscreen), with the real engine on the small checkpoint, so a
click goes through the encoder service, the decode session and back to the canvas.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt

from samdesk.core.document import LabelClass

WAIT_MS = 60_000
"""Upper bound of any wait (CPU shared with others; a hang fails instead of blocking)."""


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from samdesk.sam.testing import make_checkpoint

    return Path(make_checkpoint(tmp_path_factory.mktemp("ckpt") / "small.pt", arch="vit"))


def write_images(folder: Path, sizes: tuple[tuple[int, int], ...] = ((320, 240), (200, 160))):
    """Images with a few bright shapes on a noisy background (something to click on)."""
    rng = np.random.default_rng(0)
    paths = []
    for i, (w, h) in enumerate(sizes):
        rgb = rng.integers(40, 90, (h, w, 3), dtype=np.uint8)
        rgb[h // 4 : h // 2, w // 4 : w // 2] = (230, 60, 40)
        yy, xx = np.mgrid[0:h, 0:w]
        rgb[(xx - 3 * w // 4) ** 2 + (yy - 2 * h // 3) ** 2 < (h // 6) ** 2] = (40, 200, 90)
        path = folder / f"img{i}.png"
        Image.fromarray(rgb).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh project folder with two images and three classes (keys 1-3)."""
    from samdesk.io.project import ProjectStore

    folder = tmp_path / "project"
    folder.mkdir()
    write_images(folder)
    classes = [
        LabelClass(1, "car", "#e6194b", 1),
        LabelClass(2, "dog", "#3cb44b", 2),
        LabelClass(3, "food", "#4363d8", 3),
    ]
    ProjectStore.create(folder, "test", classes=classes)
    return folder


@pytest.fixture(autouse=True)
def _join_workers_on_close(monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing a window joins every worker in tests (the app waits at most 1 s), so each
    test can check that no thread is left running."""
    from samdesk.ui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "shutdown_timeout", None)


@pytest.fixture(autouse=True)
def _never_block_on_the_drafts_question(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any test window closed with an unaccepted object discards it instead of waiting on
    the modal question (pytest-qt closes windows even after a failure). Tests of the
    question import ``ask_pending`` itself, which this leaves intact."""
    import samdesk.ui.drafts as drafts

    monkeypatch.setattr(drafts, "ask_pending", lambda _parent, _paths, _leaving: "discard")


def _open_window(qtbot, project: Path, checkpoint: Path | None):
    from samdesk.ui.main_window import MainWindow

    window = MainWindow(checkpoint=str(checkpoint) if checkpoint else None)
    qtbot.addWidget(window)
    window.resize(900, 700)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
        assert window.open_path(project)
    return window


def _close(window) -> None:
    window.close()
    names = ("samdesk-encoder", "samdesk-decoder", "image-loader", "samdesk-polygon")
    left = [t.name for t in threading.enumerate() if t.name.startswith(names)]
    assert not left, f"threads left running: {left}"


@pytest.fixture
def window(qtbot, project: Path, checkpoint: Path) -> Iterator:
    """The main window on the project, the model loaded and the first image encoded."""
    window = _open_window(qtbot, project, checkpoint)
    qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)
    window.canvas.setFocus()
    yield window
    _close(window)


@pytest.fixture
def manual_window(qtbot, project: Path) -> Iterator:
    """The main window without a model (manual tools only)."""
    window = _open_window(qtbot, project, None)
    window.canvas.setFocus()
    yield window
    _close(window)


def wait_converted(qtbot, annotator) -> None:
    """Wait until an accepted mask is traced: fragmented masks (the random-weight model's)
    are converted in the background, clean ones at once."""
    qtbot.waitUntil(lambda: not annotator.converter.busy, timeout=WAIT_MS)


def view_pos(canvas, x: float, y: float) -> QPoint:
    """Viewport coordinates of image point (x, y)."""
    return canvas.mapFromScene(QPointF(x, y))


def click(qtbot, canvas, x: float, y: float, button=Qt.MouseButton.LeftButton, modifier=None):
    modifier = modifier or Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(canvas.viewport(), button, modifier, view_pos(canvas, x, y))
