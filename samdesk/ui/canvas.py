"""The image canvas: a QGraphicsView showing one image and its objects.

Scene coordinates are image pixel coordinates of the upright image (1 scene unit = 1 image
pixel, origin at the top-left corner of the top-left pixel), so document polygons are drawn
unchanged and mouse positions map straight to SAM prompt coordinates.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
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
    QWidget,
)

from samdesk.core.document import AnnotationObject, LabelClass
from samdesk.ui.qt_convert import region_to_path

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

    def _restyle(self) -> None:
        fill = QColor(self._color)
        boost = 0.25 if (self._hovered or self.isSelected()) else 0.0
        fill.setAlphaF(min(1.0, self._fill_opacity + boost))
        self.setBrush(QBrush(fill))
        pen = QPen(self._color.darker(130) if not self.isSelected() else QColor("white"))
        pen.setCosmetic(True)  # outline width in screen pixels, whatever the zoom
        pen.setWidthF(2.5 if (self._hovered or self.isSelected()) else 1.5)
        self.setPen(pen)

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

    Signals:
        zoom_changed(float): screen pixels per image pixel.
        cursor_moved(float, float): cursor position in image pixels (x, y).
    """

    zoom_changed = Signal(float)
    cursor_moved = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
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
        # Room around the image so it can be panned to the window's edge.
        margin = max(rect.width(), rect.height())
        self.scene().setSceneRect(rect.adjusted(-margin, -margin, margin, margin))
        self.fit_to_window()

    def image_rect(self) -> QRectF:
        return self._pixmap_item.boundingRect()

    def set_objects(self, objects: list[AnnotationObject], classes: list[LabelClass]) -> None:
        """Replace the drawn objects; later objects are drawn on top (drawing order)."""
        self.clear_objects()
        colors = {c.id: QColor(c.color) for c in classes}
        for z, obj in enumerate(objects):
            item = ObjectItem(obj, colors.get(obj.class_id, QColor("#ff00ff")), self._opacity)
            item.setZValue(10 + z * 1e-3)
            item.setVisible(self._objects_visible and not obj.hidden)
            self.scene().addItem(item)
            self._object_items[obj.id] = item

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
        for item in self._object_items.values():
            item.setVisible(visible)

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

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(WHEEL_ZOOM_PER_NOTCH)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(1 / WHEEL_ZOOM_PER_NOTCH)
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            self._panning_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

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
        pos = self.mapToScene(event.position().toPoint())
        self.cursor_moved.emit(pos.x(), pos.y())
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton and self._panning_from is not None:
            self._panning_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

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
