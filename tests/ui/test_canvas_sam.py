"""SAM behaviour on the real window: preview throttling, refining objects, per-image undo."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from samdesk.core.document import ObjectSource
from tests.ui.conftest import WAIT_MS, click, view_pos, wait_converted


def test_live_preview_is_latest_wins(qtbot, window, monkeypatch):
    canvas, annotator, engine = window.canvas, window.annotator, window.engine
    submitted = []
    submit = engine.submit

    def counting(prompt):
        submitted.append(prompt)
        return submit(prompt)

    monkeypatch.setattr(engine, "submit", counting)
    path = [(30 + 12 * i, 40 + 8 * i) for i in range(15)]
    for x, y in path:
        qtbot.mouseMove(canvas.viewport(), view_pos(canvas, x, y))
    # While an answer is in flight nothing is queued: far fewer requests than moves.
    assert 1 <= len(submitted) <= 2
    qtbot.waitUntil(
        lambda: annotator._pending is None and annotator._hover_next is None, timeout=WAIT_MS
    )
    # ... and the preview ends on the newest position, not a stale one.
    last = submitted[-1].points[0]
    assert np.allclose(last, path[-1], atol=2)
    assert annotator.hover is not None and len(submitted) <= 3


def test_refine_selected_object_with_points(qtbot, window):
    canvas, annotator = window.canvas, window.annotator
    # A polygon object, then SAM points on it: its mask is the first mask prompt.
    window.tool_actions["Polygon"].trigger()
    for x, y in ((60, 50), (160, 50), (160, 130), (60, 130)):
        click(qtbot, canvas, x, y)
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    wait_converted(qtbot, annotator)
    (obj,) = annotator.record.objects
    assert obj.source == ObjectSource.POLYGON
    annotator.select(obj.id)
    window.tool_actions["SAM Points"].trigger()
    # Refining is an explicit mode (Shift+R / the tool bar), shown by a banner.
    banner = window.tool_bar.refine_banner
    assert not banner.isVisible()
    qtbot.keyClick(canvas, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)
    assert annotator.refine_target == obj.id
    assert (
        banner.isVisible() and "Refining" in banner.text() and "img0.png #1 (car)" in banner.text()
    )
    assert "Esc" in banner.text()
    with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS) as blocker:
        click(qtbot, canvas, 100, 90)
    prompt = blocker.args[0].prompt
    assert prompt.mask_input is not None and (prompt.mask_input > 0).any()
    assert annotator.draft.target_id == obj.id
    assert not canvas.object_item(obj.id).isVisible()  # the draft is drawn in its place
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    wait_converted(qtbot, annotator)
    (refined,) = annotator.record.objects
    assert refined.id == obj.id and refined.region != obj.region
    assert refined.source == ObjectSource.SAM  # SAM made the new geometry
    assert annotator.stack.undoText() == "Refine object"
    assert not banner.isVisible()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert annotator.record.objects[0].region == obj.region
    assert annotator.record.objects[0].source == ObjectSource.POLYGON


def test_plain_click_with_a_selection_starts_a_new_object(qtbot, window):
    canvas, annotator = window.canvas, window.annotator
    window.tool_actions["Polygon"].trigger()
    for x, y in ((60, 50), (160, 50), (160, 130), (60, 130)):
        click(qtbot, canvas, x, y)
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    wait_converted(qtbot, annotator)
    (obj,) = annotator.record.objects
    annotator.select(obj.id)
    window.tool_actions["SAM Points"].trigger()
    with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS) as blocker:
        click(qtbot, canvas, 240, 160)
    prompt = blocker.args[0].prompt
    assert prompt.mask_input is None  # not the selected object's mask
    assert annotator.draft.target_id is None and annotator.selected_id is None
    assert not window.tool_bar.refine_banner.isVisible()
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    wait_converted(qtbot, annotator)
    first, second = annotator.record.objects
    assert first == obj and first.source == ObjectSource.POLYGON  # untouched
    assert second.source == ObjectSource.SAM
    # Escape in the refine mode leaves the object as it was.
    annotator.select(obj.id)
    qtbot.keyClick(canvas, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)
    assert window.tool_bar.refine_banner.isVisible()
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert annotator.refine_target is None and not window.tool_bar.refine_banner.isVisible()
    assert annotator.record.objects[0] == obj


def test_one_undo_stack_per_image(qtbot, window):
    canvas, annotator = window.canvas, window.annotator
    window.tool_actions["Polygon"].trigger()
    for x, y in ((20, 20), (80, 20), (80, 80)):
        click(qtbot, canvas, x, y)
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    wait_converted(qtbot, annotator)
    first = annotator.record
    assert len(first.objects) == 1
    with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
        qtbot.keyClick(canvas, Qt.Key.Key_D)  # next image
    assert annotator.record is not first and annotator.stack.count() == 0
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(first.objects) == 1  # the other image's history is untouched
    with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
        qtbot.keyClick(canvas, Qt.Key.Key_A)
    assert annotator.record is first and annotator.stack.count() == 1
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert first.objects == []
