"""SAM's ViT image encoder (windowed + global attention with decomposed relative position).

State-dict keys are the official ones under ``image_encoder.``: ``patch_embed.proj``,
``pos_embed`` (1×64×64×C), ``blocks.i.{norm1,attn.{qkv,proj,rel_pos_h,rel_pos_w},norm2,
mlp.{lin1,lin2}}`` and ``neck.{0,1,2,3}``.

The attention computes exactly the official quantity

    softmax(q·kᵀ·scale + rel_h[i, kh(j)] + rel_w[i, kw(j)]) · v

but through ``scaled_dot_product_attention`` instead of a materialised N×N score matrix:

* windowed blocks (N = 196) fold the bias into the dot product: q' = [q·scale, rel_h, rel_w],
  k' = [k, onehot(kh), onehot(kw)], SDPA with scale 1. v is zero-padded to the same width
  because the fused CPU/GPU kernels need equal head dims (the math fallback is 3× slower).
* global blocks (N = 4096) pass the bias as ``attn_mask`` in chunks of query rows, so at most
  ``heads × chunk × 4096`` bias values exist at once instead of ``heads × 4096 × 4096``
  (805 MB for ViT-B). See benchmarks/bench_sam.py for the measured alternatives.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from samdesk.sam.common import LayerNorm2d, MLPBlock

# Query rows of the 64×64 grid handled per SDPA call in global blocks: bounds the bias
# memory to heads × (rows·64) × 4096 floats (ViT-H: 16·512·4096·4 B = 128 MB).
GLOBAL_ROWS_PER_CHUNK = 8


class PatchEmbed(nn.Module):
    """16×16 conv patchify: B×3×1024×1024 → B×64×64×C (channels last)."""

    def __init__(self, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


def get_rel_pos(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """Relative position table indexed by (query, key) position: q_size×k_size×C.

    ``rel_pos`` is (2·max(q_size, k_size) − 1)×C; a table of another length is linearly
    resized first, as the official code does.
    """
    max_rel_dist = int(2 * max(q_size, k_size) - 1)
    if rel_pos.shape[0] != max_rel_dist:
        resized = F.interpolate(
            rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1),
            size=max_rel_dist,
            mode="linear",
        )
        resized = resized.reshape(-1, max_rel_dist).permute(1, 0)
    else:
        resized = rel_pos
    q_coords = torch.arange(q_size, device=rel_pos.device)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size, device=rel_pos.device)[None, :] * max(q_size / k_size, 1.0)
    relative = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return resized[relative.long()]


def _rel_terms(
    q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor, h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decomposed bias terms from the unscaled queries q (B×heads×(h·w)×d).

    Returns rel_h (B×heads×h×w×h) and rel_w (B×heads×h×w×w): the bias between query (y, x)
    and key (ky, kx) is rel_h[y, x, ky] + rel_w[y, x, kx].
    """
    rh = get_rel_pos(h, h, rel_pos_h).to(q.dtype)
    rw = get_rel_pos(w, w, rel_pos_w).to(q.dtype)
    b, n_heads, _, d = q.shape
    r_q = q.reshape(b, n_heads, h, w, d)
    rel_h = torch.einsum("bnhwc,hkc->bnhwk", r_q, rh)
    rel_w = torch.einsum("bnhwc,wkc->bnhwk", r_q, rw)
    return rel_h, rel_w


