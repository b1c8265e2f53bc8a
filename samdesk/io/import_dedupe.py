"""Is an imported object one the image already has? Compared by pixels, not vertices.

A re-imported export must not add every object a second time; but an object exported as
an RLE mask (COCO, masks PNG) or as a bridged polygon comes back traced along pixel edges,
with other vertices than the simplified outline the user drew or SAM made. Two regions
are the same object when they cover the same pixel centres (``region_to_mask``), which is
exactly what every consumer of the exported file sees.
"""

from __future__ import annotations

import math

import numpy as np

from samdesk.core.document import Region
from samdesk.core.geometry import region_bbox, region_to_mask

__all__ = ["same_pixels"]


def same_pixels(a: Region, b: Region) -> bool:
    """True if the two regions rasterise to the same non-empty set of pixels."""
    if a == b:
        return not a.is_empty
    if a.is_empty or b.is_empty:
        return False
    ax0, ay0, ax1, ay1 = region_bbox(a)
    bx0, by0, bx1, by1 = region_bbox(b)
    # The covered pixels lie within one pixel of each box: boxes apart by more cannot match.
    if max(abs(ax0 - bx0), abs(ay0 - by0), abs(ax1 - bx1), abs(ay1 - by1)) > 1.0:
        return False
    x0, y0 = math.floor(min(ax0, bx0)), math.floor(min(ay0, by0))
    x1, y1 = math.ceil(max(ax1, bx1)), math.ceil(max(ay1, by1))
    h, w = y1 - y0, x1 - x0
    mask_a = region_to_mask(a, h, w, offset=(x0, y0))
    mask_b = region_to_mask(b, h, w, offset=(x0, y0))
    return bool(mask_a.any()) and bool(np.array_equal(mask_a, mask_b))
