"""Resize images and coordinates so the longest side becomes 1024 (official semantics)."""

from __future__ import annotations

from copy import deepcopy

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from PIL import Image


class ResizeLongestSide:
    """Resize to a longest side of ``target_length``; coordinates are XY in pixels."""

    def __init__(self, target_length: int = 1024) -> None:
        self.target_length = target_length

    @staticmethod
    def get_preprocess_shape(oldh: int, oldw: int, long_side_length: int) -> tuple[int, int]:
        """(h, w) after scaling so the long side is ``long_side_length`` (rounded half up).

        Each side is at least 1: the official code rounds a side of an extreme panorama
        (aspect ratio above 2048:1) down to 0 and then fails; elsewhere the two agree.
        """
        scale = long_side_length * 1.0 / max(oldh, oldw)
        newh, neww = oldh * scale, oldw * scale
        return max(1, int(newh + 0.5)), max(1, int(neww + 0.5))

    def apply_image(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """H×W×3 uint8 → h×w×3 uint8 with Pillow's (antialiased) bilinear resize."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                f"expected an H×W×3 uint8 image, got shape {image.shape} dtype {image.dtype}"
            )
        newh, neww = self.get_preprocess_shape(image.shape[0], image.shape[1], self.target_length)
        resized = Image.fromarray(image).resize((neww, newh), Image.Resampling.BILINEAR)
        return np.array(resized)

    def apply_coords(
        self, coords: npt.NDArray[np.floating], original_size: tuple[int, int]
    ) -> npt.NDArray[np.float64]:
        """…×2 XY in original pixels → XY in resized-image pixels (float64)."""
        old_h, old_w = original_size
        new_h, new_w = self.get_preprocess_shape(old_h, old_w, self.target_length)
        coords = deepcopy(coords).astype(float)
        coords[..., 0] = coords[..., 0] * (new_w / old_w)
        coords[..., 1] = coords[..., 1] * (new_h / old_h)
        return coords

    def apply_boxes(
        self, boxes: npt.NDArray[np.floating], original_size: tuple[int, int]
    ) -> npt.NDArray[np.float64]:
        """…×4 XYXY boxes in original pixels → N×4 in resized-image pixels."""
        boxes = self.apply_coords(np.asarray(boxes).reshape(-1, 2, 2), original_size)
        return boxes.reshape(-1, 4)

    def apply_image_torch(self, image: torch.Tensor) -> torch.Tensor:
        """B×3×H×W float → B×3×h×w (bilinear, antialiased). Not bit-equal to Pillow."""
        target = self.get_preprocess_shape(image.shape[2], image.shape[3], self.target_length)
        return F.interpolate(image, target, mode="bilinear", align_corners=False, antialias=True)

    def apply_coords_torch(
        self, coords: torch.Tensor, original_size: tuple[int, int]
    ) -> torch.Tensor:
        """Torch version of :meth:`apply_coords` (float32 result)."""
        old_h, old_w = original_size
        new_h, new_w = self.get_preprocess_shape(old_h, old_w, self.target_length)
        coords = deepcopy(coords).to(torch.float)
        coords[..., 0] = coords[..., 0] * (new_w / old_w)
        coords[..., 1] = coords[..., 1] * (new_h / old_h)
        return coords

    def apply_boxes_torch(
        self, boxes: torch.Tensor, original_size: tuple[int, int]
    ) -> torch.Tensor:
        """Torch version of :meth:`apply_boxes`: B×4 XYXY → B×4."""
        boxes = self.apply_coords_torch(boxes.reshape(-1, 2, 2), original_size)
        return boxes.reshape(-1, 4)
