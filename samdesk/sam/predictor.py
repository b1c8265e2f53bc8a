"""Image predictor with the semantics of ``segment_anything.SamPredictor``.

Coordinates given to :meth:`Predictor.predict` and :meth:`Predictor.predict_best` are XY in
original-image pixels; boxes are XYXY. :meth:`Predictor.predict_torch` takes coordinates
already transformed to the 1024-long-side input frame (``predictor.transform``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch

from samdesk.sam.postprocess import (
    LOW_RES,
    best_mask_crop,
    masks_from_low_res,
    release_buffers,
    upscale_logits,
)
from samdesk.sam.sam import Sam
from samdesk.sam.transforms import ResizeLongestSide

EMBEDDING_SHAPE = (256, 64, 64)


@dataclass(frozen=True)
class BestMask:
    """The highest-scoring mask of one prompt, cropped to its bounding box.

    Attributes:
        mask: h×w bool, the mask inside its bounding box (0×0 when the mask is empty).
        offset: (x0, y0) of the crop's top-left corner in original-image pixels.
        score: predicted IoU of the chosen mask.
        low_res_logits: 1×256×256 float32 logits of the chosen mask (feed back as mask_input).
        index: index of the chosen candidate among ``scores``.
        scores: predicted IoU of every candidate, float32.
    """

    mask: npt.NDArray[np.bool_]
    offset: tuple[int, int]
    score: float
    low_res_logits: npt.NDArray[np.float32]
    index: int
    scores: npt.NDArray[np.float32] = field(repr=False)


class Predictor:
    """Compute an image embedding once, then predict masks for prompts cheaply."""

    def __init__(self, model: Sam) -> None:
        self.model = model
        self.transform = ResizeLongestSide(model.image_size)
        self.reset_image()

    @property
    def device(self) -> torch.device:
        return self.model.device

    # --- image -------------------------------------------------------------------------
    def set_image(self, image: npt.NDArray[np.uint8], image_format: str = "RGB") -> None:
        """Encode an H×W×3 uint8 image (``image_format`` "RGB" or "BGR")."""
        if image_format not in ("RGB", "BGR"):
            raise ValueError(f"image_format must be 'RGB' or 'BGR', got {image_format!r}")
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"expected an H×W×3 uint8 image, got shape {image.shape} dtype {image.dtype}"
            )
        if image_format != self.model.image_format:
            image = image[..., ::-1]
        input_image = self.transform.apply_image(np.ascontiguousarray(image))
        input_torch = torch.as_tensor(input_image, device=self.device)
        input_torch = input_torch.permute(2, 0, 1).contiguous()[None, :, :, :]
        self.set_torch_image(input_torch, (int(image.shape[0]), int(image.shape[1])))

    @torch.no_grad()
    def set_torch_image(
        self, transformed_image: torch.Tensor, original_image_size: tuple[int, int]
    ) -> None:
        """Encode a 1×3×h×w image already resized so that max(h, w) == 1024."""
        size = self.model.image_size
        if (
            transformed_image.ndim != 4
            or transformed_image.shape[1] != 3
            or max(*transformed_image.shape[2:]) != size
        ):
            raise ValueError(
                f"set_torch_image expects a 1×3×h×w tensor with long side {size}, "
                f"got {tuple(transformed_image.shape)}"
            )
        self.reset_image()
        self.original_size = (int(original_image_size[0]), int(original_image_size[1]))
        self.input_size = (int(transformed_image.shape[-2]), int(transformed_image.shape[-1]))
        input_image = self.model.preprocess(transformed_image)
        self.features = self.model.encode(input_image)
        self.is_image_set = True

    def set_embedding(
        self,
        features: torch.Tensor,
        original_size: tuple[int, int],
        input_size: tuple[int, int],
    ) -> None:
        """Use a cached 1×256×64×64 embedding instead of encoding.

        ``original_size`` and ``input_size`` are (h, w) as recorded when it was computed.
        """
        if tuple(features.shape) != (1, *EMBEDDING_SHAPE):
            raise ValueError(f"expected features of shape 1×256×64×64, got {tuple(features.shape)}")
        expected = self.transform.get_preprocess_shape(
            original_size[0], original_size[1], self.model.image_size
        )
        if tuple(input_size) != expected:
            raise ValueError(
                f"input_size {tuple(input_size)} does not match original_size "
                f"{tuple(original_size)} (expected {expected})"
            )
        self.reset_image()
        self.features = features.to(self.device, torch.float32)
        self.original_size = (int(original_size[0]), int(original_size[1]))
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.is_image_set = True

    def get_image_embedding(self) -> torch.Tensor:
        """The current 1×256×64×64 float32 embedding."""
        self._require_image()
        assert self.features is not None
        return self.features

    def reset_image(self) -> None:
        """Forget the current image, and the mask outputs kept for recycling (a 48 MP image's
        are ~150 MB; the next image's first multimask click allocates afresh)."""
        release_buffers()
        self.is_image_set = False
        self.features: torch.Tensor | None = None
        self.original_size: tuple[int, int] | None = None
        self.input_size: tuple[int, int] | None = None

    def _require_image(self) -> None:
        if not self.is_image_set:
            raise RuntimeError("An image must be set with .set_image(...) before mask prediction.")

    # --- prompts -----------------------------------------------------------------------
    def _prompt_tensors(
        self,
        point_coords: npt.ArrayLike | None,
        point_labels: npt.ArrayLike | None,
        box: npt.ArrayLike | None,
        mask_input: npt.ArrayLike | None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Validate numpy prompts and turn them into batch-of-one tensors in input frame."""
        assert self.original_size is not None
        coords_t = labels_t = box_t = mask_t = None
        if point_coords is not None:
            if point_labels is None:
                raise ValueError("point_labels must be given with point_coords")
            coords = np.asarray(point_coords, dtype=np.float64)
            labels = np.asarray(point_labels)
            if coords.ndim != 2 or coords.shape[1] != 2 or labels.shape != (coords.shape[0],):
                raise ValueError(
                    f"expected point_coords N×2 and point_labels N, got {coords.shape} "
                    f"and {labels.shape}"
                )
            coords = self.transform.apply_coords(coords, self.original_size)
            coords_t = torch.as_tensor(coords, dtype=torch.float, device=self.device)[None]
            labels_t = torch.as_tensor(labels, dtype=torch.int, device=self.device)[None]
        elif point_labels is not None:
            raise ValueError("point_labels given without point_coords")
        if box is not None:
            box_np = np.asarray(box, dtype=np.float64)
            if box_np.size != 4:
                raise ValueError(f"expected one XYXY box of 4 numbers, got shape {box_np.shape}")
            box_np = self.transform.apply_boxes(box_np, self.original_size)
            box_t = torch.as_tensor(box_np, dtype=torch.float, device=self.device)[None, :]
        if mask_input is not None:
            mask_np = np.asarray(mask_input, dtype=np.float32)
            if mask_np.shape != (1, LOW_RES, LOW_RES):
                raise ValueError(
                    f"expected mask_input of shape 1×256×256 (low-res logits), got {mask_np.shape}"
                )
            mask_t = torch.as_tensor(mask_np, device=self.device)[None, :, :, :]
        return coords_t, labels_t, box_t, mask_t

    @torch.no_grad()
    def _decode(
        self,
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        boxes: torch.Tensor | None,
        mask_input: torch.Tensor | None,
        multimask_output: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt encoder + mask decoder: → (low-res logits B×K×256×256, IoU B×K)."""
        self._require_image()
        points = (point_coords, point_labels) if point_coords is not None else None
        sparse, dense = self.model.prompt_encoder(points=points, boxes=boxes, masks=mask_input)
        return self.model.mask_decoder(
            image_embeddings=self.features,
            image_pe=self.model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
        )

    def predict(
        self,
        point_coords: npt.ArrayLike | None = None,
        point_labels: npt.ArrayLike | None = None,
        box: npt.ArrayLike | None = None,
        mask_input: npt.ArrayLike | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[npt.NDArray, npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Predict masks for one prompt set.

        Args:
            point_coords: N×2 XY in original-image pixels; point_labels: N (1 fg, 0 bg).
            box: XYXY in original-image pixels.
            mask_input: 1×256×256 low-res logits from an earlier prediction.
            multimask_output: three candidates when True, one otherwise.
            return_logits: float logits instead of bool masks.

        Returns:
            masks C×H×W (bool, or float32 logits), scores C float32, low-res logits
            C×256×256 float32.
        """
        self._require_image()
        coords, labels, box_t, mask_t = self._prompt_tensors(
            point_coords, point_labels, box, mask_input
        )
        low_res, iou = self._decode(coords, labels, box_t, mask_t, multimask_output)
        assert self.input_size is not None and self.original_size is not None
        low_res_cpu = low_res.float().cpu()
        if return_logits:
            masks = upscale_logits(low_res_cpu, self.input_size, self.original_size)[0].numpy()
        else:
            masks = masks_from_low_res(
                low_res_cpu, self.input_size, self.original_size, self.model.mask_threshold
            )[0]
        return masks, iou[0].float().cpu().numpy(), low_res_cpu[0].numpy()

    def predict_torch(
        self,
        point_coords: torch.Tensor | None,
        point_labels: torch.Tensor | None,
        boxes: torch.Tensor | None = None,
        mask_input: torch.Tensor | None = None,
        multimask_output: bool = True,
        return_logits: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Batched prediction with prompts already in the input frame (see ``transform``).

        Args:
            point_coords: B×N×2 float XY; point_labels: B×N int.
            boxes: B×4 float XYXY.
            mask_input: B×1×256×256 float logits.

        Returns:
            masks B×C×H×W (bool, or logits), IoU B×C, low-res logits B×C×256×256.
        """
        if point_coords is not None and point_labels is None:
            raise ValueError("point_labels must be given with point_coords")
        low_res, iou = self._decode(point_coords, point_labels, boxes, mask_input, multimask_output)
        assert self.input_size is not None and self.original_size is not None
        with torch.no_grad():
            masks = upscale_logits(low_res, self.input_size, self.original_size)
        if not return_logits:
            masks = masks > self.model.mask_threshold
        return masks, iou, low_res

    def predict_best(
        self,
        point_coords: npt.ArrayLike | None = None,
        point_labels: npt.ArrayLike | None = None,
        box: npt.ArrayLike | None = None,
        mask_input: npt.ArrayLike | None = None,
        multimask_output: bool = True,
    ) -> BestMask:
        """The per-click fast path: only the best-scoring candidate is upscaled, and cropped.

        Arguments as in :meth:`predict`. The result equals the argmax-score mask of
        ``predict`` cropped to its bounding box.
        """
        self._require_image()
        coords, labels, box_t, mask_t = self._prompt_tensors(
            point_coords, point_labels, box, mask_input
        )
        low_res, iou = self._decode(coords, labels, box_t, mask_t, multimask_output)
        assert self.input_size is not None and self.original_size is not None
        scores = iou[0].float().cpu().numpy()
        index = int(np.argmax(scores))
        chosen = low_res[0, index].float().cpu()
        mask, offset = best_mask_crop(
            chosen, self.input_size, self.original_size, self.model.mask_threshold
        )
        return BestMask(
            mask=mask,
            offset=(int(offset[0]), int(offset[1])),
            score=float(scores[index]),
            low_res_logits=chosen[None].numpy().copy(),
            index=index,
            scores=scores,
        )
