"""SAM's mask post-processing: low-res decoder logits to full-size masks, exact and fast.

The reference (segment-anything's ``SamPredictor.postprocess_masks`` followed by ``> 0``)::

    x = F.interpolate(low_res, (1024, 1024), mode="bilinear", align_corners=False)
    x = x[..., : input_h, : input_w]
    x = F.interpolate(x, original_size, mode="bilinear", align_corners=False)
    masks = x > threshold

costs ~0.8 s for three 48 MP candidates on a 2-core CPU, almost all of it in the second
interpolation. Both interpolations are separable with non-negative weights, so an output pixel
is a convex combination of the 2×2 first-stage values ("cell") it reads, and each of those a
convex combination of a 2×2 low-res window. Where all the values involved lie on one side of
the threshold the pixel's side is known without computing it; only pixels of cells that
straddle the threshold (a band about one cell wide along the mask's outline) need their exact
value. Two implementations of that idea, giving identical bits:

- **Compiled** (``samdesk.sam._masks``, built by ``pip install`` where there is a C compiler,
  checked against ``F.interpolate`` on probes before first use): per plane, one pass computes
  the exact first stage over the rectangle that can hold positive pixels, classifies each
  cell from its four values, fills runs of positive cells (memset) and
  evaluates the band cells pixel by pixel. Planes with noise-like logits (random weights),
  where most cells straddle the threshold, go through ``paint_plane`` instead: a vectorized
  whole-plane second stage, on two threads for large frames.
  Outputs are recycled (``_OutputPool``): a fresh one costs its page faults.
- **numpy** (``samdesk.sam.mask_cells``): low-res windows are classified first; first-stage
  values are computed only for positions of undecided windows, then for the band cells;
  positive cells become rectangles (slice assignment), band cells are evaluated over
  power-of-two windows and painted as words. Noise-like planes take the reference chain.

Both emulate PyTorch's CPU kernel exactly (same indices, weights and float32 operation order,
fused multiply-adds emulated in float64), so the band's pixels equal the reference bit for
bit. The kernel's arithmetic (whether the compiler fused the multiply-adds, and in which
order) depends on the build and the CPU, so it is detected once at run time against
``F.interpolate`` on small probes (``samdesk.sam.bilinear_emulation``); if no emulation
matches, the reference chain is used.

Conventions: ``input_size`` = (h', w'), the image resized so its longest side is 1024 (the
size the encoder saw before padding); ``original_size`` = (H, W) of the image. Masks are bool,
row-major, in original-image pixels.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from samdesk.sam import mask_cells, mask_compiled
from samdesk.sam.bilinear_emulation import Arithmetic as _Arithmetic
from samdesk.sam.bilinear_emulation import detect_arithmetic as _arithmetic
from samdesk.sam.mask_cells import INPUT_SIDE, LOW_RES

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

__all__ = [
    "INPUT_SIDE",
    "LOW_RES",
    "best_mask_crop",
    "compiled_loops",
    "masks_from_low_res",
    "release_buffers",
    "upscale_logits",
]

# PyTorch's CPU bilinear kernel switches to its channels-last implementation (different
# arithmetic) when out_h + out_w <= 128; such tiny outputs take the reference path.
_SMALL_OUTPUT = 128
# Up to about one megapixel the reference chain for all candidates costs a few ms, about what
# planning the numpy fast path costs (the compiled one is cheaper at every size).
_SMALL_FRAME = 1 << 20


# ---- Reference -----------------------------------------------------------------------------------


def upscale_logits(
    low_res: torch.Tensor,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
) -> torch.Tensor:
    """Upscale low-res mask logits to the original image, exactly as segment-anything does.

    Args:
        low_res: B×C×256×256 float32 logits from the mask decoder (any device).
        input_size: (h', w') of the resized image fed to the encoder, each in [1, 1024].
        original_size: (H, W) of the original image.

    Returns:
        B×C×H×W float32 logits on ``low_res``'s device (the ``return_logits=True`` path).
    """
    import torch.nn.functional as F

    _check_sizes(tuple(low_res.shape), 4, input_size, original_size)
    x = F.interpolate(low_res, (INPUT_SIDE, INPUT_SIDE), mode="bilinear", align_corners=False)
    x = x[..., : input_size[0], : input_size[1]]
    return F.interpolate(x, original_size, mode="bilinear", align_corners=False)


def _check_sizes(
    shape: tuple[int, ...],
    ndim: int,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
) -> None:
    if len(shape) != ndim or tuple(shape[-2:]) != (LOW_RES, LOW_RES):
        expected = "B×C×256×256" if ndim == 4 else "256×256"
        raise ValueError(f"low_res must be {expected} logits, got shape {tuple(shape)}")
    h, w = (int(v) for v in input_size)
    if not (1 <= h <= INPUT_SIDE and 1 <= w <= INPUT_SIDE):
        raise ValueError(f"input_size must be (h, w) within [1, 1024], got {input_size}")
    oh, ow = (int(v) for v in original_size)
    if oh < 1 or ow < 1:
        raise ValueError(f"original_size must be positive (H, W), got {original_size}")


def _reference_masks(
    low_res: torch.Tensor,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    threshold: float,
) -> npt.NDArray[np.bool_]:
    logits = upscale_logits(low_res.detach().float().cpu(), input_size, original_size)
    return (logits > threshold).numpy()


# ---- Painting ---------------------------------------------------------------------------------


def _paint(
    out: npt.NDArray[np.bool_], rects: list[np.ndarray], bands: list[mask_cells.Band]
) -> None:
    """Write positive rectangles and evaluated bands into the zeroed, C-contiguous N×H×W
    ``out`` (numpy path)."""
    for plane, plane_rects in zip(out, rects, strict=True):
        for y0, y1, x0, x1 in plane_rects.tolist():
            plane[y0:y1, x0:x1] = True
    flat = out.reshape(-1)  # a view
    height, width = out.shape[1:]
    for band in bands:
        # Band pixels belong to no rectangle or carry the same value, so writing the False
        # ones too is safe, and cheaper than selecting the True ones.
        rows = (band.plane[:, None] * height + band.y) * width  # K×r
        if not band.window:
            flat[rows[:, :, None] + band.x[:, None, :]] = band.mask
            continue
        # A window row as c-byte words: an (unaligned) word view of the bytes at every offset.
        size = min(band.x.shape[1], 8)
        dtype = np.dtype(f"u{size}")
        words = np.ndarray((flat.size - size + 1,), dtype=dtype, buffer=flat, strides=(1,))
        start = rows + band.x[:, :1]
        offsets = np.arange(0, band.x.shape[1], size)
        words[start[:, :, None] + offsets] = band.mask.view(dtype)


def _true_pixels(bands: list[mask_cells.Band]) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) int64 of the True band pixels (possibly repeated) of a one-plane solution."""
    ys, xs = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for band in bands:
        k, r, c = np.unravel_index(np.flatnonzero(band.mask), band.mask.shape)
        ys.append(band.y[k, r])
        xs.append(band.x[k, c])
    return np.concatenate(ys), np.concatenate(xs)


