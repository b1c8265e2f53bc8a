"""Editing on the real window: brush + refine, polygons and vertex drags, waiting, no model."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import Qt

from samdesk.core.document import ObjectSource
from samdesk.core.geometry import region_area
from tests.ui.conftest import WAIT_MS, _close, _open_window, click, view_pos, wait_converted


def _use(window, name: str) -> None:
    window.tool_actions[name].trigger()


def _drag(qtbot, canvas, points, button=Qt.MouseButton.LeftButton) -> None:
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, button, pos=view_pos(canvas, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(viewport, view_pos(canvas, *p))
    qtbot.mouseRelease(viewport, button, pos=view_pos(canvas, *points[-1]))


def test_brush_then_refine_with_sam(qtbot, window):
    canvas, annotator = window.canvas, window.annotator
    _use(window, "Brush")
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)  # bigger brush
    assert annotator.brush_radius > 12
    _drag(qtbot, canvas, [(80, 70), (100, 75), (130, 80)])
    draft = annotator.draft
    assert draft is not None and draft.state.source == ObjectSource.BRUSH
    painted = draft.mask
    assert painted.mask.sum() > 500 and canvas.draft_item.isVisible()
    assert draft.state.logits is None  # an edited mask is not SAM's answer
    # Refine: the painted mask goes to SAM as its low-res mask prompt.
    with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(canvas, Qt.Key.Key_R)
    prompt = blocker.args[0].prompt
    assert prompt.mask_input.shape == (1, 256, 256) and (prompt.mask_input > 0).any()
    assert annotator.draft.mask is not painted
    # Backspace goes back to the painted mask, Enter accepts it.
    qtbot.keyClick(canvas, Qt.Key.Key_Backspace)
    assert annotator.draft.mask is painted
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    wait_converted(qtbot, annotator)
    (obj,) = annotator.record.objects
    assert obj.source == ObjectSource.BRUSH and region_area(obj.region) > 500
    # The eraser on the selected object is one undo step.
    _use(window, "Select")
    click(qtbot, canvas, 100, 75)
    assert annotator.selected_id == obj.id
    _use(window, "Eraser")
    before = region_area(annotator.record.objects[0].region)
    _drag(qtbot, canvas, [(100, 55), (100, 75), (100, 95)])
    after = region_area(annotator.record.objects[0].region)
    assert after < before
    assert annotator.stack.count() == 2
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert region_area(annotator.record.objects[0].region) == before


def test_polygon_draw_and_vertex_drag(qtbot, manual_window):
    window = manual_window
    canvas, annotator = window.canvas, window.annotator
    assert not window.tool_actions["SAM Points"].isEnabled()  # no model: SAM tools off
    assert canvas.tool.name == "Polygon"
    for x, y in ((40, 40), (140, 40), (140, 120), (40, 120)):
        click(qtbot, canvas, x, y)
    assert len(annotator.draft.polygon) == 4
    click(qtbot, canvas, 40, 40)  # the first vertex closes it
    (obj,) = annotator.record.objects
    assert obj.source == ObjectSource.POLYGON and region_area(obj.region) > 7000
    # Select it (Ctrl+click) and drag a vertex: one undo step.
    click(qtbot, canvas, 90, 80, modifier=Qt.KeyboardModifier.ControlModifier)
    assert annotator.selected_id == obj.id and len(canvas.prompt_item.handles) == 4
    steps = annotator.stack.count()
    _drag(qtbot, canvas, [(140, 120), (160, 130), (180, 150)])
    assert annotator.stack.count() == steps + 1
    moved = annotator.record.objects[0].region
    assert np.abs(moved.parts[0].exterior - (180, 150)).sum(axis=1).min() < 3
    assert region_area(moved) > region_area(obj.region)
    # Press on an edge: a new vertex, dragged, one more step; right click deletes it.
    _drag(qtbot, canvas, [(90, 40), (90, 20)])
    assert len(annotator.record.objects[0].region.parts[0].exterior) == 5
    click(qtbot, canvas, 90, 20, Qt.MouseButton.RightButton)
    assert len(annotator.record.objects[0].region.parts[0].exterior) == 4
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert annotator.record.objects[0].region == obj.region


def test_polygon_with_hole_vertices(qtbot, manual_window):
    from samdesk.core.document import AnnotationObject, PolygonPart, Region
    from samdesk.ui.commands import AddObjectCommand

    annotator, canvas = manual_window.annotator, manual_window.canvas
    ring = [(20, 20), (180, 20), (180, 140), (20, 140)]
    hole = [(60, 60), (120, 60), (120, 100), (60, 100)]
    obj = AnnotationObject(1, Region((PolygonPart(ring, (hole,)),)))
    annotator.push(AddObjectCommand(annotator.record, obj, annotator._changed))
    annotator.select(obj.id)
    assert len(canvas.prompt_item.handles) == 8  # the hole's vertices can be edited too
    _drag(qtbot, canvas, [(120, 100), (130, 110)])
    new_hole = annotator.record.objects[0].region.parts[0].holes[0]
    assert np.abs(new_hole - (130, 110)).sum(axis=1).min() < 3


def test_visibility_and_opacity(qtbot, manual_window):
    window = manual_window
    canvas, annotator = window.canvas, window.annotator
    for x, y in ((40, 40), (140, 40), (140, 120)):
        click(qtbot, canvas, x, y)
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    wait_converted(qtbot, annotator)
    (obj,) = annotator.record.objects
    item = canvas.object_item(obj.id)
    assert item.isVisible()
    qtbot.keyClick(canvas, Qt.Key.Key_H)  # all objects off and on
    assert not canvas.object_item(obj.id).isVisible()
    qtbot.keyClick(canvas, Qt.Key.Key_H)
    assert canvas.object_item(obj.id).isVisible()
    annotator.select(obj.id)
    qtbot.keyClick(canvas, Qt.Key.Key_H, Qt.KeyboardModifier.ShiftModifier)  # this object
    assert annotator.record.objects[0].hidden and not canvas.object_item(obj.id).isVisible()
    opacity = canvas.fill_opacity
    qtbot.keyClick(canvas, Qt.Key.Key_Period)
    assert canvas.fill_opacity > opacity


def test_sam_tools_wait_for_the_embedding(qtbot, project, checkpoint, monkeypatch):
    from samdesk.engine.backend import SamBackend

    gate = threading.Event()
    encode = SamBackend.encode

    def gated(self, rgb, check_cancel):
        gate.wait(WAIT_MS / 1000)
        return encode(self, rgb, check_cancel)

    monkeypatch.setattr(SamBackend, "encode", gated)
    window = _open_window(qtbot, project, checkpoint)
    try:
        canvas, annotator = window.canvas, window.annotator
        assert annotator.waiting
        assert canvas.viewport().cursor().shape() == Qt.CursorShape.BusyCursor
        qtbot.mouseMove(canvas.viewport(), view_pos(canvas, 110, 90))
        assert annotator.hover is None and annotator._pending is None  # nothing queued
        click(qtbot, canvas, 110, 90)  # asked for: decoded as soon as the image is ready
        assert annotator.draft is not None and annotator.draft.mask.is_empty
        with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS):
            gate.set()
        assert not annotator.draft.mask.is_empty
        assert canvas.viewport().cursor().shape() == Qt.CursorShape.CrossCursor
        # Manual tools worked all along; the polygon tool needs no model.
    finally:
        gate.set()
        _close(window)


def test_shortcuts_dialog_lists_every_action(qtbot, manual_window):
    from samdesk.ui.shortcuts_dialog import ShortcutsDialog, shortcut_rows

    rows = shortcut_rows(manual_window.actions())
    names = {name for _menu, name, _keys in rows}
    for expected in (
        "Undo",
        "Redo",
        "Accept Object",
        "Next Candidate",
        "SAM Points",
        "Brush",
        "Polygon",
        "Remove Last Point",
        "car",
    ):
        assert expected in names, expected
    keys = {name: k for _m, name, k in rows}
    assert "Ctrl+Y" in keys["Redo"] and "Space" in keys["Accept Object"]
    dialog = ShortcutsDialog(manual_window.actions(), manual_window)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() >= len(rows)


def test_accepted_mask_matches_region(qtbot, window):
    canvas, annotator = window.canvas, window.annotator
    with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS):
        click(qtbot, canvas, 110, 90)
    crop = annotator.draft.mask
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    wait_converted(qtbot, annotator)
    region = annotator.record.objects[0].region
    # The document gets the mask's outline from geometry.mask_to_region (crop + offset).
    from samdesk.core.document import PolygonOptions
    from samdesk.core.geometry import mask_to_region

    TOLERANCE, MIN_AREA = PolygonOptions().tolerance, PolygonOptions().min_area

    expected = mask_to_region(crop.mask, tolerance=TOLERANCE, min_area=MIN_AREA, offset=crop.offset)
    assert region == expected and not region.is_empty


def test_unusable_checkpoint_leaves_manual_tools(qtbot, project, tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    window = _open_window(qtbot, project, bad)
    try:
        qtbot.waitUntil(lambda: not window.engine.available, timeout=WAIT_MS)
        assert not window.tool_actions["SAM Points"].isEnabled()
        assert window.canvas.tool.name == "Polygon"
        assert "model" in window.engine.status.lower()
        assert "Cannot load the model" in window.log_view.toPlainText()
    finally:
        _close(window)
