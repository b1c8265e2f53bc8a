"""Conversions between numpy/document values and Qt types (QImage, QPainterPath, QColor)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage, QPainterPath, QPolygonF

from samdesk.core.document import Region, Ring


def rgb_to_qimage(rgb: npt.NDArray[np.uint8]) -> QImage:
    """H×W×3 uint8 RGB array → QImage (a deep copy, so the array may be freed)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected H×W×3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888)
    return image.copy()


def mask_to_qimage(mask: npt.NDArray[np.bool_], color: QColor, alpha: int) -> QImage:
    """H×W bool mask → ARGB32 QImage: ``color`` at ``alpha`` where True, transparent elsewhere."""
    height, width = mask.shape
    argb = np.zeros((height, width), dtype=np.uint32)
    # Premultiplied ARGB: each channel scaled by alpha so the overlay blends correctly.
    a = alpha / 255.0
    value = (
        (alpha << 24)
        | (round(color.red() * a) << 16)
        | (round(color.green() * a) << 8)
        | round(color.blue() * a)
    )
    argb[mask] = value
    image = QImage(
        argb.data, width, height, argb.strides[0], QImage.Format.Format_ARGB32_Premultiplied
    )
    return image.copy()


def ring_to_polygon(ring: Ring) -> QPolygonF:
    """N×2 (x, y) ring in image pixels → closed QPolygonF in scene coordinates (1 px = 1)."""
    poly = QPolygonF([QPointF(float(x), float(y)) for x, y in ring])
    if len(ring):
        poly.append(QPointF(float(ring[0][0]), float(ring[0][1])))
    return poly


def region_to_path(region: Region) -> QPainterPath:
    """A region (parts with holes) → QPainterPath with odd-even fill, so holes stay open."""
    path = QPainterPath()
    path.setFillRule(path.fillRule().OddEvenFill)
    for part in region.parts:
        path.addPolygon(ring_to_polygon(part.exterior))
        path.closeSubpath()
        for hole in part.holes:
            path.addPolygon(ring_to_polygon(hole))
            path.closeSubpath()
    return path
