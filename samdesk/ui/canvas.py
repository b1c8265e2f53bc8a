"""The image canvas: a QGraphicsView showing one image and its objects.

Scene coordinates are image pixel coordinates of the upright image (1 scene unit = 1 image
pixel, origin at the top-left corner of the top-left pixel), so document polygons are drawn
unchanged and mouse positions map straight to SAM prompt coordinates.
"""

from __future__ import annotations

import math
import sys

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QStyle,
    QWidget,
)

from samdesk.core.document import AnnotationObject, LabelClass, Region
from samdesk.ui.overlay import MaskOverlayItem, PromptOverlayItem
from samdesk.ui.qt_convert import region_to_path
from samdesk.ui.tools.base import Tool

MIN_SCALE = 0.01
MAX_SCALE = 64.0
# Beyond this many screen pixels per image pixel the pixel grid is drawn.
GRID_MIN_SCALE = 12.0
WHEEL_ZOOM_PER_NOTCH = 1.25


class ObjectItem(QGraphicsPathItem):
    """One annotated object: translucent class-coloured fill with an outline, holes open."""

    def __init__(self, obj: AnnotationObject, color: QColor, opacity: float) -> None:
        super().__init__(region_to_path(obj.region))
        self.object_id = obj.id
        self._color = QColor(color)
        self._fill_opacity = opacity
        self._hovered = False
        self.setAcceptHoverEvents(True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setVisible(not obj.hidden)
        self._restyle()

    def set_fill_opacity(self, opacity: float) -> None:
        self._fill_opacity = opacity
        self._restyle()

    def set_region(self, region: Region) -> None:
        """Show another outline (a vertex drag in progress) without touching the document."""
        self.setPath(region_to_path(region))

    def _restyle(self) -> None:
        fill = QColor(self._color)
        boost = 0.25 if (self._hovered or self.isSelected()) else 0.0
        fill.setAlphaF(min(1.0, self._fill_opacity + boost))
        self.setBrush(QBrush(fill))
        pen = QPen(self._color.darker(130) if not self.isSelected() else QColor("white"))
        pen.setCosmetic(True)  # outline width in screen pixels, whatever the zoom
        pen.setWidthF(2.5 if (self._hovered or self.isSelected()) else 1.5)
        self.setPen(pen)

    def paint(self, painter: QPainter, option, widget: QWidget | None = None) -> None:
        # The selection is shown by the outline and fill; Qt's dashed bounding box would
        # only add clutter around big objects.
        option.state = option.state & ~QStyle.StateFlag.State_Selected
        super().paint(painter, option, widget)

    def hoverEnterEvent(self, event) -> None:
        self._hovered = True
        self._restyle()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self._hovered = False
        self._restyle()
        super().hoverLeaveEvent(event)

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self._restyle()
        return super().itemChange(change, value)


class CanvasView(QGraphicsView):
    """Zoomable, pannable view of one image with its objects.

    Mouse buttons go to the current tool (``set_tool``) in image coordinates, except the
    middle button and Space+drag, which pan. A Space press without a drag asks to accept.

    Signals:
        zoom_changed(float): screen pixels per image pixel.
        cursor_moved(float, float): cursor position in image pixels (x, y).
        accept_requested(): Space was pressed and released without panning.
    """

    zoom_changed = Signal(float)
    cursor_moved = Signal(float, float)
    accept_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        # A few dozen items whose geometry changes on every mouse move (previews, handles):
        # no spatial index to keep up to date.
        self.scene().setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setMouseTracking(True)
        self.setBackgroundBrush(QColor(40, 40, 44))
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        # Panning is by middle-drag / space-drag and the scene has margins around the image,
        # so scroll bars would only show up (and steal room) even when the image fits.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._pixmap_item = QGraphicsPixmapItem()
        self._pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._pixmap_item.setZValue(0)
        self.scene().addItem(self._pixmap_item)
        self._object_items: dict[str, ObjectItem] = {}
        self._opacity = 0.4
        self._objects_visible = True
        self._panning_from: QPointF | None = None
        self._fitted = True
        self._objects: list[AnnotationObject] = []
        self._classes: list[LabelClass] = []
        self._selected_id: str | None = None
        self._space_down = False
        self._space_panned = False
        self.tool: Tool | None = None
        self.tool_waiting = False
        self.busy = False  # an accepted object is being converted: a busy cursor for all tools
        # Work in progress above the objects: hover preview, draft mask, prompts/handles.
        self.hover_item = MaskOverlayItem(z=900)
        self.draft_item = MaskOverlayItem(z=910)
        self.prompt_item = PromptOverlayItem(z=920)
        for item in (self.hover_item, self.draft_item, self.prompt_item):
            self.scene().addItem(item)

    # ----- content -----------------------------------------------------------------------
    def set_image(self, image: QImage | None) -> None:
        """Show ``image`` (upright RGB); None clears the canvas. Fits it to the window."""
        self.clear_objects()
        if image is None:
            self._pixmap_item.setPixmap(QPixmap())
            self.scene().setSceneRect(QRectF())
            return
        self._pixmap_item.setPixmap(QPixmap.fromImage(image))
        rect = QRectF(0, 0, image.width(), image.height())
        self.prompt_item.set_scene_rect(rect)
        # Room around the image so it can be panned to the window's edge.
        margin = max(rect.width(), rect.height())
        self.scene().setSceneRect(rect.adjusted(-margin, -margin, margin, margin))
        self.fit_to_window()

    def image_rect(self) -> QRectF:
        return self._pixmap_item.boundingRect()

    def set_objects(self, objects: list[AnnotationObject], classes: list[LabelClass]) -> None:
        """Replace the drawn objects; later objects are drawn on top (drawing order)."""
        self.clear_objects()
        self._objects, self._classes = list(objects), list(classes)
        colors = {c.id: QColor(c.color) for c in classes}
        for z, obj in enumerate(objects):
            item = ObjectItem(obj, colors.get(obj.class_id, QColor("#ff00ff")), self._opacity)
            item.setZValue(10 + z * 1e-3)
            item.setVisible(self._objects_visible and not obj.hidden)
            self.scene().addItem(item)
            self._object_items[obj.id] = item
        if self._selected_id in self._object_items:
            self._object_items[self._selected_id].setSelected(True)

    def refresh_objects(self) -> None:
        """Redraw the objects last given (drops previews)."""
        self.set_objects(self._objects, self._classes)

    def set_selected(self, object_id: str | None) -> None:
        """Highlight the selected object (white outline, stronger fill)."""
        self._selected_id = object_id
        for oid, item in self._object_items.items():
            item.setSelected(oid == object_id)

    def object_at(self, pos: QPointF) -> str | None:
        """Id of the topmost visible object under image point ``pos``."""
        hits = [
            item
            for item in self._object_items.values()
            if item.isVisible() and item.path().contains(pos)
        ]
        return max(hits, key=lambda i: i.zValue()).object_id if hits else None

    def preview_object(self, object_id: str, region: Region | None) -> None:
        """Draw object ``object_id`` with ``region`` (None: as in the document) for a gesture."""
        item = self._object_items.get(object_id)
        if item is None:
            return
        if region is None:
            self.refresh_objects()
        else:
            item.set_region(region)

    def refresh_hidden(self) -> None:
        """Show every object as the document and the global toggle say (ends a preview)."""
        for obj in self._objects:
            item = self._object_items.get(obj.id)
            if item is not None:
                item.setVisible(self._objects_visible and not obj.hidden)

    def set_object_shown(self, object_id: str, shown: bool) -> None:
        """Hide an object's item while a stroke previews its edited mask in its place."""
        item = self._object_items.get(object_id)
        if item is not None:
            obj_hidden = any(o.id == object_id and o.hidden for o in self._objects)
            item.setVisible(shown and self._objects_visible and not obj_hidden)

    def clear_objects(self) -> None:
        for item in self._object_items.values():
            self.scene().removeItem(item)
        self._object_items.clear()

    def object_item(self, object_id: str) -> ObjectItem | None:
        return self._object_items.get(object_id)

    def set_fill_opacity(self, opacity: float) -> None:
        self._opacity = opacity
        for item in self._object_items.values():
            item.set_fill_opacity(opacity)

    def set_objects_visible(self, visible: bool) -> None:
        self._objects_visible = visible
        self.refresh_objects()

    @property
    def objects_visible(self) -> bool:
        return self._objects_visible

    @property
    def fill_opacity(self) -> float:
        return self._opacity

    # ----- tools -------------------------------------------------------------------------
    def set_tool(self, tool: Tool | None) -> None:
        """Make ``tool`` receive the mouse (the previous one is deactivated)."""
        if self.tool is tool:
            return
        if self.tool is not None:
            self.tool.deactivate()
        self.tool = tool
        if tool is not None:
            tool.activate()
        self.update_cursor()

    def set_tool_waiting(self, waiting: bool) -> None:
        """SAM tools wait for the embedding: a busy cursor says so."""
        self.tool_waiting = waiting
        self.update_cursor()

    def set_busy(self, busy: bool) -> None:
        """An accepted mask converts in the background: a busy cursor whatever the tool."""
        self.busy = busy
        self.update_cursor()

    def update_cursor(self) -> None:
        if self._panning_from is not None:
            return
        if self.tool is None:
            self.viewport().unsetCursor()
        elif self.busy or (self.tool.needs_sam and self.tool_waiting):
            self.viewport().setCursor(Qt.CursorShape.BusyCursor)
        else:
            self.viewport().setCursor(self.tool.cursor)

    def _to_tool(self, method: str, pos: QPointF, event: QMouseEvent) -> bool:
        """Call the current tool; an error in a tool is reported, never a crash.

        PySide6 6.12 crashes while printing an exception that escapes a virtual override
        (mousePressEvent & co.), so it is caught here and handed to ``sys.excepthook``
        (pytest-qt's in tests: the test still fails).
        """
        if self.tool is None:
            return False
        try:
            return bool(getattr(self.tool, method)(pos, event))
        except Exception:
            sys.excepthook(*sys.exc_info())
            return True

    def _scene_pos(self, event: QMouseEvent) -> QPointF:
        # Sub-pixel exact (mapToScene takes only integer QPoints).
        inverse, _ok = self.viewportTransform().inverted()
        return inverse.map(event.position())

    # ----- zoom and pan ------------------------------------------------------------------
    def scale_factor(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def fit_to_window(self) -> None:
        rect = self.image_rect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True
        self._after_zoom()

    def zoom_by(self, factor: float, anchor_view: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the image point under ``anchor_view`` fixed."""
        current = self.scale_factor()
        target = min(MAX_SCALE, max(MIN_SCALE, current * factor))
        if math.isclose(target, current):
            return
        factor = target / current
        if anchor_view is not None:
            before = self.mapToScene(anchor_view.toPoint())
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
            self.scale(factor, factor)
            after = self.mapToScene(anchor_view.toPoint())
            delta = after - before
            self.translate(delta.x(), delta.y())
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        else:
            self.scale(factor, factor)
        self._fitted = False
        self._after_zoom()

    def zoom_to_actual_size(self) -> None:
        self.zoom_by(1.0 / self.scale_factor())

    def _after_zoom(self) -> None:
        # Zoomed in past 1:1, show pixels as squares (exact), not smoothed.
        smooth = self.scale_factor() < 2.0
        self._pixmap_item.setTransformationMode(
            Qt.TransformationMode.SmoothTransformation
            if smooth
            else Qt.TransformationMode.FastTransformation
        )
        self.zoom_changed.emit(self.scale_factor())

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120.0
        if notches:
            self.zoom_by(WHEEL_ZOOM_PER_NOTCH**notches, event.position())
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fitted:
            self.fit_to_window()

    def event(self, event: QEvent) -> bool:
        # Space is the Accept action's second shortcut but also "hold to pan": the canvas
        # takes it before the shortcut system does and decides on release.
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Space
            and not event.modifiers()
        ):
            event.accept()
            return True
        return super().event(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        return False  # Tab cycles SAM candidates here, not the focus

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and not event.modifiers():
            if not event.isAutoRepeat():
                self._space_down, self._space_panned = True, False
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(WHEEL_ZOOM_PER_NOTCH)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(1 / WHEEL_ZOOM_PER_NOTCH)
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            panned, self._space_down = self._space_panned, False
            self._panning_from = None
            self.update_cursor()
            if not panned:
                self.accept_requested.emit()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (
            self._space_down and event.button() == Qt.MouseButton.LeftButton
        ):
            self._panning_from = event.position()
            self._space_panned = self._space_down
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if self._to_tool("press", self._scene_pos(event), event):
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._to_tool("double_click", self._scene_pos(event), event):
            event.accept()
            return
        # Anything else is treated as a second press (a fast second click adds a point).
        self.mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._panning_from is not None:
            delta = event.position() - self._panning_from
            self._panning_from = event.position()
            self.horizontalScrollBar().setValue(
                self.horizontalScrollBar().value() - round(delta.x())
            )
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            self._fitted = False
            event.accept()
            return
        pos = self._scene_pos(event)
        self.cursor_moved.emit(pos.x(), pos.y())
        if self._to_tool("move", pos, event):
            event.accept()
            return
        super().mouseMoveEvent(event)  # hover highlight of objects

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._panning_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._panning_from = None
            self.update_cursor()
            if self._space_down:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if self._to_tool("release", self._scene_pos(event), event):
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        if self.tool is not None:
            self.tool.leave()
        super().leaveEvent(event)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """Pixel grid when zoomed far in, so single pixels can be judged."""
        if self.scale_factor() < GRID_MIN_SCALE or self.image_rect().isEmpty():
            return
        area = rect.intersected(self.image_rect())
        pen = QPen(QColor(255, 255, 255, 60))
        pen.setCosmetic(True)
        painter.setPen(pen)
        x0, x1 = math.floor(area.left()), math.ceil(area.right())
        y0, y1 = math.floor(area.top()), math.ceil(area.bottom())
        for x in range(x0, x1 + 1):
            painter.drawLine(QPointF(x, y0), QPointF(x, y1))
        for y in range(y0, y1 + 1):
            painter.drawLine(QPointF(x0, y), QPointF(x1, y))
