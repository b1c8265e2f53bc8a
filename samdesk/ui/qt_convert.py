"""Conversions between numpy/document values and Qt types (QImage, QPainterPath, QColor)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage, QPainterPath, QPolygonF

from samdesk.core.document import Region, Ring


def rgb_to_qimage(rgb: npt.NDArray[np.uint8]) -> QImage:
    """H×W×3 uint8 RGB array → QImage (a deep copy, so the array may be freed)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected H×W×3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888)
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
