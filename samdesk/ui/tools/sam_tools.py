"""SAM tools: points (with the live preview under the cursor) and box."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent

from samdesk.ui.tools.base import Tool, is_negative_click

DRAG_PX = 4.0  # a press and release closer than this on screen is a click, not a box


class SamPointTool(Tool):
    """Left click adds an including point, right click or Shift+click an excluding one.

    Before the first click the mask under the cursor follows the mouse (live preview).
    With an object selected, points refine it (its mask is the first mask prompt).
    """

    name = "SAM Points"
    shortcut = "S"
    cursor = Qt.CursorShape.CrossCursor
    needs_sam = True
    tip = "Click the object (right/Shift+click: exclude); Tab: other candidates"

    def press(self, pos: QPointF, event: QMouseEvent) -> bool:
        if event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return False
        self.annotator.add_point(pos.x(), pos.y(), not is_negative_click(event))
        return True

    def move(self, pos: QPointF, event: QMouseEvent) -> bool:
        if event.buttons() == Qt.MouseButton.NoButton:
            if self.canvas.image_rect().contains(pos):
                self.annotator.hover_at(pos.x(), pos.y())
            else:
                self.annotator.hover_end()
        return False

    def leave(self) -> None:
        self.annotator.hover_end()

    def deactivate(self) -> None:
        self.annotator.hover_end()


class SamBoxTool(Tool):
    """Drag a box around the object; clicks afterwards add points to the same object."""

    name = "SAM Box"
    shortcut = "X"
    cursor = Qt.CursorShape.CrossCursor
    needs_sam = True
    tip = "Drag a box around the object, then click to add points"

    def __init__(self, canvas, annotator) -> None:
        super().__init__(canvas, annotator)
        self._start: QPointF | None = None

    def press(self, pos: QPointF, event: QMouseEvent) -> bool:
        if event.button() == Qt.MouseButton.RightButton:
            self.annotator.add_point(pos.x(), pos.y(), False)
            return True
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        self._start = pos
        return True

    def move(self, pos: QPointF, event: QMouseEvent) -> bool:
        if self._start is None:
            return False
        self.canvas.prompt_item.rubber_band = (self._start.x(), self._start.y(), pos.x(), pos.y())
        self.canvas.prompt_item.refresh()
        return True

    def release(self, pos: QPointF, event: QMouseEvent) -> bool:
        start, self._start = self._start, None
        if start is None:
            return False
        self.canvas.prompt_item.rubber_band = None
        self.canvas.prompt_item.refresh()
        delta = (pos - start) / self.screen_px()
        if abs(delta.x()) < DRAG_PX and abs(delta.y()) < DRAG_PX:
            draft = self.annotator.draft
            if draft is not None and draft.has_prompt:
                negative = is_negative_click(event)
                self.annotator.add_point(pos.x(), pos.y(), not negative)
            return True
        rect = self.canvas.image_rect()
        x0 = min(max(start.x(), 0.0), rect.width())
        x1 = min(max(pos.x(), 0.0), rect.width())
        y0 = min(max(start.y(), 0.0), rect.height())
        y1 = min(max(pos.y(), 0.0), rect.height())
        self.annotator.set_box((x0, y0, x1, y1))
        return True

    def deactivate(self) -> None:
        self._start = None
        self.canvas.prompt_item.rubber_band = None
        self.canvas.prompt_item.refresh()
