"""Settings → Polygons: the project's simplification settings reach accepted objects."""

from __future__ import annotations

import yaml
from PySide6.QtCore import Qt

from samdesk.core.geometry import mask_to_region
from tests.ui.conftest import WAIT_MS, click, wait_converted


def test_polygon_settings_are_saved_and_used_on_accept(qtbot, window) -> None:
    workflow = window.workflow
    dialog = workflow.show_polygon_settings()
    assert dialog.options().tolerance == 0.5 and dialog.options().min_area == 4.0
    dialog.tolerance.setValue(0.0)
    dialog.min_area.setValue(0.0)
    dialog.accept()
    store = window.controller.store
    saved = yaml.safe_load(store.path.read_text())["settings"]
    assert saved["polygon_tolerance"] == 0.0 and saved["polygon_min_area"] == 0.0

    canvas, annotator = window.canvas, window.annotator
    window.activateWindow()  # the dialog had the focus; shortcuts go to the active window
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    canvas.setFocus()
    with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS):
        click(qtbot, canvas, 110, 90)
    crop = annotator.draft.mask
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    wait_converted(qtbot, annotator)
    region = annotator.record.objects[-1].region
    # Tolerance 0 and no minimum area: the outline is the mask's exact pixel edges.
    assert region == mask_to_region(crop.mask, tolerance=0.0, min_area=0.0, offset=crop.offset)


def test_polygon_settings_need_a_project(qtbot, manual_window) -> None:
    manual_window.controller.store = None
    assert manual_window.workflow.show_polygon_settings() is None
