"""TinyViT image encoder of MobileSAM.

A re-implementation of the TinyViT variant MobileSAM plugs into SAM in place of the ViT
image encoder. Parameter and buffer names equal the ``image_encoder.*`` keys of
``mobile_sam.pt`` with the prefix stripped, so its weights load with ``strict=True``.

Architecture (MobileSAM's ``build_sam_vit_t``), for a 1024×1024 input:

- ``patch_embed``: two 3×3 stride-2 convolutions (with BatchNorm) → stride 4, 256×256.
- ``layers[0]``: MBConv blocks (inverted residuals), then a patch merging to 128×128.
- ``layers[1..]``: TinyViT blocks (window attention with a learnt relative-position bias,
  a depthwise "local" convolution, an MLP), each stage ending in a patch merging; the
  last patch merging keeps the resolution, so the encoder's stride is 16 (64×64).
- ``neck``: 1×1 and 3×3 convolutions with channel LayerNorms to 256 channels.
- ``norm_head`` / ``head``: TinyViT's ImageNet classifier. MobileSAM never runs it, but
  ``mobile_sam.pt`` holds its weights, so the modules exist for a strict load.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DEFAULT_MOBILE_SAM_CONFIG", "TinyViT", "infer_tiny_vit_config"]

DEFAULT_MOBILE_SAM_CONFIG: dict[str, Any] = {
    "img_size": 1024,
    "in_chans": 3,
    "num_classes": 1000,
    "embed_dims": [64, 128, 160, 320],
    "depths": [2, 2, 6, 2],
    "num_heads": [2, 4, 5, 10],
    "window_sizes": [7, 7, 14, 7],
    "mlp_ratio": 4.0,
    "mbconv_expand_ratio": 4.0,
    "local_conv_size": 3,
}
"""MobileSAM's TinyViT configuration (``build_sam_vit_t``)."""

# The neck's width is SAM's prompt-embedding width, fixed by the prompt encoder/decoder.
_NECK_CHANS = 256


class _ConvBN(nn.Sequential):
    """Bias-free convolution followed by BatchNorm (TinyViT's ``Conv2d_BN``).

    In eval mode the BatchNorm is folded into the convolution's weights at call time:
    one pass over the activations instead of two, which matters at stride 4 where the
    MBConv tensors are 256 channels × 256×256. The folded weights are recomputed on every
    call (a few thousand numbers), so loading new weights never leaves a stale copy.
    """

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.add_module(
            "c",
            nn.Conv2d(in_chans, out_chans, kernel_size, stride, padding, groups=groups, bias=False),
        )
        self.add_module("bn", nn.BatchNorm2d(out_chans))

    def forward(self, x: Tensor) -> Tensor:
        """B×Cin×H×W float → B×Cout×H'×W' float."""
        conv: nn.Conv2d = self.c
        bn: nn.BatchNorm2d = self.bn
        if self.training or bn.running_var is None or bn.running_mean is None:
            return bn(conv(x))
        inv_std = torch.rsqrt(bn.running_var + bn.eps)
        scale = bn.weight * inv_std
        weight = conv.weight * scale[:, None, None, None]
        bias = bn.bias - bn.running_mean * scale
        return F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)


