"""The canvas tools on the real window: SAM points/box, candidates, accept, undo/redo."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from samdesk.core.document import ObjectSource
from samdesk.io.project import ProjectStore
from tests.ui.conftest import WAIT_MS, click, view_pos, wait_converted


def _decoded(qtbot, window):
    return qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS)


def _use(window, name: str) -> None:
    window.tool_actions[name].trigger()


def test_click_preview_accept_undo_redo(qtbot, window, project):
    canvas, annotator = window.canvas, window.annotator
    record = annotator.record
    # Live preview: moving over the image shows the mask under the cursor.
    with _decoded(qtbot, window):
        # Two positions: Qt drops a move to where the cursor already is (an earlier test).
        qtbot.mouseMove(canvas.viewport(), view_pos(canvas, 20, 20))
        qtbot.mouseMove(canvas.viewport(), view_pos(canvas, 110, 90))
    qtbot.waitUntil(lambda: annotator.hover is not None, timeout=WAIT_MS)
    assert canvas.hover_item.isVisible()
    # Click → the object being built has a point and a mask, drawn as an overlay.
    with _decoded(qtbot, window):
        click(qtbot, canvas, 110, 90)
    draft = annotator.draft
    assert draft is not None and _near(draft.points, [(110, 90)]) and draft.labels == (1,)
    assert not draft.mask.is_empty and canvas.draft_item.isVisible()
    assert _near(canvas.prompt_item.points, [(110, 90)])
    assert "ms" in window._latency_label.text()
    # Accept (Enter) → an object of the current class, saved on disk.
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    wait_converted(qtbot, annotator)
    assert annotator.draft is None and len(record.objects) == 1
    obj = record.objects[0]
    assert obj.class_id == 1 and obj.source == ObjectSource.SAM and obj.prompt["labels"] == [1]
    assert window.canvas.object_item(obj.id) is not None
    on_disk = ProjectStore.open(project).load_image_annotations(0)
    assert [o.id for o in on_disk.objects] == [obj.id]
    assert not window.isWindowModified()
    # Undo → gone (and saved so); redo → back.
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert record.objects == [] and canvas.object_item(obj.id) is None
    assert ProjectStore.open(project).load_image_annotations(0).objects == []
    qtbot.keyClick(
        canvas,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert [o.id for o in record.objects] == [obj.id]
    qtbot.keyClick(canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)  # nothing to redo
    assert len(record.objects) == 1
    assert window.image_list.model.data(window.image_list.model.index(0)).endswith("(1)")


def test_negative_point_changes_mask_and_backspace(qtbot, window):
    canvas, annotator = window.canvas, window.annotator
    with _decoded(qtbot, window):
        click(qtbot, canvas, 110, 90)
    first = annotator.draft.mask
    with _decoded(qtbot, window):
        click(qtbot, canvas, 90, 70, Qt.MouseButton.RightButton)
    draft = annotator.draft
    assert draft.labels == (1, 0)
    assert draft.state.logits is not None
    second = draft.mask
    assert second.offset != first.offset or not np.array_equal(second.mask, first.mask)
    # Shift+click is negative too.
    with _decoded(qtbot, window):
        click(qtbot, canvas, 150, 100, modifier=Qt.KeyboardModifier.ShiftModifier)
    assert annotator.draft.labels == (1, 0, 0)
    # Backspace takes back the last point and its mask.
    qtbot.keyClick(canvas, Qt.Key.Key_Backspace)
    assert annotator.draft.labels == (1, 0) and annotator.draft.mask is second
    # Escape discards the object being built: nothing is added.
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert annotator.draft is None and annotator.record.objects == []
    assert not canvas.draft_item.isVisible() and canvas.prompt_item.points == []


def test_box_then_point(qtbot, window):
    canvas, annotator = window.canvas, window.annotator
    _use(window, "SAM Box")
    viewport = canvas.viewport()
    with _decoded(qtbot, window):
        qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_pos(canvas, 70, 50))
        qtbot.mouseMove(viewport, view_pos(canvas, 120, 90))
        qtbot.mouseMove(viewport, view_pos(canvas, 170, 130))
        qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_pos(canvas, 170, 130))
    draft = annotator.draft
    assert draft.box is not None and not draft.mask.is_empty
    x0, _y0, _x1, y1 = draft.box
    assert abs(x0 - 70) < 2 and abs(y1 - 130) < 2
    with _decoded(qtbot, window):
        click(qtbot, canvas, 100, 80)
    assert _near(annotator.draft.points, [(100, 80)]) and annotator.draft.box is not None
    qtbot.keyClick(canvas, Qt.Key.Key_Space)
    wait_converted(qtbot, annotator)
    assert len(annotator.record.objects) == 1
    assert annotator.record.objects[0].prompt["box"] is not None


def test_tab_cycles_candidates(qtbot, window):
    canvas, annotator = window.canvas, window.annotator
    with _decoded(qtbot, window):
        click(qtbot, canvas, 110, 90)
    best_score = annotator.draft.state.score
    with _decoded(qtbot, window):
        qtbot.keyClick(canvas, Qt.Key.Key_Tab)
    draft = annotator.draft
    assert len(draft.candidates) == 3
    assert max(c.score for c in draft.candidates) == np.float32(best_score) or np.isclose(
        max(c.score for c in draft.candidates), best_score, atol=1e-4
    )
    seen = {draft.candidate_index}
    shown = [draft.mask]
    for _ in range(2):
        qtbot.keyClick(canvas, Qt.Key.Key_Tab)  # cycling is local: no new decode
        seen.add(annotator.draft.candidate_index)
        shown.append(annotator.draft.mask)
    assert seen == {0, 1, 2}
    assert "IoU" in canvas.prompt_item.label
    assert annotator.draft.state.score in [c.score for c in draft.candidates]


def test_number_key_picks_class_and_changes_selected(qtbot, window):
    canvas, annotator = window.canvas, window.annotator
    qtbot.keyClick(canvas, Qt.Key.Key_2)
    assert annotator.class_id == 2
    with _decoded(qtbot, window):
        click(qtbot, canvas, 110, 90)
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    wait_converted(qtbot, annotator)
    obj = annotator.record.objects[0]
    assert obj.class_id == 2
    # Select it, then 3 changes its class (one undo step).
    _use(window, "Select")
    x, y = _inside(obj)
    click(qtbot, canvas, x, y)
    assert annotator.selected_id == obj.id
    qtbot.keyClick(canvas, Qt.Key.Key_3)
    assert annotator.record.objects[0].class_id == 3
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert annotator.record.objects[0].class_id == 2
    # Delete removes the selected object (undoable).
    click(qtbot, canvas, x, y)
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert annotator.record.objects == []


def _near(points, expected, tol: float = 2.0) -> bool:
    """Points equal within ``tol`` image pixels (view ↔ image mapping rounds to pixels)."""
    return len(points) == len(expected) and all(
        abs(px - ex) <= tol and abs(py - ey) <= tol
        for (px, py), (ex, ey) in zip(points, expected, strict=True)
    )


def _inside(obj) -> tuple[float, float]:
    """A pixel centre inside the object."""
    from samdesk.core.geometry import region_to_mask

    mask = region_to_mask(obj.region, 400, 400)
    rows, cols = np.nonzero(mask)
    i = len(rows) // 2
    return cols[i] + 0.5, rows[i] + 0.5


def test_enter_right_after_click_accepts_the_answer(qtbot, window):
    canvas, annotator = window.canvas, window.annotator
    with _decoded(qtbot, window):
        click(qtbot, canvas, 110, 90)
        qtbot.keyClick(canvas, Qt.Key.Key_Return)  # faster than the decoder
    wait_converted(qtbot, annotator)
    assert annotator.draft is None and len(annotator.record.objects) == 1


def test_space_drag_pans_without_accepting(qtbot, manual_window):
    canvas, annotator = manual_window.canvas, manual_window.annotator
    canvas.zoom_by(4.0)
    for x, y in ((40, 40), (140, 40), (140, 120)):
        click(qtbot, canvas, x, y)
    before = canvas.mapToScene(canvas.viewport().rect().center())
    viewport = canvas.viewport()
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    center = viewport.rect().center()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=center)
    qtbot.mouseMove(viewport, center + center / 4)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=center + center / 4)
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    after = canvas.mapToScene(viewport.rect().center())
    assert (after - before).manhattanLength() > 5
    assert annotator.record.objects == [] and len(annotator.draft.polygon) == 3
    qtbot.keyClick(canvas, Qt.Key.Key_Space)  # Space alone accepts
    wait_converted(qtbot, annotator)
    assert len(annotator.record.objects) == 1
