"""SAM's mask decoder: tokens + image embedding → low-res mask logits and IoU scores."""

from __future__ import annotations

import torch
from torch import nn

from samdesk.sam.common import MLP, LayerNorm2d
from samdesk.sam.transformer import TwoWayTransformer


class MaskDecoder(nn.Module):
    """IoU token + (1 + num_multimask_outputs) mask tokens through a two-way transformer.

    Keys (official): ``transformer.*``, ``iou_token``, ``mask_tokens``,
    ``output_upscaling.{0,1,3}``, ``output_hypernetworks_mlps.i.layers.j``,
    ``iou_prediction_head.layers.j``.
    """

    def __init__(
        self,
        *,
        transformer_dim: int = 256,
        transformer: nn.Module | None = None,
        num_multimask_outputs: int = 3,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
    ) -> None:
        super().__init__()
        self.transformer_dim = transformer_dim
        self.transformer = transformer if transformer is not None else TwoWayTransformer()
        self.num_multimask_outputs = num_multimask_outputs
        self.iou_token = nn.Embedding(1, transformer_dim)
        self.num_mask_tokens = num_multimask_outputs + 1
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, transformer_dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(transformer_dim, transformer_dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(transformer_dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(transformer_dim // 4, transformer_dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(transformer_dim, transformer_dim, transformer_dim // 8, 3)
            for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(
            transformer_dim, iou_head_hidden_dim, self.num_mask_tokens, iou_head_depth
        )

    def forward(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        multimask_output: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict masks.

        Args:
            image_embeddings: 1×C×64×64 (shared by the batch) or B×C×64×64.
            image_pe: 1×C×64×64 dense positional encoding.
            sparse_prompt_embeddings: B×N×C; dense_prompt_embeddings: B×C×64×64.
            multimask_output: tokens 1–3 when True, token 0 otherwise.

        Returns:
            low-res mask logits B×K×256×256 and IoU predictions B×K (K = 3 or 1).
        """
        token_slice = slice(1, None) if multimask_output else slice(0, 1)
        return self.predict_masks(
            image_embeddings,
            image_pe,
            sparse_prompt_embeddings,
            dense_prompt_embeddings,
            token_slice,
        )

    def predict_masks(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        token_slice: slice = slice(None),
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All-token variant of :meth:`forward`; ``token_slice`` picks the mask tokens."""
        bs = sparse_prompt_embeddings.shape[0]
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        output_tokens = output_tokens.unsqueeze(0).expand(bs, -1, -1)
        tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)

        if image_embeddings.shape[0] != bs:
            image_embeddings = image_embeddings.expand(bs, -1, -1, -1)
        src = image_embeddings + dense_prompt_embeddings
        pos_src = image_pe.expand(bs, -1, -1, -1)
        b, c, h, w = src.shape

        hs, src = self.transformer(src, pos_src, tokens)
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1 : 1 + self.num_mask_tokens, :]

        src = src.transpose(1, 2).reshape(b, c, h, w)
        upscaled = self.output_upscaling(src)
        # Only the hypernetworks of the requested tokens are evaluated: the others' masks
        # would be discarded anyway.
        indexes = range(self.num_mask_tokens)[token_slice]
        hyper_in = torch.stack(
            [self.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :]) for i in indexes], dim=1
        )
        b, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.view(b, c, h * w)).view(b, -1, h, w)
        iou_pred = self.iou_prediction_head(iou_token_out)[:, token_slice]
        return masks, iou_pred
