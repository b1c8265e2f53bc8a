"""The tool interface: the canvas hands mouse events (in image coordinates) to one tool."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent

if TYPE_CHECKING:
    from samdesk.ui.annotator import Annotator
    from samdesk.ui.canvas import CanvasView


class Tool:
    """One way of using the mouse on the canvas. Subclasses set the class attributes.

    Event methods get the position in image coordinates (scene = image pixels) and return
    True when they used the event. The middle button and Space-drag pan before any tool.
    """

    name = "Tool"
    shortcut = ""
    cursor = Qt.CursorShape.ArrowCursor
    needs_sam = False
    tip = ""

    def __init__(self, canvas: CanvasView, annotator: Annotator) -> None:
        self.canvas = canvas
        self.annotator = annotator

    def activate(self) -> None:
        """The tool became current."""

    def deactivate(self) -> None:
        """Another tool became current: drop transient state (hover preview, rubber band)."""

    def press(self, pos: QPointF, event: QMouseEvent) -> bool:
        return False

    def move(self, pos: QPointF, event: QMouseEvent) -> bool:
        return False

    def release(self, pos: QPointF, event: QMouseEvent) -> bool:
        return False

    def double_click(self, pos: QPointF, event: QMouseEvent) -> bool:
        return False

    def leave(self) -> None:
        """The cursor left the canvas."""

    def screen_px(self) -> float:
        """One screen pixel in image pixels (for hit tolerances that feel the same at any zoom)."""
        return 1.0 / max(self.canvas.scale_factor(), 1e-6)


def is_negative_click(event: QMouseEvent) -> bool:
    """Right button, or Shift with the left button: an exclusion point."""
    return event.button() == Qt.MouseButton.RightButton or bool(
        event.modifiers() & Qt.KeyboardModifier.ShiftModifier
    )


class SelectTool(Tool):
    """Click an object to select it (then Delete, a number key, Brush, SAM points refine it)."""

    name = "Select"
    shortcut = "V"
    cursor = Qt.CursorShape.ArrowCursor
    tip = "Select objects: click an object; Escape clears the selection"

    def press(self, pos: QPointF, event: QMouseEvent) -> bool:
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        self.annotator.select(self.canvas.object_at(pos))
        return True
