"""An unaccepted object never looks like a saved one: hatched fill, dashed frame with a
"DRAFT" tag, and a status text, on the real window (offscreen)."""

from __future__ import annotations

from itertools import pairwise

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage

from tests.ui.conftest import view_pos
from tests.ui.workflow_support import add_polygon, isolated_settings  # noqa: F401

SAVED = [(215, 135), (265, 135), (265, 185), (215, 185)]  # inside the green disc of img0


def _brush_draft(qtbot, w) -> None:
    """A brush stroke across the red rectangle of img0 (uniform colour under it)."""
    w.tool_actions["Brush"].trigger()
    vp = w.canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_pos(w.canvas, 100, 90))
    qtbot.mouseMove(vp, view_pos(w.canvas, 140, 90))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_pos(w.canvas, 140, 90))
    qtbot.mouseMove(vp, view_pos(w.canvas, 300, 20))  # the brush outline away from it


def _row_colours(image: QImage, w, y: float, x0: float, x1: float) -> list[int]:
    """Screen colours (RGB) along image row ``y`` from ``x0`` to ``x1``."""
    a, b = view_pos(w.canvas, x0, y), view_pos(w.canvas, x1, y)
    return [image.pixel(x, a.y()) & 0xFFFFFF for x in range(a.x(), b.x())]


def _runs(colours: list[int]) -> int:
    return 1 + sum(1 for p, q in pairwise(colours) if p != q)


def test_draft_is_hatched_framed_tagged_and_said_so(qtbot, manual_window):
    w = manual_window
    w.canvas.zoom_to_actual_size()
    add_polygon(w.annotator, SAVED, class_id=2)
    _brush_draft(qtbot, w)
    assert w.annotator.draft is not None
    # Distinct style: the draft's mask is hatched, framed (dashed) and tagged.
    assert w.canvas.draft_item.hatch > 0
    x0, y0, x1, y1 = w.canvas.prompt_item.draft_rect
    assert x0 <= 90 and x1 >= 150 and y0 <= 80 and y1 >= 100
    # The status says what it is and how to finish it.
    assert w.drafts.status.isVisible()
    assert w.drafts.status.text().startswith("Draft — Enter to accept, Esc to discard")
    # On screen: stripes across the draft, a flat fill inside the saved object.
    image = w.canvas.viewport().grab().toImage()
    draft_row = _row_colours(image, w, 90, 104, 136)
    saved_row = _row_colours(image, w, 160, 225, 255)
    assert _runs(draft_row) >= 4, draft_row
    assert _runs(saved_row) == 1, saved_row
    # Accepted: an object like the others, no frame, no draft text.
    qtbot.keyClick(w.canvas, Qt.Key.Key_Return)
    assert w.canvas.prompt_item.draft_rect is None and not w.drafts.status.isVisible()
    assert not w.canvas.draft_item.isVisible()


def test_stripes_keep_their_width_on_screen_when_zooming(qtbot, manual_window):
    w = manual_window
    w.canvas.zoom_to_actual_size()
    _brush_draft(qtbot, w)
    at_100 = w.canvas.draft_item.hatch
    w.canvas.zoom_by(4.0, QPointF(10, 10))
    assert w.canvas.draft_item.hatch < at_100
