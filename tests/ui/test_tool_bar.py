"""The tool bar: icons, shortcuts in tooltips, one checked tool shared with the Tools menu,
the active tool in the status bar, the switch to SAM Points when a model arrives, and the
source of brushed objects."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QToolBar

from samdesk.core.document import ObjectSource
from tests.ui.conftest import WAIT_MS, click, view_pos, wait_converted
from tests.ui.workflow_support import isolated_settings  # noqa: F401


def _tools_menu(window):
    return next(
        a.menu() for a in window.menuBar().actions() if a.menu() and "Tools" in a.menu().title()
    )


def test_tool_bar_buttons_menu_and_status_agree(qtbot, manual_window):
    window = manual_window
    bar = window.findChild(QToolBar, "ToolsBar")
    assert bar is not None and bar.isVisible()
    label = window.statusBar().findChild(QLabel, "ActiveToolLabel")
    assert label is not None and label.isVisible()
    menu_actions = _tools_menu(window).actions()
    group = window.tool_actions["Polygon"].actionGroup()
    assert group is not None and group.isExclusive()
    for name, action in window.tool_actions.items():
        assert action in bar.actions() and action in menu_actions  # the very same action
        assert action.actionGroup() is group
        assert not action.icon().isNull(), name
        assert f"({action.shortcut().toString()})" in action.toolTip()
    # No model: Polygon is active, and the status bar says so with its hint.
    assert window.tool_actions["Polygon"].isChecked()
    assert "Polygon" in label.text() and window.tools["Polygon"].tip in label.toolTip()
    assert window.tools["Polygon"].tip[:20] in label.text()
    # ... leaving most of the status bar to the temporary messages ("Added …").
    window.statusBar().showMessage("Added img0.png #1 (car)")
    assert label.geometry().left() > window.statusBar().width() // 3
    # A click on the bar's Brush button: canvas, menu check and status bar follow.
    button = bar.widgetForAction(window.tool_actions["Brush"])
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.canvas.tool is window.tools["Brush"]
    assert window.tool_actions["Brush"].isChecked()
    assert not window.tool_actions["Polygon"].isChecked()
    assert "Brush" in label.text() and "(B)" in label.text()
    # The shortcut of a tool does the same.
    qtbot.keyClick(window.canvas, Qt.Key.Key_V)
    assert window.canvas.tool is window.tools["Select"] and "Select" in label.text()
    # SAM tools are greyed out without a model.
    assert not bar.widgetForAction(window.tool_actions["SAM Points"]).isEnabled()
    # The refine button needs a selection.
    assert not window.tool_bar.refine_action.isEnabled()


def test_model_arriving_switches_to_sam_points_unless_the_user_chose(
    qtbot, manual_window, checkpoint
):
    window = manual_window
    assert window.canvas.tool is window.tools["Polygon"]
    with qtbot.waitSignal(window.engine.availability_changed, timeout=WAIT_MS):
        window.set_engine_options(str(checkpoint), device="cpu")
    assert window.canvas.tool is window.tools["SAM Points"]
    assert window.tool_actions["SAM Points"].isChecked()
    label = window.statusBar().findChild(QLabel, "ActiveToolLabel")
    assert "SAM Points" in label.text()
    # The user picks the brush; another model arriving keeps it.
    window.tool_actions["Brush"].trigger()
    with qtbot.waitSignal(window.engine.availability_changed, timeout=WAIT_MS):
        window.set_engine_options(None)
    with qtbot.waitSignal(window.engine.availability_changed, timeout=WAIT_MS):
        window.set_engine_options(str(checkpoint), device="cpu")
    assert window.canvas.tool is window.tools["Brush"]
    qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)


def test_brush_on_a_sam_object_is_sam_plus_brush(qtbot, window):
    canvas, annotator = window.canvas, window.annotator
    assert canvas.tool is window.tools["SAM Points"]  # a model: SAM points at the start
    with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS):
        click(qtbot, canvas, 120, 90)
    qtbot.keyClick(canvas, Qt.Key.Key_Return)
    wait_converted(qtbot, annotator)
    (obj,) = annotator.record.objects
    assert obj.source == ObjectSource.SAM
    annotator.select(obj.id)
    window.tool_actions["Brush"].trigger()
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_pos(canvas, 20, 20))
    qtbot.mouseMove(viewport, view_pos(canvas, 40, 30))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_pos(canvas, 40, 30))
    wait_converted(qtbot, annotator)
    (brushed,) = annotator.record.objects
    assert brushed.id == obj.id and brushed.source == ObjectSource.SAM_BRUSH
    assert brushed.source.value == "sam+brush"
    # Written to the annotation file as such, and read back.
    store = window.controller.store
    assert store.load_image_annotations(0).objects[0].source == ObjectSource.SAM_BRUSH
