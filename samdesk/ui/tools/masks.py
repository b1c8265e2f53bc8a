"""Masks of the object being built: bbox crops, brush painting, SAM low-res prompts.

Pure numpy (no Qt): a mask is kept as its bounding-box crop plus the crop's offset in the
image, so an object on an 8000×6000 photo never costs a full-frame array.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from samdesk.core.document import Region

LOW_RES = 256
SAM_INPUT = 1024
PROMPT_LOGIT = 10.0
"""Magnitude of the logits of an edited mask fed back to SAM (its own are of this order)."""


@dataclass(frozen=True, eq=False)
class MaskCrop:
    """An H×W bool crop whose top-left pixel is image pixel ``offset`` = (x0, y0)."""

    mask: npt.NDArray[np.bool_]
    offset: tuple[int, int] = (0, 0)

    @property
    def is_empty(self) -> bool:
        return self.mask.size == 0 or not self.mask.any()

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the crop (exclusive right/bottom), image pixels."""
        x0, y0 = self.offset
        return x0, y0, x0 + self.mask.shape[1], y0 + self.mask.shape[0]

    def tight(self) -> MaskCrop:
        """The same mask cropped to its set pixels (an empty crop when none is set)."""
        rows = np.flatnonzero(self.mask.any(axis=1))
        if rows.size == 0:
            return MaskCrop(np.zeros((0, 0), bool), self.offset)
        cols = np.flatnonzero(self.mask.any(axis=0))
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        x0, y0 = self.offset
        return MaskCrop(self.mask[r0:r1, c0:c1].copy(), (int(x0 + c0), int(y0 + r0)))

    def expanded(self, x0: int, y0: int, x1: int, y1: int) -> MaskCrop:
        """A copy covering at least (x0, y0, x1, y1) as well as the current crop."""
        if self.mask.size == 0:
            return MaskCrop(np.zeros((y1 - y0, x1 - x0), bool), (x0, y0))
        cx0, cy0, cx1, cy1 = self.bbox
        nx0, ny0, nx1, ny1 = min(x0, cx0), min(y0, cy0), max(x1, cx1), max(y1, cy1)
        if (nx0, ny0, nx1, ny1) == (cx0, cy0, cx1, cy1):
            return MaskCrop(self.mask.copy(), self.offset)
        out = np.zeros((ny1 - ny0, nx1 - nx0), bool)
        out[cy0 - ny0 : cy1 - ny0, cx0 - nx0 : cx1 - nx0] = self.mask
        return MaskCrop(out, (nx0, ny0))


def empty_crop() -> MaskCrop:
    return MaskCrop(np.zeros((0, 0), bool), (0, 0))


GROW_MARGIN = 64
"""Pixels added around a crop that must grow under the brush, so the next dabs of the
same stroke land inside it (painted in place) instead of reallocating on every move."""


def paint_segment(
    crop: MaskCrop,
    start: tuple[float, float],
    end: tuple[float, float],
    radius: float,
    value: bool,
    image_size: tuple[int, int],
) -> tuple[MaskCrop, tuple[int, int, int, int]]:
    """Paint a round brush swept from ``start`` to ``end`` (image coordinates) IN PLACE.

    ``crop.mask`` is modified when the dab fits inside it (the caller owns a private copy
    for the stroke); otherwise a grown copy (with ``GROW_MARGIN``) is painted and returned.
    ``image_size`` is (width, height): painting is clipped to the image. Returns the crop
    and the changed rectangle (x0, y0, x1, y1), empty (0, 0, 0, 0) when nothing changed.
    """
    width, height = image_size
    (ax, ay), (bx, by) = start, end
    x0 = max(0, int(np.floor(min(ax, bx) - radius)))
    y0 = max(0, int(np.floor(min(ay, by) - radius)))
    x1 = min(width, int(np.ceil(max(ax, bx) + radius)) + 1)
    y1 = min(height, int(np.ceil(max(ay, by) + radius)) + 1)
    if x0 >= x1 or y0 >= y1:
        return crop, (0, 0, 0, 0)
    cx0, cy0, cx1, cy1 = crop.bbox
    fits = crop.mask.size and cx0 <= x0 and cy0 <= y0 and x1 <= cx1 and y1 <= cy1
    if value and not fits:
        m = GROW_MARGIN
        crop = crop.expanded(
            max(0, x0 - m), max(0, y0 - m), min(width, x1 + m), min(height, y1 + m)
        )
    gx0, gy0 = crop.offset
    # Clip the dab to the crop (erasing never grows it).
    px0, py0 = max(x0, gx0), max(y0, gy0)
    px1 = min(x1, gx0 + crop.mask.shape[1])
    py1 = min(y1, gy0 + crop.mask.shape[0])
    if px0 >= px1 or py0 >= py1:
        return crop, (0, 0, 0, 0)
    ys, xs = np.mgrid[py0:py1, px0:px1]
    cx, cy = xs + 0.5, ys + 0.5  # pixel centres
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = np.zeros_like(cx) if length2 == 0 else ((cx - ax) * dx + (cy - ay) * dy) / length2
    t = np.clip(t, 0.0, 1.0)
    dist2 = (cx - (ax + t * dx)) ** 2 + (cy - (ay + t * dy)) ** 2
    window = crop.mask[py0 - gy0 : py1 - gy0, px0 - gx0 : px1 - gx0]
    window[dist2 <= radius * radius] = value
    return crop, (px0, py0, px1, py1)


