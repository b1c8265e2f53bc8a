"""View → Hover Preview: off means no mask under the cursor and nothing decoded while the
mouse moves; the choice is kept in settings for the next window."""

from __future__ import annotations

from samdesk.ui import settings as user_settings
from samdesk.ui.main_window import MainWindow
from tests.ui.conftest import WAIT_MS, view_pos
from tests.ui.workflow_support import isolated_settings  # noqa: F401


def _move(qtbot, window, x, y):
    qtbot.mouseMove(window.canvas.viewport(), view_pos(window.canvas, x, y))


def test_hover_preview_switch(qtbot, window):
    annotator, action = window.annotator, window.hover_action
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert action.isChecked() and action in view.actions()
    # On (the default): moving over the image previews a mask.
    _move(qtbot, window, 100, 90)
    qtbot.waitUntil(lambda: annotator.hover is not None, timeout=WAIT_MS)
    # Off: the preview goes at once, and moving decodes nothing.
    action.trigger()
    assert not action.isChecked() and annotator.hover is None
    assert user_settings.hover_preview() is False
    qtbot.waitUntil(lambda: annotator._pending is None, timeout=WAIT_MS)
    _move(qtbot, window, 150, 120)
    _move(qtbot, window, 160, 130)
    assert annotator._pending is None and annotator.hover is None
    # A new window starts with the saved choice.
    second = MainWindow(checkpoint=None)
    qtbot.addWidget(second)
    assert not second.hover_action.isChecked() and second.annotator.hover_enabled is False
    second.close()
    action.trigger()
    assert user_settings.hover_preview() is True
    _move(qtbot, window, 100, 90)
    assert annotator._pending is not None or annotator.hover is not None
