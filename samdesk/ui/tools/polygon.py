"""Polygon tool: draw an object by hand, and edit the vertices of the selected object.

With an object selected, its vertices (holes included) get handles: drag one to move it,
press on an edge to insert a vertex there and drag it, right-click a vertex to delete it.
Each such gesture is one undo command, pushed on release. Otherwise clicks add vertices
of a new polygon; clicking its first vertex or pressing Enter closes it. Ctrl+click
selects the object under the cursor.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent

from samdesk.core.document import AnnotationObject, PolygonPart, Region
from samdesk.ui.tools.base import Tool

HIT_PX = 7.0  # how near (screen pixels) a press must be to a vertex or edge

RingRef = tuple[int, int]  # (part index, ring index: 0 = exterior, 1.. = holes)


def rings_of(region: Region) -> list[tuple[RingRef, np.ndarray]]:
    """Every ring of a region with its address (part, ring)."""
    out = []
    for p, part in enumerate(region.parts):
        out.append(((p, 0), part.exterior))
        out.extend(((p, h + 1), hole) for h, hole in enumerate(part.holes))
    return out


def with_ring(region: Region, ref: RingRef, ring: np.ndarray) -> Region:
    """A copy of ``region`` with the ring at ``ref`` replaced."""
    parts = list(region.parts)
    p, r = ref
    part = parts[p]
    if r == 0:
        parts[p] = PolygonPart(ring, part.holes)
    else:
        holes = list(part.holes)
        holes[r - 1] = ring
        parts[p] = PolygonPart(part.exterior, tuple(holes))
    return Region(tuple(parts))


def nearest_vertex(region: Region, x: float, y: float, tol: float):
    """(ring ref, vertex index) of the vertex nearest to (x, y) within ``tol``, or None."""
    best, best_d = None, tol * tol
    for ref, ring in rings_of(region):
        d = (ring[:, 0] - x) ** 2 + (ring[:, 1] - y) ** 2
        i = int(np.argmin(d))
        if d[i] <= best_d:
            best, best_d = (ref, i), float(d[i])
    return best


def nearest_edge(region: Region, x: float, y: float, tol: float):
    """(ring ref, index of the edge's first vertex) of the nearest edge within ``tol``."""
    best, best_d = None, tol * tol
    for ref, ring in rings_of(region):
        a, b = ring, np.roll(ring, -1, axis=0)
        ab = b - a
        length2 = np.maximum((ab**2).sum(axis=1), 1e-12)
        t = np.clip(((x - a[:, 0]) * ab[:, 0] + (y - a[:, 1]) * ab[:, 1]) / length2, 0, 1)
        d = (a[:, 0] + t * ab[:, 0] - x) ** 2 + (a[:, 1] + t * ab[:, 1] - y) ** 2
        i = int(np.argmin(d))
        if d[i] <= best_d:
            best, best_d = (ref, i), float(d[i])
    return best


class PolygonTool(Tool):
    name = "Polygon"
    shortcut = "P"
    cursor = Qt.CursorShape.CrossCursor
    tip = "Click vertices (Enter or the first vertex closes); edit the selected object's vertices"

    def __init__(self, canvas, annotator) -> None:
        super().__init__(canvas, annotator)
        self._drag: tuple[AnnotationObject, RingRef, int, str] | None = None
        self._preview: Region | None = None

    # ----- handles of the selected object --------------------------------------------------
    def activate(self) -> None:
        self.annotator.selection_changed.connect(self._update_handles)
        self.annotator.document_changed.connect(self._update_handles)
        self._update_handles()

    def deactivate(self) -> None:
        self.annotator.selection_changed.disconnect(self._update_handles)
        self.annotator.document_changed.disconnect(self._update_handles)
        self._drag = None
        item = self.canvas.prompt_item
        item.handles, item.polygon_cursor, item.active_handle = [], None, None
        item.refresh()

    def _update_handles(self, *_args: object, region: Region | None = None) -> None:
        obj = self.annotator.selected_object()
        if region is None:
            region = obj.region if obj is not None else Region()
        item = self.canvas.prompt_item
        item.handles = [(float(x), float(y)) for _ref, ring in rings_of(region) for x, y in ring]
        item.refresh()

    # ----- mouse -------------------------------------------------------------------------
    def press(self, pos: QPointF, event: QMouseEvent) -> bool:
        x, y = pos.x(), pos.y()
        tol = HIT_PX * self.screen_px()
        draft = self.annotator.draft
        drawing = draft is not None and bool(draft.polygon)
        obj = self.annotator.selected_object()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier and not drawing:
            self.annotator.select(self.canvas.object_at(pos))
            return True
        if obj is not None and not drawing:
            vertex = nearest_vertex(obj.region, x, y, tol)
            if event.button() == Qt.MouseButton.RightButton:
                if vertex is not None:
                    self._delete_vertex(obj, *vertex)
                return True
            if event.button() != Qt.MouseButton.LeftButton:
                return False
            if vertex is not None:
                self._drag = (obj, vertex[0], vertex[1], "Move vertex")
                return True
            edge = nearest_edge(obj.region, x, y, tol)
            if edge is not None:
                ref, i = edge
                ring = dict(rings_of(obj.region))[ref]
                inserted = np.insert(np.asarray(ring), i + 1, [x, y], axis=0)
                moved = replace(obj, region=with_ring(obj.region, ref, inserted))
                self._drag = (moved, ref, i + 1, "Insert vertex")
                self._preview_region(moved.region)
                return True
        if event.button() == Qt.MouseButton.RightButton and drawing:
            self.annotator.remove_last()
            return True
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        if drawing and len(draft.polygon) >= 3:
            fx, fy = draft.polygon[0]
            if (fx - x) ** 2 + (fy - y) ** 2 <= tol * tol:
                self.annotator.accept()
                return True
        self.annotator.add_polygon_vertex(x, y)
        return True

    def move(self, pos: QPointF, event: QMouseEvent) -> bool:
        item = self.canvas.prompt_item
        if self._drag is not None:
            obj, ref, i, _text = self._drag
            ring = np.array(dict(rings_of(obj.region))[ref])
            ring[i] = (pos.x(), pos.y())
            self._preview_region(with_ring(obj.region, ref, ring))
            return True
        draft = self.annotator.draft
        if draft is not None and draft.polygon:
            item.polygon_cursor = (pos.x(), pos.y())
            item.refresh()
        return False

    def release(self, pos: QPointF, event: QMouseEvent) -> bool:
        drag, self._drag = self._drag, None
        if drag is None or self._preview is None:
            return drag is not None
        obj, _ref, _i, text = drag
        region, self._preview = self._preview, None
        from samdesk.core.geometry import is_valid, make_valid_region

        if not is_valid(region):
            region = make_valid_region(region)
        if region.is_empty:
            self.canvas.preview_object(obj.id, None)
            return True
        self.annotator.replace_object(replace(obj, region=region), text)
        return True

    def _preview_region(self, region: Region) -> None:
        self._preview = region
        obj = self._drag[0] if self._drag is not None else None
        if obj is not None:
            self.canvas.preview_object(obj.id, region)
        self._update_handles(region=region)

    def _delete_vertex(self, obj: AnnotationObject, ref: RingRef, i: int) -> None:
        ring = dict(rings_of(obj.region))[ref]
        if len(ring) <= 3:
            self.annotator.message.emit("A ring keeps at least three vertices")
            return
        region = with_ring(obj.region, ref, np.delete(np.asarray(ring), i, axis=0))
        self.annotator.replace_object(replace(obj, region=region), "Delete vertex")
