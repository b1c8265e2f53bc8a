"""Fixtures of the format tests: a small project on disk with awkward objects.

Objects are built from masks with ``mask_to_region`` (or from explicit polygons), so the
fixtures state *which pixels* an object covers and leave the coordinate convention to
the geometry module.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from samdesk.core.document import (
    AnnotationObject,
    ImageRecord,
    LabelClass,
    PolygonPart,
    Project,
    Region,
)
from samdesk.core.geometry import mask_to_region


def write_image(path: Path, width: int, height: int) -> Path:
    """A small RGB PNG of the given size (content irrelevant)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(width * 1000 + height)
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def make_image() -> Callable[[Path, int, int], Path]:
    """``make_image(path, width, height)`` writes a small RGB PNG (content irrelevant)."""
    return write_image


def _mask(height: int, width: int, *boxes: tuple[int, int, int, int]) -> npt.NDArray[np.bool_]:
    """Union of pixel boxes given as (row0, row1, col0, col1), end-exclusive."""
    mask = np.zeros((height, width), dtype=bool)
    for r0, r1, c0, c1 in boxes:
        mask[r0:r1, c0:c1] = True
    return mask


@pytest.fixture
def sample_project(tmp_path: Path) -> tuple[Path, Project]:
    """(project folder, project): classes 3 "cat" and 7 "dog" (not starting at 0), 3 images.

    ``a.png`` (40×30): an object with a hole, a two-part object, one touching the right
    and top borders, a one-pixel object, a disk outline simplified with tolerance 0.5.
    ``sub/b.png`` (25×20, in a sub-folder): a
    slanted non-pixel-aligned triangle and two squares touching only at a corner.
    ``c.png`` (16×12): no objects (a background image).
    """
    folder = tmp_path / "project"
    write_image(folder / "a.png", 40, 30)
    write_image(folder / "sub" / "b.png", 25, 20)
    write_image(folder / "c.png", 16, 12)
    holed = _mask(30, 40, (3, 14, 2, 14))
    holed[6:10, 5:9] = False
    two_parts = _mask(30, 40, (18, 24, 2, 8), (20, 27, 12, 20))
    border = _mask(30, 40, (0, 9, 31, 40))
    tiny = _mask(30, 40, (25, 26, 25, 26))
    rows, cols = np.mgrid[0:30, 0:40]
    disk = (cols + 0.5 - 30.2) ** 2 + (rows + 0.5 - 17.3) ** 2 < 4.6**2
    diagonal = _mask(20, 25, (12, 16, 2, 6), (16, 19, 6, 9))
    triangle = Region((PolygonPart(np.array([[1.3, 0.7], [23.6, 3.1], [8.9, 18.3]])),))
    a = ImageRecord(
        "a.png",
        40,
        30,
        objects=[
            AnnotationObject(3, mask_to_region(holed), id="holed"),
            AnnotationObject(7, mask_to_region(two_parts), id="two_parts"),
            AnnotationObject(3, mask_to_region(border), id="border"),
            AnnotationObject(7, mask_to_region(tiny), id="tiny"),
            # Simplified the way SAM outlines are: slanted edges between pixel corners.
            AnnotationObject(3, mask_to_region(disk, tolerance=0.5), id="disk"),
        ],
    )
    b = ImageRecord(
        "sub/b.png",
        25,
        20,
        objects=[
            AnnotationObject(3, triangle, id="triangle"),
            AnnotationObject(7, mask_to_region(diagonal), id="diagonal"),
        ],
    )
    c = ImageRecord("c.png", 16, 12)
    classes = [LabelClass(3, "cat", "#ff0000"), LabelClass(7, "dog", "#00ff00")]
    return folder, Project(classes=classes, images=[a, b, c], name="sample")