def compiled_loops() -> bool:
    """Whether the compiled loops (``samdesk.sam._masks``) are built and in use here."""
    return _accelerator() is not None


def _accelerator() -> ModuleType | None:
    """The compiled loops, or None (see ``mask_compiled.accelerator``)."""
    return mask_compiled.accelerator()


def release_buffers() -> None:
    """Forget the recycled mask outputs (their memory is freed once the caller drops them)."""
    mask_compiled.pool.forget()


# ---- Entry points -----------------------------------------------------------------------------


def _fast_path_ok(
    low: npt.NDArray[np.float32], original_size: tuple[int, int]
) -> _Arithmetic | None:
    """The detected arithmetic, or None where the reference path must be taken (``low``: the
    logits as ``_as_numpy`` gives them)."""
    if int(original_size[0]) + int(original_size[1]) <= _SMALL_OUTPUT:
        return None
    # inf·0 and NaN follow no sign rule: leave them to the reference. (numpy here: a tiny
    # torch reduction can stall for milliseconds on busy OpenMP threads.)
    if not np.isfinite(low).all():
        return None
    return _arithmetic()


def _as_numpy(low: torch.Tensor) -> npt.NDArray[np.float32]:
    """``low`` as a C-contiguous float32 CPU array (no copy when it already is one)."""
    import torch

    return np.ascontiguousarray(low.detach().to("cpu", torch.float32).numpy())


