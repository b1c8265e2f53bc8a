"""Brush and eraser: paint onto the object being built, or onto the selected object."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent

from samdesk.ui.tools.base import Tool


class BrushTool(Tool):
    """Paint the mask ([ and ] change the size). A stroke on an object is one undo step."""

    name = "Brush"
    shortcut = "B"
    cursor = Qt.CursorShape.BlankCursor  # the brush outline is the cursor
    tip = "Paint the mask; [ and ] change the size; R refines the result with SAM"
    value = True

    def press(self, pos: QPointF, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        self.annotator.begin_stroke(pos.x(), pos.y(), self.value)
        self._show_outline(pos)
        return True

    def move(self, pos: QPointF, event: QMouseEvent) -> bool:
        self._show_outline(pos)
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.annotator.stroke_to(pos.x(), pos.y())
            return True
        return False

    def release(self, pos: QPointF, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        self.annotator.end_stroke()
        return True

    def _show_outline(self, pos: QPointF) -> None:
        item = self.canvas.prompt_item
        item.brush = (pos.x(), pos.y(), self.annotator.brush_radius)
        item.refresh()

    def leave(self) -> None:
        self.deactivate()

    def deactivate(self) -> None:
        self.annotator.end_stroke()
        self.canvas.prompt_item.brush = None
        self.canvas.prompt_item.refresh()


class EraserTool(BrushTool):
    """Erase from the mask (same size as the brush)."""

    name = "Eraser"
    shortcut = "E"
    tip = "Erase from the mask; [ and ] change the size"
    value = False
