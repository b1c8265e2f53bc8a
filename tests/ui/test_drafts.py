"""Unaccepted objects are never dropped without a word: kept per image while the user
pages through images, asked about (Accept All / Discard / Cancel) on quit and on opening
another project. Through the real window (offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from samdesk.io.project import ProjectStore
from samdesk.ui.drafts import ask_pending
from tests.ui.conftest import WAIT_MS, click, write_images
from tests.ui.workflow_support import isolated_settings  # noqa: F401

TRIANGLE = [(30, 30), (150, 40), (90, 130)]


def _draw_polygon_draft(qtbot, w, points=TRIANGLE) -> None:
    """Click polygon vertices on the canvas (the polygon tool) without closing it."""
    w.tool_actions["Polygon"].trigger()
    for x, y in points:
        click(qtbot, w.canvas, x, y)
    assert w.annotator.draft is not None and len(w.annotator.draft.polygon) == len(points)


def _go(qtbot, w, how: str, row: int) -> None:
    """Change image the way a user does; wait until image ``row`` is shown."""
    canvas, flow = w.canvas, w.workflow
    with qtbot.waitSignal(w.controller.image_shown, timeout=WAIT_MS) as shown:
        if how == "D":
            qtbot.keyClick(canvas, Qt.Key.Key_D)
        elif how == "A":
            qtbot.keyClick(canvas, Qt.Key.Key_A)
        elif how == "N":
            qtbot.keyClick(canvas, Qt.Key.Key_N)
        elif how == "Ctrl+Return":
            qtbot.keyClick(canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        elif how == "list":  # a click on the image's row
            view = w.image_list.view
            rect = view.visualRect(view.model().index(row, 0))
            qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        else:
            raise AssertionError(how)
    assert shown.args[0] == row
    assert flow is w.workflow


def _answer_box(qtbot, w, button_text: str, seen: list[str]) -> None:
    """When the question box opens, note its text and click ``button_text`` (the user)."""
    w.drafts.ask = lambda paths, leaving: ask_pending(w, paths, leaving)  # the real box

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append(box.text())
        button = next(b for b in box.buttons() if b.text().replace("&", "") == button_text)
        button.click()

    QTimer.singleShot(0, answer)


@pytest.mark.parametrize("how", ["D", "list", "N", "Ctrl+Return"])
def test_image_change_keeps_the_draft_for_its_image(qtbot, manual_window, project, how):
    w = manual_window
    a = w.annotator
    _draw_polygon_draft(qtbot, w)
    draft, polygon = a.draft, a.draft.polygon
    _go(qtbot, w, how, 1)
    # Not on screen, not accepted, not lost: kept for img0, and the status says so.
    assert a.draft is None and a.record.path == "img1.png"
    assert list(a.stashed) == ["img0.png"]
    assert "1 unaccepted on other images" in w.drafts.status.text()
    model = w.image_list.model
    assert model.data(model.index(0)).endswith("✎ draft")  # the list says where it waits
    assert not model.data(model.index(1)).endswith("✎ draft")
    assert ProjectStore.open(project).load_image_annotations(0).objects == []
    _go(qtbot, w, "A", 0)
    # Back: the same prompts as a draft again (drawn, with its own Backspace history).
    assert a.draft is draft and a.draft.polygon == polygon
    assert w.canvas.prompt_item.polygon == list(polygon)
    assert "Draft — Enter to accept" in w.drafts.status.text()
    qtbot.keyClick(w.canvas, Qt.Key.Key_Backspace)
    assert len(a.draft.polygon) == 2
    click(qtbot, w.canvas, *TRIANGLE[2])
    qtbot.keyClick(w.canvas, Qt.Key.Key_Return)
    assert a.draft is None and not a.stashed
    assert not model.data(model.index(0)).endswith("✎ draft")
    (obj,) = ProjectStore.open(project).load_image_annotations(0).objects
    assert obj.region.parts[0].exterior.shape[0] == 3


def test_brush_draft_comes_back_pixel_for_pixel(qtbot, manual_window):
    w = manual_window
    a = w.annotator
    w.tool_actions["Brush"].trigger()
    qtbot.mousePress(w.canvas.viewport(), Qt.MouseButton.LeftButton, pos=_vp(w, 60, 60))
    qtbot.mouseMove(w.canvas.viewport(), _vp(w, 100, 80))
    qtbot.mouseRelease(w.canvas.viewport(), Qt.MouseButton.LeftButton, pos=_vp(w, 100, 80))
    before = a.draft.mask
    assert not before.is_empty
    mask, offset = before.mask.copy(), before.offset
    _go(qtbot, w, "D", 1)
    assert w.canvas.draft_item.crop is None  # nothing of img0's draft over img1
    _go(qtbot, w, "A", 0)
    assert np.array_equal(a.draft.mask.mask, mask) and a.draft.mask.offset == offset
    assert w.canvas.draft_item.isVisible()


def _vp(w, x, y):
    from tests.ui.conftest import view_pos

    return view_pos(w.canvas, x, y)


def test_sam_draft_comes_back_with_its_points_and_mask(qtbot, window):
    w = window
    a = w.annotator
    w.tool_actions["SAM Points"].trigger()
    with qtbot.waitSignal(w.engine.decoded, timeout=WAIT_MS):
        click(qtbot, w.canvas, 110, 90)
    with qtbot.waitSignal(w.engine.decoded, timeout=WAIT_MS):
        click(qtbot, w.canvas, 20, 20, Qt.MouseButton.RightButton)
    points, labels = a.draft.points, a.draft.labels
    mask = a.draft.mask.mask.copy()
    _go(qtbot, w, "D", 1)
    assert a.draft is None
    _go(qtbot, w, "A", 0)
    assert a.draft.points == points and a.draft.labels == labels
    assert np.array_equal(a.draft.mask.mask, mask)
    assert w.canvas.prompt_item.points == list(points)
    # The model is switched off while the draft waits on another image: its mask and
    # prompts stay (the old model's logits do not), and it is accepted as it is.
    _go(qtbot, w, "D", 1)
    w.set_engine_options(None)
    _go(qtbot, w, "A", 0)
    assert np.array_equal(a.draft.mask.mask, mask) and a.draft.state.logits is None
    qtbot.keyClick(w.canvas, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(a.record.objects) == 1, timeout=WAIT_MS)
    assert a.draft is None and not a.stashed


def test_quit_asks_and_accept_all_saves_every_draft(qtbot, manual_window, project):
    w = manual_window
    _draw_polygon_draft(qtbot, w)
    _go(qtbot, w, "D", 1)
    _draw_polygon_draft(qtbot, w, [(20, 20), (120, 20), (70, 100)])
    seen: list[str] = []
    _answer_box(qtbot, w, "Accept All", seen)
    assert w.close()
    assert seen == ["2 unaccepted objects on images img0.png, img1.png"]
    store = ProjectStore.open(project)
    assert len(store.load_image_annotations(0).objects) == 1
    assert len(store.load_image_annotations(1).objects) == 1


def test_quit_cancel_keeps_the_window_and_the_drafts(qtbot, manual_window, project):
    w = manual_window
    _draw_polygon_draft(qtbot, w)
    seen: list[str] = []
    _answer_box(qtbot, w, "Cancel", seen)
    assert not w.close()
    assert seen and w.isVisible() and w.annotator.draft is not None
    # Discard is an explicit choice: then nothing is written and the window closes.
    _answer_box(qtbot, w, "Discard", seen)
    assert w.close()
    assert ProjectStore.open(project).load_image_annotations(0).objects == []


def test_opening_another_project_asks_first(qtbot, manual_window, project, tmp_path):
    w = manual_window
    other = tmp_path / "other"
    other.mkdir()
    write_images(other)
    ProjectStore.create(other, "other")
    _draw_polygon_draft(qtbot, w)
    _go(qtbot, w, "D", 1)
    # Cancel: the project stays open, the draft kept.
    w.drafts.ask = lambda paths, leaving: "cancel"
    assert not w.open_path(other)
    assert w.controller.store.root == project and list(w.annotator.stashed) == ["img0.png"]
    # Accept All (answered in the real box): the draft becomes an object, then the switch.
    seen: list[str] = []
    _answer_box(qtbot, w, "Accept All", seen)
    with qtbot.waitSignal(w.controller.image_shown, timeout=WAIT_MS):
        assert w.open_path(other)
    assert seen == ["1 unaccepted object on image img0.png"]
    assert w.controller.store.root == other and not w.annotator.stashed
    assert len(ProjectStore.open(project).load_image_annotations(0).objects) == 1
