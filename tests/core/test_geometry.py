"""Mask ↔ polygon conversion in the pixel-corner convention, property-based."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from samdesk.core.document import PolygonPart, Region
from samdesk.core.geometry import (
    RECOMMENDED_TOLERANCE,
    clip_region,
    is_valid,
    make_valid_region,
    mask_to_region,
    region_area,
    region_bbox,
    region_difference,
    region_from_shapely,
    region_to_mask,
    region_to_shapely,
    region_union,
    ring_from_flat,
    ring_to_flat,
    simplify_region,
    translate_region,
)

Mask = npt.NDArray[np.bool_]

# Small random masks hit every local configuration (diagonal touches, one-pixel objects and
# holes, border contact) far more often than big ones.
small_masks = arrays(
    np.bool_,
    st.tuples(st.integers(1, 14), st.integers(1, 14)),
    elements=st.booleans(),
)


@st.composite
def blobs(draw: st.DrawFn) -> Mask:
    """Unions of discs minus smaller discs: smooth objects with holes and several parts.

    Every disc lies inside the image and covers more than 32×32 pixels, the size above
    which simplification must keep IoU ≥ 0.99.
    """
    h = draw(st.integers(40, 120))
    w = draw(st.integers(40, 120))
    yy, xx = np.mgrid[:h, :w]
    mask = np.zeros((h, w), dtype=bool)
    for _ in range(draw(st.integers(1, 3))):
        r = draw(st.floats(18.1, min(h, w) / 2))
        cx, cy = draw(st.floats(r, w - r)), draw(st.floats(r, h - r))
        mask |= (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 < r * r
    for _ in range(draw(st.integers(0, 2))):
        cx, cy = draw(st.floats(0, w)), draw(st.floats(0, h))
        r = draw(st.floats(2, 8))
        mask &= ~((xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 < r * r)
    return mask


def _iou(a: Mask, b: Mask) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def _square(x0: float, y0: float, x1: float, y1: float) -> PolygonPart:
    return PolygonPart([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


@settings(max_examples=300, deadline=None)
@given(small_masks)
def test_exact_round_trip_of_any_mask(mask: Mask) -> None:
    region = mask_to_region(mask)
    assert is_valid(region)
    assert region_area(region) == np.count_nonzero(mask)
    assert np.array_equal(region_to_mask(region, *mask.shape), mask)
    for part in region.parts:  # pixel-edge outlines have integer vertices
        for ring in (part.exterior, *part.holes):
            assert np.array_equal(ring, np.round(ring))


@settings(max_examples=60, deadline=None)
@given(blobs(), st.sampled_from([RECOMMENDED_TOLERANCE, 0.7]))
def test_simplified_round_trip_keeps_iou(mask: Mask, tolerance: float) -> None:
    exact = mask_to_region(mask)
    simple = mask_to_region(mask, tolerance=tolerance)
    assert is_valid(simple)
    assert sum(len(p.exterior) for p in simple.parts) <= sum(len(p.exterior) for p in exact.parts)
    assert _iou(region_to_mask(simple, *mask.shape), mask) >= 0.99


@settings(max_examples=60, deadline=None)
@given(small_masks, st.integers(-50, 50), st.integers(-50, 50))
def test_offset_places_a_crop_in_the_image(mask: Mask, x0: int, y0: int) -> None:
    region = mask_to_region(mask, offset=(x0, y0))
    assert region == translate_region(mask_to_region(mask), x0, y0)
    h, w = mask.shape
    assert np.array_equal(region_to_mask(region, h, w, offset=(x0, y0)), mask)


def test_diagonal_pixels_become_separate_valid_parts() -> None:
    mask = np.eye(4, dtype=bool)
    region = mask_to_region(mask)
    assert is_valid(region)
    assert len(region.parts) == 4
    assert np.array_equal(region_to_mask(region, 4, 4), mask)


def test_checkerboard_and_ring_with_diagonal_hole() -> None:
    board = (np.indices((6, 6)).sum(axis=0) % 2).astype(bool)
    region = mask_to_region(board)
    assert is_valid(region) and len(region.parts) == 18
    ring = np.ones((5, 5), dtype=bool)
    ring[2, 2] = False
    ring[0, 0] = False  # corner background touching nothing but the frame
    ring[1, 1] = False  # a hole touching the outside only at a corner
    region = mask_to_region(ring)
    assert is_valid(region)
    assert np.array_equal(region_to_mask(region, 5, 5), ring)


def test_one_pixel_and_border_touching_objects() -> None:
    mask = np.zeros((3, 3), dtype=bool)
    mask[2, 2] = True
    region = mask_to_region(mask)
    assert len(region.parts) == 1
    assert region_bbox(region) == (2.0, 2.0, 3.0, 3.0)
    full = mask_to_region(np.ones((3, 5), dtype=bool))
    assert region_bbox(full) == (0.0, 0.0, 5.0, 3.0)
    assert len(full.parts[0].exterior) == 4  # collinear vertices removed


def test_hole_is_a_hole() -> None:
    mask = np.ones((7, 7), dtype=bool)
    mask[2:5, 2:5] = False
    region = mask_to_region(mask)
    assert len(region.parts) == 1 and len(region.parts[0].holes) == 1
    assert region_area(region) == 40


def test_min_area_drops_small_parts_and_fills_small_holes() -> None:
    mask = np.zeros((20, 20), dtype=bool)
    mask[2:12, 2:12] = True
    mask[5, 5] = False  # 1-pixel hole
    mask[15, 15] = True  # 1-pixel speck
    region = mask_to_region(mask, min_area=2.0)
    assert len(region.parts) == 1 and region.parts[0].holes == ()
    assert region_area(region) == 100


def test_empty_mask_and_wrong_shape() -> None:
    assert mask_to_region(np.zeros((4, 4), dtype=bool)).is_empty
    assert not region_to_mask(Region(), 3, 4).any()
    assert region_area(Region()) == 0.0
    with pytest.raises(ValueError, match="2-D"):
        mask_to_region(np.zeros((2, 2, 3), dtype=bool))


def test_rasterisation_uses_pixel_centres() -> None:
    # A triangle covering centres (0.5, 0.5) and (1.5, 0.5) but not (0.5, 1.5).
    region = Region((PolygonPart([[0, 0], [3, 0], [0, 1.2]]),))
    mask = region_to_mask(region, 2, 3)
    assert mask.tolist() == [[True, True, False], [False, False, False]]
    # Rasterising outside the image is clipped, not an error.
    assert region_to_mask(Region((_square(-5, -5, 1, 1),)), 2, 2).sum() == 1


def test_shapely_bridge_and_set_operations() -> None:
    a = Region((_square(0, 0, 4, 4),))
    b = Region((_square(2, 2, 6, 6),))
    assert region_area(region_union(a, b)) == 28
    assert region_area(region_difference(a, b)) == 12
    hole = region_difference(a, Region((_square(1, 1, 2, 2),)))
    assert len(hole.parts[0].holes) == 1
    again = region_from_shapely(region_to_shapely(hole))
    assert again == hole
    collection = shapely.GeometryCollection([shapely.box(0, 0, 1, 1), shapely.Point(5, 5)])
    assert len(region_from_shapely(collection).parts) == 1


def test_make_valid_splits_a_bowtie() -> None:
    bowtie = Region((PolygonPart([[0, 0], [2, 2], [2, 0], [0, 2]]),))
    assert not is_valid(bowtie)
    fixed = make_valid_region(bowtie)
    assert is_valid(fixed) and region_area(fixed) == pytest.approx(2.0)


def test_clip_and_simplify() -> None:
    region = Region((_square(-2, -2, 5, 5),))
    assert region_bbox(clip_region(region, 4, 3)) == (0.0, 0.0, 4.0, 3.0)
    assert clip_region(Region((_square(0, 0, 1, 1),)), 4, 3).parts[0] == _square(0, 0, 1, 1)
    wobbly = Region((PolygonPart([[0, 0], [5, 0.1], [10, 0], [10, 10], [0, 10]]),))
    assert len(simplify_region(wobbly, 0.5).parts[0].exterior) == 4


def test_flat_lists_and_region_immutability() -> None:
    ring = ring_from_flat([0, 0, 3, 0, 3, 2, 0, 0])  # closing vertex dropped
    assert ring.shape == (3, 2)
    assert ring_to_flat(ring) == [0, 0, 3, 0, 3, 2]
    assert all(isinstance(v, int) for v in ring_to_flat(ring))
    assert ring_to_flat(ring + 0.123456, decimals=2)[0] == 0.12
    with pytest.raises(ValueError):
        ring_from_flat([1, 2, 3])
    part = PolygonPart(ring)
    with pytest.raises(ValueError):
        part.exterior[0, 0] = 7.0
    assert hash(part) == hash(PolygonPart(ring.copy()))
    with pytest.raises(ValueError, match="N×2"):
        PolygonPart([[0, 0], [1, 1]])


def test_fragmented_mask_with_hundreds_of_parts_round_trips_exactly() -> None:
    """A speckled mask (many parts, many holes, diagonal contacts) — what a random-weight
    or confused SAM gives — converts exactly, repairing only the self-touching rings."""
    rng = np.random.default_rng(7)
    coarse = rng.standard_normal((60, 90)) > 0
    mask = np.repeat(np.repeat(coarse, 5, axis=0), 5, axis=1)
    mask[::7, ::11] ^= True  # single-pixel specks and pinholes, diagonal contacts
    region = mask_to_region(mask)
    assert len(region.parts) > 100
    assert np.array_equal(region_to_mask(region, *mask.shape), mask)
