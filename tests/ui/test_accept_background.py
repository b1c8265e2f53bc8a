"""Accepting a mask slow to trace: converted in the background, the window stays live.

The random-weight model's masks are fragmented (thousands of runs), like a confused SAM's.
A gate holds the worker's conversion until the test opens it, so "during the conversion"
is a state the test controls, not a race.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

from samdesk.core.document import PolygonOptions
from samdesk.core.geometry import mask_to_region
from tests.ui.conftest import WAIT_MS, click, wait_converted


@pytest.fixture
def gate(window, monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Every mask converts in the background and waits there until the event is set."""
    import samdesk.ui.accepting as accepting

    opened = threading.Event()
    real = accepting.crop_to_region

    def gated(*args):
        if threading.current_thread().name.startswith(accepting.THREAD_PREFIX):
            opened.wait(WAIT_MS / 1000)
        return real(*args)

    monkeypatch.setattr(accepting, "crop_to_region", gated)
    monkeypatch.setattr(accepting, "SYNC_MAX_RUNS", 0)
    yield opened
    opened.set()  # never leave the worker blocked (the window joins it on close)


def _draft(qtbot, window, x: float = 110, y: float = 90):
    with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS):
        click(qtbot, window.canvas, x, y)
    return window.annotator.draft


def test_fragmented_mask_is_added_in_the_background(qtbot, window, gate):
    canvas, annotator = window.canvas, window.annotator
    record = annotator.record
    draft = _draft(qtbot, window)
    crop = draft.mask
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    # Converting: the user sees it, and the draft is frozen (clicks on it are ignored).
    assert annotator.converter.busy and annotator.draft is draft and record.objects == []
    assert canvas.viewport().cursor().shape() == Qt.CursorShape.BusyCursor
    assert "Converting" in window.statusBar().currentMessage()
    points = draft.points
    click(qtbot, canvas, 200, 150)
    assert draft.points == points and annotator._pending is None
    gate.set()
    wait_converted(qtbot, annotator)
    # One object, one undo step, the same outline as a synchronous conversion.
    opts = PolygonOptions()
    expected = mask_to_region(
        crop.mask, tolerance=opts.tolerance, min_area=opts.min_area, offset=crop.offset
    )
    assert annotator.draft is None and len(record.objects) == 1
    assert record.objects[0].region == expected and not expected.is_empty
    assert annotator.stack.count() == 1 and annotator.stack.isClean()  # autosaved
    assert canvas.viewport().cursor().shape() != Qt.CursorShape.BusyCursor
    annotator.stack.undo()
    assert record.objects == []


def test_escape_during_conversion_cancels_it(qtbot, window, gate):
    canvas, annotator = window.canvas, window.annotator
    record = annotator.record
    draft = _draft(qtbot, window)
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    assert annotator.converter.busy
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    # Cancelled: nothing added, the draft is editable again (a second Escape drops it).
    assert not annotator.converter.busy and annotator.draft is draft
    assert record.objects == [] and annotator.stack.count() == 0
    # Accepting again adds exactly one object: the cancelled result (computed first on
    # the single worker once the gate opens) was ignored.
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    gate.set()
    wait_converted(qtbot, annotator)
    assert len(record.objects) == 1 and annotator.stack.count() == 1


def test_image_switch_during_conversion_adds_to_the_first_image(qtbot, window, gate):
    canvas, annotator, controller = window.canvas, window.annotator, window.controller
    first = annotator.record
    first_stack = annotator.stack
    _draft(qtbot, window)
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    assert annotator.converter.busy
    with qtbot.waitSignal(controller.image_shown, timeout=WAIT_MS):
        controller.show_image(1)
    second = annotator.record
    assert second is not first and annotator.draft is None
    gate.set()
    wait_converted(qtbot, annotator)
    # The object went to the image it was made on, through that image's undo stack.
    assert len(first.objects) == 1 and second.objects == []
    assert annotator.stack.count() == 0 and first_stack.count() == 1
    assert first_stack.isClean()  # saved
    assert window.controller.store.object_count(0) == 1
    with qtbot.waitSignal(controller.image_shown, timeout=WAIT_MS):
        controller.show_image(0)
    assert annotator.stack is first_stack
    annotator.stack.undo()
    assert first.objects == []