def region_crop(region: Region, margin: int = 0) -> MaskCrop:
    """Rasterise a region into a crop of its bounding box (plus ``margin`` pixels)."""
    from samdesk.core.geometry import region_bbox, region_to_mask

    if region.is_empty:
        return empty_crop()
    bx0, by0, bx1, by1 = region_bbox(region)
    x0, y0 = max(0, int(np.floor(bx0)) - margin), max(0, int(np.floor(by0)) - margin)
    x1, y1 = int(np.ceil(bx1)) + margin, int(np.ceil(by1)) + margin
    mask = region_to_mask(region, y1 - y0, x1 - x0, offset=(x0, y0))
    return MaskCrop(mask, (x0, y0))


def polygon_options(store: Any) -> tuple[float, float]:
    """(tolerance, min_area) for masks becoming polygons: the open project's settings
    (``PolygonOptions``), the defaults without a project."""
    from samdesk.core.document import PolygonOptions

    opts = PolygonOptions.from_settings(store.project.settings if store is not None else {})
    return opts.tolerance, opts.min_area


def crop_to_region(crop: MaskCrop, tolerance: float, min_area: float = 0.0) -> Region:
    """Polygon outline of a crop in image coordinates (``geometry.mask_to_region``)."""
    from samdesk.core.geometry import mask_to_region

    if crop.is_empty:
        return Region()
    return mask_to_region(crop.mask, tolerance=tolerance, min_area=min_area, offset=crop.offset)


def low_res_logits(crop: MaskCrop, image_size: tuple[int, int]) -> npt.NDArray[np.float32]:
    """A mask as SAM's 1×256×256 mask prompt (the frame of the decoder's low-res logits).

    SAM resizes the image so its long side is 1024, pads right/bottom to 1024×1024 and its
    low-res masks are that square at 1/4 scale: low-res cell (i, j) covers input pixels
    [4j, 4j+4) × [4i, 4i+4), i.e. image pixels scaled by ``long_side / 1024``. Each cell
    samples the mask at its centre; padding is "outside". ``image_size`` is (width, height).
    """
    width, height = image_size
    scale = max(width, height) / SAM_INPUT
    centres = (np.arange(LOW_RES) * 4 + 2.0) * scale  # image coordinates of cell centres
    cols = np.floor(centres).astype(np.int64)
    x0, y0 = crop.offset
    h, w = crop.mask.shape
    out = np.full((1, LOW_RES, LOW_RES), -PROMPT_LOGIT, dtype=np.float32)
    if h == 0 or w == 0:
        return out
    col_idx = cols - x0
    row_idx = cols - y0
    valid_c = (col_idx >= 0) & (col_idx < w) & (cols < width)
    valid_r = (row_idx >= 0) & (row_idx < h) & (cols < height)
    rr = np.flatnonzero(valid_r)
    cc = np.flatnonzero(valid_c)
    if rr.size and cc.size:
        sampled = crop.mask[np.ix_(row_idx[rr], col_idx[cc])]
        out[0, rr[0] : rr[-1] + 1, cc[0] : cc[-1] + 1] = np.where(
            sampled, PROMPT_LOGIT, -PROMPT_LOGIT
        )
    return out
