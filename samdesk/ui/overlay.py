"""Scene items that draw the work in progress over the image.

* ``MaskOverlayItem``: a translucent mask, as a QImage of its bounding-box crop only (an
  object on a 48 MP photo costs its own size, not the frame's), placed at the crop's
  offset. Used for the object being built and for the live preview under the cursor.
  The object being built is hatched (diagonal stripes about ``HATCH_SCREEN_PX`` apart on
  screen), so it never looks like a saved object (a flat fill with a solid outline).
* ``PromptOverlayItem``: the prompts (green + / red − points, the box, the polygon being
  drawn), the brush outline, vertex handles of the object being edited, a small label
  (predicted IoU) and, around the object being built, a dashed frame with the tag
  ``DRAFT_TAG``. Markers and text keep their size on screen at every zoom.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from samdesk.ui.tools.masks import MaskCrop

DRAFT_TAG = "DRAFT — Enter accepts, Esc discards"
HATCH_SCREEN_PX = 6.0  # width of the draft's stripes on screen, at any zoom
POSITIVE = QColor("#30d050")
NEGATIVE = QColor("#ff3040")
MARKER_PX = 7.0  # half-size of a point marker on screen


_FORMAT = QImage.Format.Format_ARGB32_Premultiplied


def _argb(
    mask: np.ndarray,
    color: QColor,
    alpha: int,
    hatch: int = 0,
    offset: tuple[int, int] = (0, 0),
) -> tuple[np.ndarray, int, int]:
    """H×W bool → (H×W uint32 premultiplied ARGB buffer, strong value, faint value).

    ``hatch`` > 0: diagonal stripes ``hatch`` image pixels wide, alternating the strong
    and a faint value; the phase follows image coordinates (``offset`` is the crop's
    top-left), so a patch re-rendered later continues the same stripes.
    """
    value = _premultiplied(color, alpha)
    faint = _premultiplied(color, alpha // 4) if hatch > 0 else value
    argb = np.zeros(mask.shape, dtype=np.uint32)
    if hatch > 0:
        argb[mask] = _stripes(mask.shape, offset, hatch, value, faint)[mask]
    else:
        argb[mask] = value
    return argb, value, faint


def _premultiplied(color: QColor, alpha: int) -> int:
    a = alpha / 255.0
    return (
        (alpha << 24)
        | (round(color.red() * a) << 16)
        | (round(color.green() * a) << 8)
        | round(color.blue() * a)
    )


def _stripes(
    shape: tuple[int, int], offset: tuple[int, int], hatch: int, value: int, faint: int
) -> np.ndarray:
    """H×W uint32: ``value`` on even diagonal bands of width ``hatch``, else ``faint``."""
    h, w = shape
    x0, y0 = offset
    band = (np.arange(y0, y0 + h, dtype=np.int64)[:, None] + np.arange(x0, x0 + w)) // hatch
    return np.where(band % 2 == 0, np.uint32(value), np.uint32(faint))


class MaskOverlayItem(QGraphicsItem):
    """A mask crop drawn in one colour at ``alpha``; its scene position is the crop offset."""

    def __init__(self, z: float) -> None:
        super().__init__()
        self._image = QImage()
        self._argb: np.ndarray | None = None
        self._value = 0
        self._faint = 0
        self._hatch = 0
        self._crop: MaskCrop | None = None
        self._color = QColor("#ffffff")
        self._alpha = 120
        self.setZValue(z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.paint_count = 0  # benchmarks wait for the paint that shows a new mask

    def set_mask(self, crop: MaskCrop | None, color: QColor, alpha: int, hatch: int = 0) -> None:
        """Show ``crop`` (None or empty hides the item). Re-renders only when it changed.

        ``hatch`` > 0 draws diagonal stripes that many image pixels wide (the object being
        built); 0 a flat fill (the live preview).
        """
        if crop is None or crop.mask.size == 0:
            if self._crop is not None:
                self.prepareGeometryChange()
                self._crop, self._image, self._argb = None, QImage(), None
            self.setVisible(False)
            return
        same = crop is self._crop and color == self._color and alpha == self._alpha
        if same and hatch == self._hatch:
            self.setVisible(True)
            return
        self.prepareGeometryChange()
        self._crop, self._color, self._alpha, self._hatch = crop, QColor(color), alpha, hatch
        self._argb, self._value, self._faint = _argb(crop.mask, color, alpha, hatch, crop.offset)
        h, w = crop.mask.shape
        # The QImage shares the numpy buffer (kept in self._argb), so a brush dab can
        # re-render just its rectangle (``patch``) instead of the whole crop.
        self._image = QImage(self._argb.data, w, h, self._argb.strides[0], _FORMAT)
        self.setPos(QPointF(*crop.offset))
        self.setVisible(True)
        self.update()

    @property
    def hatch(self) -> int:
        """Stripe width in image pixels (0: a flat fill)."""
        return self._hatch

    def patch(self, crop: MaskCrop, rect: tuple[int, int, int, int]) -> bool:
        """Re-render ``rect`` (image pixels) of the crop already shown, painted in place.

        False when ``crop`` is not the one shown (the caller then uses ``set_mask``).
        """
        if crop is not self._crop or self._argb is None:
            return False
        x0, y0, x1, y1 = rect
        if x0 >= x1 or y0 >= y1:
            return True
        ox, oy = crop.offset
        window = crop.mask[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        if self._hatch > 0:
            on = _stripes(window.shape, (x0, y0), self._hatch, self._value, self._faint)
        else:
            on = np.uint32(self._value)
        self._argb[y0 - oy : y1 - oy, x0 - ox : x1 - ox] = np.where(window, on, np.uint32(0))
        self.update(QRectF(x0 - ox, y0 - oy, x1 - x0, y1 - y0))
        return True

    @property
    def crop(self) -> MaskCrop | None:
        return self._crop

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._image.width(), self._image.height())

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._image.isNull():
            return
        # Draw only the exposed part: a small repaint of a huge mask stays cheap.
        exposed = option.exposedRect.toAlignedRect().intersected(self._image.rect())
        if exposed.isEmpty():
            return
        painter.drawImage(exposed.topLeft(), self._image, exposed)
        self.paint_count += 1


class PromptOverlayItem(QGraphicsItem):
    """Points, box, polygon in progress, brush outline, vertex handles, a label."""

    def __init__(self, z: float) -> None:
        super().__init__()
        self.setZValue(z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._rect = QRectF()
        self.points: list[tuple[float, float]] = []
        self.labels: list[int] = []
        self.box: tuple[float, float, float, float] | None = None
        self.rubber_band: tuple[float, float, float, float] | None = None
        self.polygon: list[tuple[float, float]] = []
        self.polygon_cursor: tuple[float, float] | None = None
        self.brush: tuple[float, float, float] | None = None  # x, y, radius
        self.handles: list[tuple[float, float]] = []
        self.active_handle: int | None = None
        self.label = ""
        self.color = QColor("#ffffff")
        self.draft_rect: tuple[float, float, float, float] | None = None
        """XYXY image pixels around the object being built: a dashed frame and DRAFT_TAG."""

    def set_scene_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(rect)

    def boundingRect(self) -> QRectF:
        return self._rect

    def refresh(self) -> None:
        self.update()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        scale = painter.worldTransform().m11() or 1.0
        px = 1.0 / scale  # one screen pixel in scene units
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_draft_frame(painter, px)
        self._paint_box(painter, self.box, self.color, False)
        self._paint_box(painter, self.rubber_band, QColor("#ffffff"), True)
        self._paint_polygon(painter, px)
        self._paint_handles(painter, px)
        for (x, y), label in zip(self.points, self.labels, strict=False):
            self._paint_point(painter, x, y, bool(label), px)
        if self.brush is not None:
            x, y, r = self.brush
            pen = QPen(QColor(255, 255, 255, 220))
            pen.setCosmetic(True)
            pen.setWidthF(1.5)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(QPointF(x, y), r, r)
        if self.label and self.points:
            x, y = self.points[-1]
            painter.save()
            painter.translate(x, y)
            painter.scale(px, px)  # text in screen pixels
            font = QFont()
            font.setPixelSize(13)
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(QColor(0, 0, 0, 200))
            painter.drawText(QPointF(11, -9), self.label)
            painter.setPen(QColor("#ffffff"))
            painter.drawText(QPointF(10, -10), self.label)
            painter.restore()

    @staticmethod
    def _paint_box(painter: QPainter, box, color: QColor, dashed: bool) -> None:
        if box is None:
            return
        pen = QPen(color)
        pen.setCosmetic(True)
        pen.setWidthF(2.0)
        if dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        x0, y0, x1, y1 = box
        painter.drawRect(QRectF(QPointF(x0, y0), QPointF(x1, y1)).normalized())

    def _paint_draft_frame(self, painter: QPainter, px: float) -> None:
        """A dashed black-and-white frame (reads on any photo) and the tag above it."""
        if self.draft_rect is None:
            return
        x0, y0, x1, y1 = self.draft_rect
        margin = 4 * px
        rect = QRectF(QPointF(x0, y0), QPointF(x1, y1)).normalized()
        rect = rect.adjusted(-margin, -margin, margin, margin)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for color, style in (
            (QColor(0, 0, 0, 200), Qt.PenStyle.SolidLine),
            (QColor("#ffffff"), Qt.PenStyle.DashLine),
        ):
            pen = QPen(color)
            pen.setCosmetic(True)
            pen.setWidthF(1.5)
            pen.setStyle(style)
            painter.setPen(pen)
            painter.drawRect(rect)
        painter.save()
        painter.translate(rect.topLeft())
        painter.scale(px, px)  # text in screen pixels
        font = QFont()
        font.setPixelSize(12)
        font.setBold(True)
        painter.setFont(font)
        width = painter.fontMetrics().horizontalAdvance(DRAFT_TAG) + 10
        tag = QRectF(0, -20, width, 18)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 190))
        painter.drawRect(tag)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, DRAFT_TAG)
        painter.restore()

    def _paint_point(self, painter: QPainter, x: float, y: float, positive: bool, px: float):
        r = MARKER_PX * px
        color = POSITIVE if positive else NEGATIVE
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawEllipse(QPointF(x, y), r * 1.25, r * 1.25)
        pen = QPen(color)
        pen.setCosmetic(True)
        pen.setWidthF(3.0)
        painter.setPen(pen)
        painter.drawLine(QPointF(x - r, y), QPointF(x + r, y))
        if positive:
            painter.drawLine(QPointF(x, y - r), QPointF(x, y + r))

    def _paint_polygon(self, painter: QPainter, px: float) -> None:
        if not self.polygon:
            return
        pen = QPen(self.color.lighter(130))
        pen.setCosmetic(True)
        pen.setWidthF(2.0)
        pen.setStyle(Qt.PenStyle.DashLine)  # not yet an object (saved ones: solid)
        painter.setPen(pen)
        fill = QBrush(self.color, Qt.BrushStyle.BDiagPattern)  # hatched like a draft mask
        painter.setBrush(fill)
        poly = QPolygonF([QPointF(x, y) for x, y in self.polygon])
        if self.polygon_cursor is not None:
            poly.append(QPointF(*self.polygon_cursor))
        painter.drawPolygon(poly)
        painter.setBrush(QColor("#ffffff"))
        for x, y in self.polygon:
            painter.drawEllipse(QPointF(x, y), 3.5 * px, 3.5 * px)

    def _paint_handles(self, painter: QPainter, px: float) -> None:
        if not self.handles:
            return
        pen = QPen(QColor(0, 0, 0))
        pen.setCosmetic(True)
        painter.setPen(pen)
        r = 4.0 * px
        for i, (x, y) in enumerate(self.handles):
            painter.setBrush(QColor("#ffcc00") if i == self.active_handle else QColor("#ffffff"))
            painter.drawRect(QRectF(x - r, y - r, 2 * r, 2 * r))


DRAFT_ALPHA = 140
HOVER_ALPHA = 90


def show_work(canvas, annotator) -> None:
    """Bring the canvas overlays in line with the annotator's work in progress.

    Called on every ``draft_changed``: cheap when nothing changed (a mask is re-rendered
    only when it is a new crop object).
    """
    draft = annotator.draft
    prompt = canvas.prompt_item
    stroke = annotator.stroke_preview
    if stroke is not None:
        object_id, crop = stroke
        obj = annotator.selected_object()
        color = QColor(annotator.class_color(obj.class_id if obj else None))
        canvas.set_object_shown(object_id, False)
        dirty = annotator.stroke_dirty
        if dirty is None or not canvas.draft_item.patch(crop, dirty):
            canvas.draft_item.set_mask(crop, color, DRAFT_ALPHA)
    elif draft is not None:
        color = QColor(annotator.class_color(draft.class_id))
        dirty = annotator.stroke_dirty
        hatch = max(2, round(HATCH_SCREEN_PX / max(canvas.scale_factor(), 1e-6)))
        if dirty is None or not canvas.draft_item.patch(draft.mask, dirty):
            crop = draft.mask if not draft.polygon else None
            canvas.draft_item.set_mask(crop, color, DRAFT_ALPHA, hatch)
        if draft.target_id is not None:
            canvas.set_object_shown(draft.target_id, False)
    else:
        canvas.draft_item.set_mask(None, QColor(), 0)
    if stroke is None and (draft is None or draft.target_id is None):
        canvas.refresh_hidden()
    hover_color = QColor(annotator.class_color(annotator.class_id))
    canvas.hover_item.set_mask(annotator.hover if draft is None else None, hover_color, HOVER_ALPHA)
    prompt.color = QColor(annotator.class_color(draft.class_id if draft else annotator.class_id))
    prompt.points = list(draft.points) if draft is not None else []
    prompt.labels = list(draft.labels) if draft is not None else []
    prompt.box = draft.box if draft is not None else None
    prompt.polygon = list(draft.polygon) if draft is not None else []
    if annotator.stroke_dirty is None:  # not on every brush dab: the frame follows on release
        prompt.draft_rect = _draft_rect(draft)
    if not prompt.polygon:
        prompt.polygon_cursor = None
    prompt.label = ""
    if draft is not None and draft.state.score is not None and draft.points:
        prompt.label = f"IoU {draft.state.score:.2f}"
        if draft.candidates:
            prompt.label += f"  ({draft.candidate_index + 1}/{len(draft.candidates)})"
    if prompt.brush is not None:
        x, y, _r = prompt.brush
        prompt.brush = (x, y, annotator.brush_radius)
    prompt.refresh()


def _draft_rect(draft) -> tuple[float, float, float, float] | None:
    """XYXY image pixels around the draft's mask, polygon or prompts; None: no draft."""
    if draft is None or draft.is_empty:
        return None
    xs: list[float] = []
    ys: list[float] = []
    if draft.polygon:
        xs += [x for x, _ in draft.polygon]
        ys += [y for _, y in draft.polygon]
    elif not draft.mask.is_empty:  # the set pixels' extent, without copying the crop
        crop = draft.mask
        rows = np.flatnonzero(crop.mask.any(axis=1))
        cols = np.flatnonzero(crop.mask.any(axis=0))
        ox, oy = crop.offset
        xs += [ox + int(cols[0]), ox + int(cols[-1]) + 1]
        ys += [oy + int(rows[0]), oy + int(rows[-1]) + 1]
    xs += [x for x, _ in draft.points]
    ys += [y for _, y in draft.points]
    if draft.box is not None:
        xs += [draft.box[0], draft.box[2]]
        ys += [draft.box[1], draft.box[3]]
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)
