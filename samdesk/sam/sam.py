"""The composed SAM model: image encoder + prompt encoder + mask decoder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from samdesk.sam.loading import ModelInfo

PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


class Sam(nn.Module):
    """Segment Anything with any image encoder that maps B×3×1024×1024 → B×256×64×64.

    Components are handed in, so ViT and TinyViT encoders plug into the same model.
    ``info`` and ``checkpoint`` are filled in by :func:`samdesk.sam.load_model`.
    """

    mask_threshold: float = 0.0
    image_format: str = "RGB"

    def __init__(
        self,
        image_encoder: nn.Module,
        prompt_encoder: nn.Module,
        mask_decoder: nn.Module,
        pixel_mean: tuple[float, float, float] = PIXEL_MEAN,
        pixel_std: tuple[float, float, float] = PIXEL_STD,
        image_size: int = 1024,
    ) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        self.image_size = image_size
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(-1, 1, 1), False)
        self.info: ModelInfo | None = None
        self.checkpoint: str | None = None

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    @property
    def encoder_dtype(self) -> torch.dtype:
        """dtype of the image encoder's weights (fp32 unless loaded for a GPU in bf16/fp16)."""
        return next(self.image_encoder.parameters()).dtype

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """B×3×h×w (uint8 or float, RGB, long side 1024) → normalised, zero-padded to 1024²."""
        x = (x - self.pixel_mean) / self.pixel_std
        h, w = x.shape[-2:]
        return F.pad(x, (0, self.image_size - w, 0, self.image_size - h))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Preprocessed B×3×1024×1024 float32 → B×256×64×64 float32 image embedding."""
        dtype = self.encoder_dtype
        features = self.image_encoder(x.to(dtype))
        return features.float()

    def postprocess_masks(
        self,
        masks: torch.Tensor,
        input_size: tuple[int, int],
        original_size: tuple[int, int],
    ) -> torch.Tensor:
        """The official upscaling chain: B×C×256×256 logits → B×C×H×W logits.

        Bilinear (align_corners=False) to 1024², crop to ``input_size``, bilinear to
        ``original_size``.
        """
        masks = F.interpolate(
            masks, (self.image_size, self.image_size), mode="bilinear", align_corners=False
        )
        masks = masks[..., : input_size[0], : input_size[1]]
        return F.interpolate(masks, original_size, mode="bilinear", align_corners=False)
