"""Masks of the object being built: in-place brush painting and SAM's low-res prompt frame."""

from __future__ import annotations

import numpy as np

from samdesk.ui.tools.masks import (
    GROW_MARGIN,
    MaskCrop,
    crop_to_region,
    empty_crop,
    low_res_logits,
    paint_segment,
    region_crop,
)


def test_paint_grows_then_paints_in_place():
    crop, rect = paint_segment(empty_crop(), (50, 50), (50, 50), 5, True, (200, 100))
    assert crop.mask.sum() > 60 and rect == (45, 45, 56, 56)
    assert crop.offset == (0, 0)  # grown by GROW_MARGIN, clipped to the image
    assert crop.mask.shape == (100, 56 + GROW_MARGIN)  # 100: the image height
    again, rect2 = paint_segment(crop, (50, 50), (60, 50), 5, True, (200, 100))
    assert again is crop and rect2[2] == 66  # inside the margin: painted in place
    erased, _ = paint_segment(crop, (40, 50), (70, 50), 8, False, (200, 100))
    assert erased is crop and not crop.mask.any()


def test_painted_disc_is_round_and_traced_back():
    crop, _ = paint_segment(empty_crop(), (30.0, 30.0), (30.0, 30.0), 10, True, (64, 64))
    area = crop.tight().mask.sum()
    assert abs(area - np.pi * 100) < 20
    region = crop_to_region(crop.tight(), tolerance=0.0)
    back = region_crop(region)
    assert back.offset == crop.tight().offset and np.array_equal(back.mask, crop.tight().mask)


def test_low_res_logits_frame():
    # A 2048×1024 image: SAM's input is 1024×512, padded to 1024² → rows 128.. are padding.
    width, height = 2048, 1024
    left = MaskCrop(np.ones((height, width // 2), bool), (0, 0))
    logits = low_res_logits(left, (width, height))
    assert logits.shape == (1, 256, 256) and logits.dtype == np.float32
    assert (logits[0, :128, :128] > 0).all()  # the left half of the image
    assert (logits[0, :128, 128:] < 0).all()
    assert (logits[0, 128:, :] < 0).all()  # padding is "outside"
    # An offset crop lands in the right cells: cell j samples image x = (4j + 2) · 2.
    square = MaskCrop(np.ones((100, 100), bool), (1000, 500))
    cells = np.argwhere(low_res_logits(square, (width, height))[0] > 0)
    assert cells.min(axis=0).tolist() == [62, 125] and cells.max(axis=0).tolist() == [74, 136]
