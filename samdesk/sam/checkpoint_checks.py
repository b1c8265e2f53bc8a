"""Checks on a loaded state dict before a model is built from it.

The architecture is read from tensor shapes (``loading.py``), so a file can claim any
size. Before anything is allocated, the claims must be plausible (within the published
SAM/MobileSAM ranges with a margin) and backed by data: every tensor lies inside its
storage, tensors do not share or repeat memory to inflate their element count, and the
values are finite floating-point numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from samdesk.sam.checkpoint_scan import check_extent
from samdesk.sam.errors import SamCheckpointError

# Published: ViT-H is 32 blocks of width 1280, 16 heads; MobileSAM's TinyViT is 4 stages
# up to width 320. The limits leave room for custom and larger variants (×1.5 in depth,
# ×1.6 in width) while keeping the largest accepted ViT near 3 billion parameters.
MAX_VIT_DEPTH = 48
MAX_VIT_WIDTH = 2048
MAX_HEADS = 64
MAX_MLP_RATIO = 8.0
MAX_WINDOW = 64
MAX_NECK = 1024
MAX_TINY_STAGES = 6
MAX_TINY_DEPTH = 48
MAX_TINY_WIDTH = 1024
MAX_DECODER = {
    "dim": 1024,
    "depth": 8,
    "mlp_dim": 8192,
    "downsample": 16,
    "multimask": 8,
    "iou_depth": 8,
    "iou_hidden": 2048,
    "mask_in_chans": 256,
}

_ALLOWED_INTEGER = ("num_batches_tracked",)  # BatchNorm's step counter (TinyViT)


def _refuse(path: Path, what: str) -> SamCheckpointError:
    return SamCheckpointError(
        f"{path.name} claims {what}, outside the range of SAM and MobileSAM models; the "
        "file was altered or is not a SAM checkpoint. Refused before building the model."
    )


def check_vit_ranges(info: Any, path: Path) -> None:
    """Refuse ViT encoder shapes outside the published ranges (with a margin)."""
    if not 1 <= info.depth <= MAX_VIT_DEPTH:
        raise _refuse(path, f"{info.depth} encoder blocks (at most {MAX_VIT_DEPTH})")
    if not 1 <= info.embed_dim <= MAX_VIT_WIDTH:
        raise _refuse(path, f"an encoder width of {info.embed_dim} (at most {MAX_VIT_WIDTH})")
    if not 1 <= info.num_heads <= MAX_HEADS:
        raise _refuse(path, f"{info.num_heads} attention heads (at most {MAX_HEADS})")
    if not 0 < info.mlp_ratio <= MAX_MLP_RATIO:
        raise _refuse(path, f"an MLP ratio of {info.mlp_ratio:g} (at most {MAX_MLP_RATIO:g})")
    if not 1 <= info.window_size <= MAX_WINDOW:
        raise _refuse(path, f"an attention window of {info.window_size} (at most {MAX_WINDOW})")
    if not 1 <= info.out_chans <= MAX_NECK:
        raise _refuse(path, f"{info.out_chans} output channels (at most {MAX_NECK})")


def check_tiny_vit_ranges(config: Mapping[str, Any], path: Path) -> None:
    """Refuse TinyViT configurations outside MobileSAM's range (with a margin)."""
    depths = [int(d) for d in config.get("depths", [])]
    dims = [int(d) for d in config.get("embed_dims", [])]
    heads = [int(h) for h in config.get("num_heads", [])]
    windows = [int(w) for w in config.get("window_sizes", [])]
    if len(depths) > MAX_TINY_STAGES:
        raise _refuse(path, f"{len(depths)} TinyViT stages (at most {MAX_TINY_STAGES})")
    if sum(depths) > MAX_TINY_DEPTH:
        raise _refuse(path, f"{sum(depths)} TinyViT blocks (at most {MAX_TINY_DEPTH})")
    if dims and max(dims) > MAX_TINY_WIDTH:
        raise _refuse(path, f"a TinyViT width of {max(dims)} (at most {MAX_TINY_WIDTH})")
    if heads and max(heads) > MAX_HEADS:
        raise _refuse(path, f"{max(heads)} attention heads (at most {MAX_HEADS})")
    if windows and max(windows) > MAX_WINDOW:
        raise _refuse(path, f"an attention window of {max(windows)} (at most {MAX_WINDOW})")
    ratio = float(config.get("mlp_ratio", 4.0))
    if not 0 < ratio <= MAX_MLP_RATIO:
        raise _refuse(path, f"an MLP ratio of {ratio:g} (at most {MAX_MLP_RATIO:g})")


def check_decoder_ranges(config: Mapping[str, int], path: Path) -> None:
    """Refuse prompt encoder / mask decoder shapes outside SAM's range (with a margin)."""
    for key, limit in MAX_DECODER.items():
        value = int(config[key])
        if not 1 <= value <= limit:
            raise _refuse(path, f"a mask decoder {key} of {value} (allowed 1…{limit})")


def check_tensors(sd: Mapping[str, torch.Tensor], path: Path) -> None:
    """Refuse non-float weights, tensors outside their storage, repeated memory.

    Cheap (metadata only); run before the architecture is inferred. Values are checked
    by :func:`check_finite` once the shapes are known to match the model.
    """
    stored: dict[tuple[int, int], int] = {}
    claimed = 0
    for name, t in sd.items():
        if t.is_complex() or not (t.is_floating_point() or name.endswith(_ALLOWED_INTEGER)):
            raise SamCheckpointError(
                f"{path.name}: the weight {name} has dtype {str(t.dtype).removeprefix('torch.')}"
                "; SAM weights are real floating-point numbers (float32/16, bfloat16). Refused."
            )
        storage = t.untyped_storage()
        item = t.element_size()
        check_extent(
            name,
            tuple(t.shape),
            tuple(t.stride()),
            t.storage_offset(),
            storage.nbytes() // item,
            path,
        )
        stored[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        claimed += t.numel() * item
    total = sum(stored.values())
    if claimed > total:
        raise SamCheckpointError(
            f"{path.name}: its tensors claim {claimed:,} bytes but share {total:,} bytes of "
            "stored data (tensors repeat the same memory); the file was altered. Refused "
            "before building the model."
        )


def check_finite(sd: Mapping[str, torch.Tensor], path: Path) -> None:
    """Refuse NaN or infinite weights, naming the first such tensor."""
    for name, t in sd.items():
        if t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise SamCheckpointError(
                f"{path.name}: the weight {name} contains {bad:,} NaN or infinite values "
                f"(of {t.numel():,}); the model would produce no usable masks. Refused."
            )


def parameter_bytes(shapes: Mapping[str, tuple[int, ...]]) -> int:
    """fp32 bytes of a model with these parameter shapes."""
    return sum(4 * math.prod(s) for s in shapes.values())
