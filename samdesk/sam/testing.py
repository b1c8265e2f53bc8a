"""Test helpers: small random-weight checkpoints in the official key format (for tests of
other layers), and the official formulation of the ViT attention (the reference for tests and
benchmarks)."""

from __future__ import annotations

from pathlib import Path

import torch

# A TinyViT small enough to encode a 1024 image in a fraction of a second; the four-stage
# layout (conv stage, then attention stages, stride 16) is MobileSAM's.
SMALL_TINY_VIT_CONFIG: dict[str, object] = {
    "embed_dims": (16, 32, 48, 64),
    "depths": (1, 1, 1, 1),
    "num_heads": (1, 1, 2, 2),
    "window_sizes": (7, 7, 14, 7),
}


def make_checkpoint(
    path: str | Path,
    arch: str = "vit",
    *,
    embed_dim: int = 32,
    depth: int = 2,
    num_heads: int = 2,
    global_attn_indexes: tuple[int, ...] = (1,),
    seed: int = 0,
) -> Path:
    """Write a seeded random-weight SAM checkpoint (plain state dict, official keys).

    ``arch`` is "vit" (encoder of the given shape) or "tiny_vit" (a reduced TinyViT; the
    ViT shape arguments are ignored). The prompt encoder and mask decoder are full size.
    Every floating weight is random (including rel-pos tables and embeddings, which a
    fresh model leaves at zero) so masks depend on the image and the prompts.
    """
    from samdesk.sam.loading import build_sam_tiny_vit, build_sam_vit

    torch.manual_seed(seed)
    if arch == "vit":
        model = build_sam_vit(embed_dim, depth, num_heads, global_attn_indexes)
    elif arch == "tiny_vit":
        model = build_sam_tiny_vit(**SMALL_TINY_VIT_CONFIG)
    else:
        raise ValueError(f"arch must be 'vit' or 'tiny_vit', got {arch!r}")
    generator = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    for name, tensor in state.items():
        if name.endswith(("attn.rel_pos_h", "attn.rel_pos_w", "image_encoder.pos_embed")):
            tensor.copy_(0.1 * torch.randn(tensor.shape, generator=generator))
        elif (
            name.startswith(("prompt_encoder.", "mask_decoder."))
            and ("embed" in name or "token" in name)
            and name.endswith(".weight")
        ):
            tensor.copy_(torch.randn(tensor.shape, generator=generator))
    path = Path(path)
    torch.save(state, path)
    return path


def plain_attention(attn: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """segment_anything's ``Attention.forward`` for an ``image_encoder.Attention`` ``attn``:
    the full B·heads×N×N score matrix plus the explicit decomposed rel-pos bias.

    x: B×h×w×C; returns B×h×w×C. Usable as a method: ``MethodType(plain_attention, attn)``.
    """
    from samdesk.sam.image_encoder import get_rel_pos

    b, h, w, _ = x.shape
    qkv = attn.qkv(x).reshape(b, h * w, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.reshape(3, b * attn.num_heads, h * w, -1).unbind(0)
    scores = (q * attn.scale) @ k.transpose(-2, -1)
    rh, rw = get_rel_pos(h, h, attn.rel_pos_h), get_rel_pos(w, w, attn.rel_pos_w)
    r_q = q.reshape(b * attn.num_heads, h, w, -1)
    rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, rh)
    rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, rw)
    scores = scores.view(-1, h, w, h, w) + rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]
    scores = scores.view(-1, h * w, h * w).softmax(dim=-1)
    out = (scores @ v).view(b, attn.num_heads, h, w, -1).permute(0, 2, 3, 1, 4)
    return attn.proj(out.reshape(b, h, w, -1))