class _LayerNorm2d(nn.Module):
    """LayerNorm over the channels of a B×C×H×W tensor (SAM's ``LayerNorm2d``, eps 1e-6)."""

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        """B×C×H×W float → B×C×H×W float."""
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) * torch.rsqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class _PatchEmbed(nn.Module):
    """Stem: two 3×3 stride-2 conv+BN with GELU between, B×Cin×H×W → B×C×H/4×W/4."""

    def __init__(self, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        # Index 1 is the activation: the weights sit at seq.0 and seq.2 in the checkpoint.
        self.seq = nn.Sequential(
            _ConvBN(in_chans, embed_dim // 2, 3, 2, 1),
            nn.GELU(),
            _ConvBN(embed_dim // 2, embed_dim, 3, 2, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        """B×Cin×H×W float → B×C×⌈H/4⌉×⌈W/4⌉ float."""
        return self.seq(x)


class _MBConv(nn.Module):
    """Inverted residual block: 1×1 expand, 3×3 depthwise, 1×1 project, residual, GELU."""

    def __init__(self, chans: int, expand_ratio: float) -> None:
        super().__init__()
        hidden = int(chans * expand_ratio)
        self.conv1 = _ConvBN(chans, hidden, 1)
        self.conv2 = _ConvBN(hidden, hidden, 3, 1, 1, groups=hidden)
        self.conv3 = _ConvBN(hidden, chans, 1)

    def forward(self, x: Tensor) -> Tensor:
        """B×C×H×W float → B×C×H×W float."""
        y = F.gelu(self.conv1(x))
        y = F.gelu(self.conv2(y))
        y = self.conv3(y)
        return F.gelu(y + x)


class _PatchMerging(nn.Module):
    """1×1 conv, 3×3 depthwise conv (stride 2, or 1), 1×1 conv; B×C×H×W → B×Cout×H'×W'."""

    def __init__(self, dim: int, out_dim: int, stride: int) -> None:
        super().__init__()
        self.conv1 = _ConvBN(dim, out_dim, 1)
        self.conv2 = _ConvBN(out_dim, out_dim, 3, stride, 1, groups=out_dim)
        self.conv3 = _ConvBN(out_dim, out_dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        """B×C×H×W float → B×Cout×H'×W' float (H' = ⌈H/stride⌉)."""
        x = F.gelu(self.conv1(x))
        x = F.gelu(self.conv2(x))
        return self.conv3(x)


class _Attention(nn.Module):
    """Multi-head self-attention with TinyViT's learnt relative-position bias.

    The bias is one number per head and per |dy|, |dx| offset between two positions of a
    window (``attention_biases``, heads×offsets, in the checkpoint); ``attention_bias_idxs``
    (N×N, N = window²) maps each query/key pair to its offset and is rebuilt from the
    window size, as it is not stored in ``mobile_sam.pt``. The bias is always added: the
    weights were trained with it (MobileSAM's documented use calls ``.eval()`` after loading,
    which applies the loaded table).
    """

    def __init__(self, dim: int, num_heads: int, window_size: int, fused: bool) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        # TinyViT's blocks use attn_ratio 1: queries, keys and values all have dim/heads.
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused = fused
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

        points = list(itertools.product(range(window_size), range(window_size)))
        offsets: dict[tuple[int, int], int] = {}
        idxs: list[int] = []
        for p1 in points:
            for p2 in points:
                offset = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
                idxs.append(offsets.setdefault(offset, len(offsets)))
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, len(offsets)))
        n = len(points)
        self.register_buffer(
            "attention_bias_idxs", torch.tensor(idxs, dtype=torch.long).view(n, n), persistent=False
        )

    def forward(self, x: Tensor) -> Tensor:
        """B×N×C float (N = window², tokens row-major) → B×N×C float."""
        b, n, c = x.shape
        x = self.norm(x)
        # Per head the qkv features are laid out [q | k | v] (TinyViT's split order).
        qkv = self.qkv(x).view(b, n, self.num_heads, 3 * self.head_dim).transpose(1, 2)
        q, k, v = qkv.split(self.head_dim, dim=-1)
        # heads×N×N; materialising it is cheap (at most 10×49×49 or 5×196×196 numbers).
        bias = self.attention_biases[:, self.attention_bias_idxs]
        if self.fused:
            # A 4-D (stride-0 expanded) mask keeps SDPA on its fused CPU kernel; a 3-D
            # heads×N×N mask sent it to a path slower than the plain formulation.
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.expand(b, -1, -1, -1))
        else:
            attn = (q @ k.transpose(-2, -1)) * self.scale + bias
            out = attn.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class _Mlp(nn.Module):
    """LayerNorm, Linear, GELU, Linear on B×N×C tokens."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        """B×N×C float → B×N×C float."""
        return self.fc2(F.gelu(self.fc1(self.norm(x))))


class _TinyViTBlock(nn.Module):
    """Window attention, depthwise local conv, MLP; B×H×W×C channels-last tokens."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float,
        local_conv_size: int,
        fused: bool,
    ) -> None:
        super().__init__()
        self.window_size = window_size
        self.attn = _Attention(dim, num_heads, window_size, fused)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))
        self.local_conv = _ConvBN(dim, dim, local_conv_size, 1, local_conv_size // 2, groups=dim)

    def _window_attention(self, x: Tensor) -> Tensor:
        """B×H×W×C → B×H×W×C, attention within non-overlapping windows."""
        b, h, w, c = x.shape
        ws = self.window_size
        pad_b = (ws - h % ws) % ws
        pad_r = (ws - w % ws) % ws
        # The official model pads with zeros *before* the attention's LayerNorm and does not
        # mask the padding: padded tokens are keys of the windows at the border. Doing the
        # same keeps the features identical to MobileSAM's.
        if pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        ph, pw = h + pad_b, w + pad_r
        nh, nw = ph // ws, pw // ws
        x = x.reshape(b, nh, ws, nw, ws, c).transpose(2, 3).reshape(b * nh * nw, ws * ws, c)
        x = self.attn(x)
        x = x.view(b, nh, nw, ws, ws, c).transpose(2, 3).reshape(b, ph, pw, c)
        if pad_b or pad_r:
            x = x[:, :h, :w]
        return x

    def forward(self, x: Tensor) -> Tensor:
        """B×H×W×C float → B×H×W×C float."""
        x = x + self._window_attention(x)
        x = self.local_conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return x + self.mlp(x)


class _ConvLayer(nn.Module):
    """Stage 0: MBConv blocks then patch merging, on B×C×H×W."""

    def __init__(
        self, dim: int, depth: int, expand_ratio: float, downsample: _PatchMerging | None
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(_MBConv(dim, expand_ratio) for _ in range(depth))
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        """B×C×H×W float → B×C'×H'×W' float."""
        for blk in self.blocks:
            x = blk(x)
        return x if self.downsample is None else self.downsample(x)


class _BasicLayer(nn.Module):
    """A TinyViT stage: attention blocks then (optionally) patch merging, on B×C×H×W."""

    def __init__(
        self,
        blocks: Sequence[_TinyViTBlock],
        downsample: _PatchMerging | None,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        """B×C×H×W float → B×C'×H'×W' float."""
        # The blocks work channels-last (tokens); only the convolutions need B×C×H×W.
        x = x.permute(0, 2, 3, 1)
        for blk in self.blocks:
            x = blk(x)
        x = x.permute(0, 3, 1, 2)
        return x if self.downsample is None else self.downsample(x)


class TinyViT(nn.Module):
    """MobileSAM's TinyViT image encoder.

    Keyword arguments are those of MobileSAM's ``TinyViT``; ``drop_rate``,
    ``drop_path_rate``, ``use_checkpoint`` and ``layer_lr_decay`` only matter for training
    and are accepted and ignored. ``num_heads[0]`` and ``window_sizes[0]`` are unused (stage
    0 is convolutional) but kept so MobileSAM's configuration passes through unchanged.
    ``fused_attention`` selects ``scaled_dot_product_attention`` (default) or the plain
    formulation (materialised scores + bias, softmax), which is kept for comparison.

    The checkpoint's trained ``attention_biases`` are always applied, as MobileSAM was
    trained and as its documented use runs it (README example and demo app call
    ``.eval()`` after loading). Its ``build_sam_vit_t`` alone calls ``eval()`` *before*
    ``load_state_dict``, which leaves TinyViT's cached bias tables at their zero
    initialisation; that quirk is deliberately not reproduced — there is no switch for it,
    so no path (engine, CLI, selftest, bundle) can run MobileSAM as a different network.

    The feature stride is 16: patch embedding ×4, then every stage's patch merging ×2
    except the last one, which keeps the resolution. MobileSAM hard-codes this as
    "stride 1 when the output width is 320, 448 or 576", which is the last merging in
    every configuration its code can run.
    """

    def __init__(
        self,
        img_size: int = 1024,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dims: Sequence[int] = (96, 192, 384, 768),
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_sizes: Sequence[int] = (7, 7, 14, 7),
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        use_checkpoint: bool = False,
        mbconv_expand_ratio: float = 4.0,
        local_conv_size: int = 3,
        layer_lr_decay: float = 1.0,
        fused_attention: bool = True,
    ) -> None:
        super().__init__()
        del drop_rate, drop_path_rate, use_checkpoint, layer_lr_decay  # training only
        n = len(depths)
        if n < 2 or not (len(embed_dims) == len(num_heads) == len(window_sizes) == n):
            raise ValueError(
                "embed_dims, depths, num_heads and window_sizes must have the same length "
                f"(at least 2), got {list(embed_dims)}, {list(depths)}, {list(num_heads)}, "
                f"{list(window_sizes)}"
            )
        self.img_size = img_size
        self.in_chans = in_chans
        self.embed_dims = list(embed_dims)
        self.patch_embed = _PatchEmbed(in_chans, embed_dims[0])

        self.layers = nn.ModuleList()
        for i in range(n):
            downsample = None
            if i < n - 1:
                stride = 1 if i == n - 2 else 2
                downsample = _PatchMerging(embed_dims[i], embed_dims[i + 1], stride)
            if i == 0:
                layer: nn.Module = _ConvLayer(
                    embed_dims[0], depths[0], mbconv_expand_ratio, downsample
                )
            else:
                blocks = [
                    _TinyViTBlock(
                        embed_dims[i],
                        num_heads[i],
                        window_sizes[i],
                        mlp_ratio,
                        local_conv_size,
                        fused_attention,
                    )
                    for _ in range(depths[i])
                ]
                layer = _BasicLayer(blocks, downsample)
            self.layers.append(layer)

        self.norm_head = nn.LayerNorm(embed_dims[-1])
        self.head: nn.Module = (
            nn.Linear(embed_dims[-1], num_classes) if num_classes > 0 else nn.Identity()
        )
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dims[-1], _NECK_CHANS, kernel_size=1, bias=False),
            _LayerNorm2d(_NECK_CHANS),
            nn.Conv2d(_NECK_CHANS, _NECK_CHANS, kernel_size=3, padding=1, bias=False),
            _LayerNorm2d(_NECK_CHANS),
        )

    def set_fused_attention(self, fused: bool) -> None:
        """Switch every attention between SDPA (True) and the plain formulation (False)."""
        for module in self.modules():
            if isinstance(module, _Attention):
                module.fused = fused

    def forward(self, x: Tensor) -> Tensor:
        """Encode normalised, padded images.

        x: B×in_chans×H×W float (MobileSAM: B×3×1024×1024, pixel-normalised, zero-padded
        bottom/right). Returns B×256×⌈H/16⌉×⌈W/16⌉ in x's dtype (B×256×64×64 for 1024).
        """
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(
                f"expected a B×{self.in_chans}×H×W image tensor, got shape {tuple(x.shape)}"
            )
        # Channels-last: the stride-4 convolutions (the bulk of the time on CPU) run ~2×
        # faster with oneDNN, and the attention stages' B×H×W×C view becomes free.
        x = self.patch_embed(x.contiguous(memory_format=torch.channels_last))
        for layer in self.layers:
            x = layer(x)
        return self.neck(x)


_LAYER_RE = re.compile(r"^layers\.(\d+)\.blocks\.(\d+)\.")


def _shape(state_dict: Mapping[str, Tensor], key: str) -> tuple[int, ...]:
    if key not in state_dict:
        raise ValueError(f"not a TinyViT image encoder state dict: key {key!r} is missing")
    return tuple(state_dict[key].shape)


def _ratio(hidden: int, dim: int, what: str) -> float:
    ratio = hidden / dim
    if int(dim * ratio) != hidden:
        raise ValueError(f"cannot express {what} width {hidden} as a ratio of {dim}")
    return ratio


def infer_tiny_vit_config(state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
    """Read a TinyViT configuration from its weights.

    state_dict: the image encoder's tensors with the ``image_encoder.`` prefix removed
    (``patch_embed.seq.0.c.weight``, ``layers.1.blocks.0.attn.attention_biases``, …).
    Returns keyword arguments such that ``TinyViT(**config).load_state_dict(state_dict,
    strict=True)`` succeeds. ``img_size`` cannot be read from weights and is 1024;
    ``num_heads[0]`` / ``window_sizes[0]`` (unused by the convolutional stage 0) are set to
    the MobileSAM convention (32 channels per head, the next stage's window).
    Raises ValueError when the keys do not describe a TinyViT.
    """
    if "patch_embed.proj.weight" in state_dict:
        raise ValueError(
            "not a TinyViT image encoder state dict: 'patch_embed.proj.weight' is a ViT "
            "(SAM vit_b/l/h) patch embedding"
        )
    in_chans = _shape(state_dict, "patch_embed.seq.0.c.weight")[1]
    stem_dim = _shape(state_dict, "patch_embed.seq.2.c.weight")[0]

    blocks_per_layer: dict[int, set[int]] = {}
    for key in state_dict:
        m = _LAYER_RE.match(key)
        if m:
            blocks_per_layer.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    n = len(blocks_per_layer)
    if n < 2 or sorted(blocks_per_layer) != list(range(n)):
        raise ValueError(
            "not a TinyViT image encoder state dict: expected layers.0 … layers.N-1 with "
            f"blocks (N ≥ 2), found layers {sorted(blocks_per_layer)}"
        )
    depths = []
    for i in range(n):
        blocks = sorted(blocks_per_layer[i])
        if blocks != list(range(len(blocks))):
            raise ValueError(f"layers.{i} has non-contiguous block indices {blocks}")
        depths.append(len(blocks))

    embed_dims = [stem_dim]
    for i in range(n - 1):
        embed_dims.append(_shape(state_dict, f"layers.{i}.downsample.conv1.c.weight")[0])
    if f"layers.{n - 1}.downsample.conv1.c.weight" in state_dict:
        raise ValueError(f"the last stage layers.{n - 1} must not have a downsample")

    expand_hidden = _shape(state_dict, "layers.0.blocks.0.conv1.c.weight")[0]
    mbconv_expand_ratio = _ratio(expand_hidden, embed_dims[0], "MBConv hidden")

    num_heads = [max(1, embed_dims[0] // 32)]
    window_sizes = [0]
    mlp_ratio: float | None = None
    local_conv_size: int | None = None
    for i in range(1, n):
        dim = embed_dims[i]
        heads, num_offsets = _shape(state_dict, f"layers.{i}.blocks.0.attn.attention_biases")
        window = math.isqrt(num_offsets)
        if window * window != num_offsets:
            raise ValueError(
                f"layers.{i} attention_biases has {num_offsets} offsets, not a square window"
            )
        if dim % heads or _shape(state_dict, f"layers.{i}.blocks.0.attn.qkv.weight") != (
            3 * dim,
            dim,
        ):
            raise ValueError(f"layers.{i}: qkv of width {dim} does not fit {heads} heads")
        num_heads.append(heads)
        window_sizes.append(window)
        for j in range(depths[i]):
            prefix = f"layers.{i}.blocks.{j}."
            if _shape(state_dict, prefix + "attn.attention_biases") != (heads, num_offsets):
                raise ValueError(f"{prefix}attn.attention_biases differs from the stage's first")
            hidden = _shape(state_dict, prefix + "mlp.fc1.weight")[0]
            ratio = _ratio(hidden, dim, "MLP hidden")
            if mlp_ratio is None:
                mlp_ratio = ratio
            elif int(dim * mlp_ratio) != hidden:
                raise ValueError(f"{prefix}mlp.fc1 width {hidden} differs from ratio {mlp_ratio}")
            kernel = _shape(state_dict, prefix + "local_conv.c.weight")[-1]
            if local_conv_size is None:
                local_conv_size = kernel
            elif kernel != local_conv_size:
                raise ValueError(f"{prefix}local_conv kernel {kernel} differs from the others")
    window_sizes[0] = window_sizes[1]
    neck_out = _shape(state_dict, "neck.0.weight")[0]
    if neck_out != _NECK_CHANS:
        raise ValueError(f"neck width {neck_out} is not SAM's {_NECK_CHANS}")
    num_classes = _shape(state_dict, "head.weight")[0] if "head.weight" in state_dict else 0

    return {
        "img_size": 1024,
        "in_chans": in_chans,
        "num_classes": num_classes,
        "embed_dims": embed_dims,
        "depths": depths,
        "num_heads": num_heads,
        "window_sizes": window_sizes,
        "mlp_ratio": mlp_ratio if mlp_ratio is not None else 4.0,
        "mbconv_expand_ratio": mbconv_expand_ratio,
        "local_conv_size": local_conv_size if local_conv_size is not None else 3,
    }
