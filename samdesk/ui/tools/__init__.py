"""Canvas tools: one class per tool, each with a name, a shortcut and a cursor."""

from __future__ import annotations

from samdesk.ui.tools.base import SelectTool, Tool
from samdesk.ui.tools.brush import BrushTool, EraserTool
from samdesk.ui.tools.polygon import PolygonTool
from samdesk.ui.tools.sam_tools import SamBoxTool, SamPointTool

TOOL_CLASSES: tuple[type[Tool], ...] = (
    SamPointTool,
    SamBoxTool,
    BrushTool,
    EraserTool,
    PolygonTool,
    SelectTool,
)

__all__ = [
    "TOOL_CLASSES",
    "BrushTool",
    "EraserTool",
    "PolygonTool",
    "SamBoxTool",
    "SamPointTool",
    "SelectTool",
    "Tool",
]
