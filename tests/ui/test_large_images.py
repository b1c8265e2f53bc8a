"""Images above the pixel safety limit: asked once, "Open anyway" shows and encodes them,
"Skip" leaves the canvas with a message and nothing crashes.

Pillow's limit is lowered (``PIL.Image.MAX_IMAGE_PIXELS``) so that the ordinary 320×240
test image counts as too large and the 200×160 one does not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.ui.conftest import WAIT_MS, _close, click
from tests.ui.workflow_support import isolated_settings  # noqa: F401


@pytest.fixture(autouse=True)
def small_limit(monkeypatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50_000)  # 320×240 = 76,800 is above


def _window(qtbot, checkpoint: Path, answer: Callable[[str, int, int], bool]):
    """The window with the question answered by ``answer`` (no message box in tests)."""
    from samdesk.ui.main_window import MainWindow

    window = MainWindow(checkpoint=str(checkpoint))
    qtbot.addWidget(window)
    window.controller.ask_large = answer
    window.show()
    qtbot.waitExposed(window)
    return window


def test_open_anyway_shows_and_encodes_the_image(qtbot, project, checkpoint):
    asked = []

    def answer(path: str, width: int, height: int) -> bool:
        asked.append((Path(path).name, width, height))
        return True

    window = _window(qtbot, checkpoint, answer)
    try:
        with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS) as shown:
            assert window.open_path(project)
        assert asked == [("img0.png", 320, 240)]
        assert shown.args[0] == 0 and window.annotator.record is not None
        assert window.canvas.image_rect().width() == 320
        assert window._canvas_note.isHidden()
        # The encoder reads it with the limit lifted too.
        qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)
        with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS):
            click(qtbot, window.canvas, 100, 90)
        # The answer is remembered: back to the image, no second question.
        with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
            window.controller.show_image(1)
        with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
            window.controller.show_image(0)
        assert len(asked) == 1
        qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)
    finally:
        _close(window)


def test_skip_leaves_a_message_and_manual_tools_off(qtbot, project, checkpoint):
    asked = []

    def answer(path: str, width: int, height: int) -> bool:
        asked.append(Path(path).name)
        return False

    window = _window(qtbot, checkpoint, answer)
    try:
        with qtbot.waitSignal(window.controller.image_failed, timeout=WAIT_MS) as failed:
            assert window.open_path(project)
        row, message = failed.args
        assert row == 0 and "skipped" in message and "320×240" in message
        assert asked == ["img0.png"]
        note = window._canvas_note
        assert not note.isHidden() and "skipped" in note.text()
        assert window.annotator.record is None and window.engine.current_key is None
        # Manual tools have nothing to work on: clicks do nothing, nothing crashes.
        window.tool_actions["Polygon"].trigger()
        click(qtbot, window.canvas, 50, 50)
        assert window.annotator.draft is None
        # Another image works as usual; coming back does not ask again.
        with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
            window.controller.show_image(1)
        assert note.isHidden()
        qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)
        with qtbot.waitSignal(window.controller.image_failed, timeout=WAIT_MS):
            window.controller.show_image(0)
        assert asked == ["img0.png"] and not note.isHidden()
    finally:
        _close(window)