def masks_from_low_res(
    low_res: torch.Tensor,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    threshold: float = 0.0,
) -> npt.NDArray[np.bool_]:
    """Full-size masks from low-res logits: the pixels of ``upscale_logits(...) > threshold``.

    Args:
        low_res: B×C×256×256 float logits (any device; computed on the CPU in float32).
        input_size: (h', w') of the resized image the encoder saw, each in [1, 1024].
        original_size: (H, W) of the original image.
        threshold: logit threshold; compared in float32 like ``tensor > threshold``.

    Returns:
        B×C×H×W bool numpy array, C-contiguous. Equal to the CPU reference chain bit for bit
        (up to the double rounding noted in ``bilinear_emulation.lerp``), only much faster:
        work scales with the mask's outline and positive area rather than with H·W.
    """
    _check_sizes(tuple(low_res.shape), 4, input_size, original_size)
    # Without the compiled loops, the reference chain is the cheaper one on small frames.
    small = int(original_size[0]) * int(original_size[1]) <= _SMALL_FRAME
    if small and _accelerator() is None:
        return _reference_masks(low_res, input_size, original_size, threshold)
    low = _as_numpy(low_res)
    arith = _fast_path_ok(low, original_size)
    if arith is None:
        return _reference_masks(low_res, input_size, original_size, threshold)
    b, c = int(low_res.shape[0]), int(low_res.shape[1])
    h, w = int(original_size[0]), int(original_size[1])
    if b * c == 0:
        return np.zeros((b, c, h, w), dtype=bool)
    low = low.reshape(b * c, LOW_RES, LOW_RES)
    frame, plans = mask_cells.plan(low, input_size, original_size, threshold, arith)
    compiled = _accelerator()
    if compiled is not None:
        return mask_compiled.masks(compiled, frame, plans, input_size, (b, c, h, w))
    solution = mask_cells.solve(frame, plans)
    if len(solution.reference) == b * c:  # noise-like logits everywhere (random weights)
        return _reference_masks(low_res, input_size, original_size, threshold)
    # np.zeros maps zero pages lazily: negative regions cost neither time nor memory traffic.
    out = np.zeros((b, c, h, w), dtype=bool)
    planes = out.reshape(b * c, h, w)
    _paint(planes, solution.rects, mask_cells.bands(frame, solution.cells))
    flat_low = low_res.reshape(b * c, 1, LOW_RES, LOW_RES)
    for n in solution.reference:
        ref = _reference_masks(flat_low[n : n + 1], input_size, original_size, threshold)
        planes[n] = ref[0, 0]
    return out


def best_mask_crop(
    low_res: torch.Tensor,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    threshold: float = 0.0,
) -> tuple[npt.NDArray[np.bool_], tuple[int, int]]:
    """One full-size mask cropped to its bounding box, computed only inside it.

    Args:
        low_res: 256×256 float logits of the chosen mask.
        input_size, original_size, threshold: as for ``masks_from_low_res``.

    Returns:
        (crop, (x0, y0)): ``crop`` is the h×w bool mask of the box whose top-left pixel is
        (x0, y0) in original-image pixels (XY order); ``masks_from_low_res(...)[y0:y0+h,
        x0:x0+w]`` equals it and holds every True pixel. An empty mask gives a 0×0 array and
        (0, 0).
    """
    _check_sizes(tuple(low_res.shape), 2, input_size, original_size)
    low = _as_numpy(low_res)
    arith = _fast_path_ok(low, original_size)
    if arith is None:
        return mask_cells.crop_to_box(
            _reference_masks(low_res[None, None], input_size, original_size, threshold)[0, 0]
        )
    frame, plans = mask_cells.plan(low[None], input_size, original_size, threshold, arith)
    if not plans:
        return np.zeros((0, 0), dtype=bool), (0, 0)
    compiled = _accelerator()
    if compiled is not None:
        return mask_compiled.crop(compiled, frame, plans[0], input_size)
    solution = mask_cells.solve(frame, plans)
    if solution.reference:
        return mask_cells.crop_to_box(
            _reference_masks(low_res[None, None], input_size, original_size, threshold)[0, 0]
        )
    ys, xs = _true_pixels(mask_cells.bands(frame, solution.cells))
    rects = solution.rects[0]
    if ys.size == 0 and rects.size == 0:
        return np.zeros((0, 0), dtype=bool), (0, 0)
    # Bounding box of the band's True pixels and the rectangles' corners (ends exclusive).
    corner_ys = np.concatenate([ys, rects[:, 0], rects[:, 1] - 1])
    corner_xs = np.concatenate([xs, rects[:, 2], rects[:, 3] - 1])
    y0, y1 = int(corner_ys.min()), int(corner_ys.max()) + 1
    x0, x1 = int(corner_xs.min()), int(corner_xs.max()) + 1
    crop = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for ry0, ry1, rx0, rx1 in rects.tolist():
        crop[ry0 - y0 : ry1 - y0, rx0 - x0 : rx1 - x0] = True
    crop.reshape(-1)[(ys - y0) * crop.shape[1] + (xs - x0)] = True
    return crop, (x0, y0)