def windowed_rel_pos_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    rel_h: torch.Tensor,
    rel_w: torch.Tensor,
    scale: float,
) -> torch.Tensor:
    """Attention with the decomposed bias folded into augmented q/k columns.

    q, k, v: B×heads×N×d with N = h·w; rel_h: B×heads×h×w×h; rel_w: B×heads×h×w×w.
    Returns B×heads×N×d.
    """
    b, n_heads, n, d = q.shape
    h, w = rel_h.shape[2], rel_h.shape[3]
    pos = torch.arange(n, device=q.device)
    onehot_h = F.one_hot(pos // w, h).to(q.dtype)
    onehot_w = F.one_hot(pos % w, w).to(q.dtype)
    q_aug = torch.cat(
        [q * scale, rel_h.reshape(b, n_heads, n, h), rel_w.reshape(b, n_heads, n, w)], -1
    )
    k_aug = torch.cat([k, onehot_h.expand(b, n_heads, n, h), onehot_w.expand(b, n_heads, n, w)], -1)
    v_pad = F.pad(v, (0, q_aug.shape[-1] - d))
    out = F.scaled_dot_product_attention(q_aug, k_aug, v_pad, scale=1.0)
    return out[..., :d]


def chunked_bias_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    rel_h: torch.Tensor,
    rel_w: torch.Tensor,
    scale: float,
    rows_per_chunk: int = GLOBAL_ROWS_PER_CHUNK,
) -> torch.Tensor:
    """Attention with the bias passed to SDPA as a mask, a few query rows at a time.

    Shapes as in :func:`windowed_rel_pos_attention`.
    """
    b, n_heads, n, _ = q.shape
    h, w = rel_h.shape[2], rel_h.shape[3]
    out = torch.empty_like(q)
    for y0 in range(0, h, rows_per_chunk):
        y1 = min(y0 + rows_per_chunk, h)
        bias = rel_h[:, :, y0:y1, :, :, None] + rel_w[:, :, y0:y1, :, None, :]
        bias = bias.reshape(b, n_heads, (y1 - y0) * w, n)
        out[:, :, y0 * w : y1 * w] = F.scaled_dot_product_attention(
            q[:, :, y0 * w : y1 * w], k, v, attn_mask=bias, scale=scale
        )
    return out


class Attention(nn.Module):
    """Multi-head attention with decomposed relative position bias (keys as official)."""

    def __init__(self, dim: int, num_heads: int, input_size: tuple[int, int]) -> None:
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, head_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: B×H×W×C → B×H×W×C."""
        b, h, w, _ = x.shape
        n = h * w
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        rel_h, rel_w = _rel_terms(q, self.rel_pos_h, self.rel_pos_w, h, w)
        if n <= 1024:
            out = windowed_rel_pos_attention(q, k, v, rel_h, rel_w, self.scale)
        else:
            out = chunked_bias_attention(q, k, v, rel_h, rel_w, self.scale)
        out = out.permute(0, 2, 1, 3).reshape(b, h, w, -1)
        return self.proj(out)


def window_partition(x: torch.Tensor, window_size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """B×H×W×C → (B·nW)×ws×ws×C windows, zero-padding H and W to multiples of ws.

    The padded tokens take part in attention as keys, exactly as in the official code.
    """
    b, h, w, c = x.shape
    pad_h = (window_size - h % window_size) % window_size
    pad_w = (window_size - w % window_size) % window_size
    if pad_h > 0 or pad_w > 0:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.view(b, hp // window_size, window_size, wp // window_size, window_size, c)
    windows = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size, window_size, c)
    return windows, (hp, wp)


def window_unpartition(
    windows: torch.Tensor, window_size: int, pad_hw: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    """Inverse of :func:`window_partition`, dropping the padding: → B×H×W×C."""
    hp, wp = pad_hw
    h, w = hw
    b = windows.shape[0] // (hp * wp // window_size // window_size)
    x = windows.view(b, hp // window_size, wp // window_size, window_size, window_size, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, -1)
    if hp > h or wp > w:
        x = x[:, :h, :w, :].contiguous()
    return x


class Block(nn.Module):
    """Transformer block; ``window_size`` 0 means global attention."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        window_size: int,
        input_size: tuple[int, int],
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(
            dim, num_heads, input_size if window_size == 0 else (window_size, window_size)
        )
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLPBlock(dim, int(dim * mlp_ratio), nn.GELU)
        self.window_size = window_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.window_size > 0:
            h, w = x.shape[1], x.shape[2]
            x, pad_hw = window_partition(x, self.window_size)
            x = self.attn(x)
            x = window_unpartition(x, self.window_size, pad_hw, (h, w))
        else:
            x = self.attn(x)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class ImageEncoderViT(nn.Module):
    """SAM ViT encoder: B×3×1024×1024 normalised float → B×out_chans×64×64."""

    def __init__(
        self,
        *,
        img_size: int = 1024,
        patch_size: int = 16,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        out_chans: int = 256,
        window_size: int = 14,
        global_attn_indexes: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.img_size = img_size
        grid = img_size // patch_size
        self.patch_embed = PatchEmbed(patch_size, 3, embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, grid, grid, embed_dim))
        self.blocks = nn.ModuleList(
            Block(
                embed_dim,
                num_heads,
                mlp_ratio,
                window_size if i not in global_attn_indexes else 0,
                (grid, grid),
            )
            for i in range(depth)
        )
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dim, out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = x + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.neck(x.permute(0, 3, 1, 2))
