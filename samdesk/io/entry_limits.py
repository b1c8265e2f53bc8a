"""Limits on single dataset entries, so that one hostile entry is skipped, not fatal.

An import reads files made by other tools (or by an attacker): a coordinate of 1e308
overflows GEOS, an RLE ``size`` of 65000×65000 asks pycocotools for a 4 GB mask (and
overflows its 32-bit pixel count). Each function here returns ``None`` when an entry is
acceptable, else a short reason that the importer reports with the file and the entry
before skipping it. The memory one entry may claim is bounded by the image's *real*
size, read from the image file's header, never by what the dataset says.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_COORDINATE",
    "MAX_MASK_PIXELS",
    "coordinate_problem",
    "geometry_errors",
    "rle_problem",
]

MAX_COORDINATE = 1e8
"""Largest |pixel coordinate| read (100 000 times a 1000 px image): beyond it, GEOS'
arithmetic loses precision or overflows, and no real annotation is that far out."""

MAX_MASK_PIXELS = 1 << 28
"""Largest RLE mask decoded (268 megapixels, ~0.5 GB while it is turned into polygons);
also keeps height*width below pycocotools' 32-bit pixel count."""

_MAX_RUN = (1 << 32) - 1  # pycocotools stores run lengths as uint32


def coordinate_problem(values: npt.ArrayLike) -> str | None:
    """Why pixel coordinates cannot be read (non-finite, absurdly large), or None."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return None
    if not np.isfinite(array).all():
        return "non-finite coordinates"
    largest = float(np.abs(array).max())
    if largest > MAX_COORDINATE:
        return f"coordinate {largest:.6g} is out of range (|x| <= {MAX_COORDINATE:.0e} px)"
    return None


def rle_problem(
    height: int, width: int, image_size: tuple[int, int] | None, runs: list[int] | None = None
) -> str | None:
    """Why an RLE mask of ``height``×``width`` must not be decoded, or None.

    ``image_size``: (width, height) of the image from its file's header, None if unknown
    (file missing or unreadable): then the mask is not decoded, since only the dataset
    vouches for its size. ``runs``: the run lengths, checked against pycocotools' uint32.
    """
    if image_size is None or image_size[0] <= 0 or image_size[1] <= 0:
        return f"image size unknown (no readable image file), RLE {width}x{height} not decoded"
    if (width, height) != tuple(image_size):
        return f"RLE size {width}x{height} differs from the image's {image_size[0]}x{image_size[1]}"
    if height * width > MAX_MASK_PIXELS:
        return (
            f"mask of {height * width / 1e6:.0f} megapixels exceeds the limit of "
            f"{MAX_MASK_PIXELS / 1e6:.0f}"
        )
    if runs is not None and any(r > _MAX_RUN for r in runs):
        return "a run length is larger than pycocotools can store (2**32 - 1)"
    return None


def geometry_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that building one entry's geometry may raise on hostile values."""
    import shapely.errors  # lazy: shapely is heavy

    return (shapely.errors.GEOSException, ValueError, TypeError, OverflowError, FloatingPointError)
