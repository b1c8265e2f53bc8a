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
value. So (``samdesk.sam.mask_cells``):

1. Low-res windows are classified; first-stage values are computed (exactly, in numpy) only
   for positions of undecided windows, then only for the cells of the band.
2. Certainly positive cells become rectangles, filled (slice assignment, i.e. memset) top to
   bottom into a zero-initialised output; negative ones cost nothing.
3. Band cells get the second stage evaluated exactly as PyTorch's CPU kernel does it (same
   indices, weights and float32 operation order, fused multiply-adds emulated in float64), so
   the band's pixels equal the reference bit for bit. Each cell row is evaluated over a
   power-of-two window (pixels past the cell are exact too) and painted as one word.

The arithmetic of PyTorch's kernel (whether the compiler fused the multiply-adds, and in which
order) depends on the build and the CPU, so it is detected once at run time against
``F.interpolate`` on small probes (``samdesk.sam.bilinear_emulation``); if no emulation
matches, the reference chain is used. Noise-like logits (random weights), whose band would
cover much of the frame, take the reference chain plane by plane: exact either way.

Conventions: ``input_size`` = (h', w'), the image resized so its longest side is 1024 (the
size the encoder saw before padding); ``original_size`` = (H, W) of the image. Masks are bool,
row-major, in original-image pixels.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from samdesk.sam import mask_cells
from samdesk.sam.bilinear_emulation import Arithmetic as _Arithmetic
from samdesk.sam.bilinear_emulation import Axis
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


# ---- Recycling the output ----------------------------------------------------------------------


@dataclass
class _Recycled:
    """An output buffer of an earlier call, and the (plane, rectangle) pairs it wrote:
    ``planes`` R int64, ``rects`` R×4 int64 (y0, y1, x0, x1); everything else is zero."""

    buffer: npt.NDArray[np.bool_]
    planes: npt.NDArray[np.int64]
    rects: npt.NDArray[np.int64]


class _OutputPool:
    """Hands out zeroed N×H×W bool outputs, recycling earlier ones nobody holds any more.

    A fresh output costs its page faults: the kernel zeroes every 2 MB page a mask touches,
    ~4 ms of the ~9 ms of three 48 MP masks here. An earlier output whose every reference
    (views included: they keep their base alive) is gone is cleared instead, only where it
    was written, and reused. Two are kept, so that ``masks = predict(...)`` in a loop, which
    holds the previous masks until the new ones are returned, still recycles.
    """

    _CAPACITY = 2

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[_Recycled] = []

    def take(self, shape: tuple[int, ...]) -> _Recycled:
        """A C-contiguous bool array of ``shape``, zero except in the rectangles listed with
        it (``clear`` them, or overwrite their planes); pass it to ``give`` once painted."""
        with self._lock:
            for i, entry in enumerate(self._entries):
                # References: the entry's attribute and getrefcount's argument. Any other is
                # the caller's (an array, a view, a tensor sharing the memory...).
                if entry.buffer.shape == shape and sys.getrefcount(entry.buffer) == 2:
                    return self._entries.pop(i)
        # np.zeros maps zero pages lazily: negative regions cost neither time nor memory.
        empty = np.empty(0, np.int64)
        return _Recycled(np.zeros(shape, dtype=bool), empty, empty.reshape(0, 4))

    @staticmethod
    def clear(module: ModuleType, entry: _Recycled, keep: list[int]) -> None:
        """Zero what ``entry``'s buffer was written in, except in planes ``keep`` (about to
        be overwritten entirely)."""
        *_, height, width = entry.buffer.shape
        rest = ~np.isin(entry.planes, keep)
        flat = entry.buffer.reshape(-1, height, width)
        module.paint_rects(flat, height, width, entry.planes[rest], entry.rects[rest], False)

    def give(self, buffer: npt.NDArray[np.bool_], planes: np.ndarray, rects: np.ndarray) -> None:
        """Keep ``buffer`` (returned to the caller) for recycling; it wrote ``rects``."""
        with self._lock:
            self._entries = [e for e in self._entries if e.buffer.shape == buffer.shape]
            self._entries.append(_Recycled(buffer, planes, rects))
            del self._entries[: -self._CAPACITY]

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()


_pool = _OutputPool()


def compiled_loops() -> bool:
    """Whether the compiled loops (``samdesk.sam._masks``) are built and in use here."""
    return _accelerator() is not None


def release_buffers() -> None:
    """Forget the recycled mask outputs (their memory is freed once the caller drops them)."""
    _pool.forget()


# ---- The compiled loops ------------------------------------------------------------------------

_LERP_MODE = {"plain": 0, "fma0": 1, "fma1": 2}


@functools.lru_cache(maxsize=1)
def _accelerator() -> ModuleType | None:
    """``samdesk.sam._masks`` when it is built and reproduces F.interpolate here, else None
    (the numpy path then does the same work, slower)."""
    try:
        from samdesk.sam import _masks
    except ImportError:
        log.info("samdesk.sam._masks is not built; mask post-processing runs in numpy")
        return None
    arith = _arithmetic()
    if arith is None or not _accelerator_matches(_masks, arith):
        log.warning("samdesk.sam._masks does not reproduce F.interpolate here; not used")
        return None
    return _masks


def _accelerator_matches(module: ModuleType, arith: _Arithmetic) -> bool:
    """Run the compiled loops on probes and compare with the reference chain, bit for bit."""
    import torch
    import torch.nn.functional as F

    from samdesk.sam.bilinear_emulation import axis

    rng = np.random.default_rng(7)
    mode = _LERP_MODE[arith.lerp]
    # Whole planes: a 41×57 "first stage" upscaled by non-integer ratios (height + width > 128).
    first = (rng.standard_normal((41, 57)) * 4).astype(np.float32)
    height, width = 131, 175
    with torch.no_grad():
        ref = F.interpolate(torch.from_numpy(first)[None, None], (height, width), mode="bilinear")
    rows, cols = axis(41, height, arith), axis(57, width, arith)
    plane = np.zeros((height, width), dtype=bool)
    module.paint_plane(plane, height, width, mode, 0.0, first, 57, *_plane_axes(rows, cols))
    values = np.empty((height, width), dtype=np.float32)
    module.resize_plane(values, height, width, mode, first, 57, *_plane_axes(rows, cols))
    if not (np.array_equal(plane, (ref[0, 0] > 0).numpy()) and
            np.array_equal(values, ref[0, 0].numpy())):  # fmt: skip
        return False
    # Regions: smooth blobs with noise (rectangles, band cells, decided cells) through the
    # whole chain, at a ratio with cells of 2-3 pixels.
    yy, xx = np.mgrid[0:256, 0:256]
    low = np.stack(
        [6 - np.hypot(yy - cy, xx - cx) / r for cy, cx, r in ((80, 90, 9), (150, 170, 5))]
    ) + rng.standard_normal((2, 256, 256))
    low = low.astype(np.float32)
    input_size, size = (192, 256), (509, 678)
    want = _reference_masks(torch.from_numpy(low)[None], input_size, size, 0.0)[0]
    frame, plans = mask_cells.plan(low, input_size, size, 0.0, arith)
    got = np.zeros(want.shape, dtype=bool)
    for pl in plans:
        _paint_region(module, got[pl.n], (0, 0), frame, pl)
    return bool(np.array_equal(got, want))


def _plane_axes(rows: Axis, cols: Axis) -> tuple[np.ndarray, ...]:
    """The axes as ``paint_plane`` takes them: rows by cells (cell, cell1, start, stop) and
    their weights, columns by pixels (i0, i1, w0, w1)."""
    return (rows.cell, rows.cell1, rows.start, rows.stop, rows.w0, rows.w1, cols.i0, cols.i1,
            cols.w0, cols.w1)  # fmt: skip


# Cell by cell costs ~3 ns a cell of the plane's rectangle, the whole plane ~0.5 ns a pixel
# (vectorized, two threads): below ~6 pixels a cell (frames of a few megapixels with a large
# object) the whole plane is cheaper.
_PIXELS_PER_CELL_MIN = 6


def _whole_planes(frame: mask_cells.Frame, plans: list[mask_cells.Plan]) -> list[int]:
    """The planned planes to evaluate whole (``paint_plane``) rather than cell by cell:
    noise-like logits, and rectangles with too few pixels per cell for the cells to pay."""
    pixels = frame.rows.n_out * frame.cols.n_out
    whole = set(mask_cells.noise_like(frame, plans))
    for plan in plans:
        cells = (plan.rk.stop - plan.rk.start) * (plan.ck.stop - plan.ck.start)
        if pixels < _PIXELS_PER_CELL_MIN * cells:
            whole.add(plan.n)
    return sorted(whole)


def _paint_region(
    module: ModuleType,
    out: npt.NDArray[np.bool_],
    origin: tuple[int, int],
    frame: mask_cells.Frame,
    plan: mask_cells.Plan,
) -> npt.NDArray[np.int64]:
    """Classify and paint one planned plane with the compiled loops into the zeroed 2-D
    ``out``, whose pixel (0, 0) is the frame's ``origin`` (y, x). Returns the boxes written,
    R×5 int64 (y0, y1, x0, x1, kind) in ``out``'s pixels, kind 1 for all-True runs."""
    s, rows, cols = frame.stage1, frame.rows, frame.cols
    rk, ck = plan.rk, plan.ck
    boxes = module.paint_region(
        out, out.shape[0], out.shape[1], origin[0], origin[1], _LERP_MODE[frame.arith.lerp],
        float(frame.t), float(frame.lo), float(frame.hi), frame.low[plan.n], s.i0, s.i1, s.w0,
        s.w1, plan.p0, plan.p1, plan.c0, plan.c1, rows.cell[rk], rows.cell1[rk],
        rows.start[rk], rows.stop[rk], rows.w0, rows.w1, cols.cell[ck], cols.cell1[ck],
        cols.start[ck], cols.stop[ck], cols.w0, cols.w1,
    )  # fmt: skip
    return np.frombuffer(boxes, dtype=np.int64).reshape(-1, 5)


def _stage1_axes(frame: mask_cells.Frame, input_size: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """The 256 → 1024 first stage cropped to the input size, as ``resize_plane`` takes it."""
    s = frame.stage1
    h_in, w_in = (int(v) for v in input_size)
    k = int(np.searchsorted(s.start, h_in))  # the cells with output rows below h_in
    return (s.cell[:k], s.cell1[:k], s.start[:k], np.minimum(s.stop[:k], h_in), s.w0[:h_in],
            s.w1[:h_in], s.i0[:w_in], s.i1[:w_in], s.w0[:w_in], s.w1[:w_in])  # fmt: skip


def _paint_planes_compiled(
    module: ModuleType,
    out: npt.NDArray[np.bool_],
    frame: mask_cells.Frame,
    input_size: tuple[int, int],
    planes: list[int],
) -> None:
    """Evaluate whole ``planes`` (noise-like logits) pixel by pixel into N×H×W ``out``.

    Both stages run compiled; the second, where the reference spends its time, with the rows
    of each plane split between this thread and a helper (the loops release the GIL and are
    mostly compute-bound: up to 2× on two cores). The first stage is not left to
    ``F.interpolate``: its OpenMP threads spin for a while after each call and would take the
    helper's core.
    """
    if not planes:
        return
    _, height, width = out.shape
    rows, cols = frame.rows, frame.cols
    mode = _LERP_MODE[frame.arith.lerp]
    h_in, w_in = (int(v) for v in input_size)
    first = np.empty((len(planes), h_in, w_in), dtype=np.float32)
    for f, n in zip(first, planes, strict=True):
        module.resize_plane(
            f, h_in, w_in, mode, frame.low[n], LOW_RES, *_stage1_axes(frame, input_size)
        )
    col_args = _plane_axes(rows, cols)[4:]
    half = rows.cell.size // 2

    def paint(n: int, f: np.ndarray, cells: slice) -> None:
        module.paint_plane(
            out[n], height, width, mode, float(frame.t), f, w_in, rows.cell[cells],
            rows.cell1[cells], rows.start[cells], rows.stop[cells], *col_args,
        )  # fmt: skip

    # One batch for each thread (a hand-over per plane would cost more than it saves at 12 MP).
    # A thread per call (~0.1 ms) rather than a pool: nothing is left running afterwards.
    def batch(cells: slice) -> None:
        for n, f in zip(planes, first, strict=True):
            paint(n, f, cells)

    failure: list[BaseException] = []

    def helper() -> None:
        try:
            batch(slice(half, None))
        except BaseException as exc:  # re-raised on the calling thread
            failure.append(exc)

    thread = threading.Thread(target=helper, name="samdesk-masks")
    thread.start()
    try:
        batch(slice(0, half))
    finally:
        thread.join()
    if failure:
        raise failure[0]


# ---- Entry points -----------------------------------------------------------------------------


def _fast_path_ok(low: torch.Tensor, original_size: tuple[int, int]) -> _Arithmetic | None:
    """The detected arithmetic, or None where the reference path must be taken."""
    if int(original_size[0]) + int(original_size[1]) <= _SMALL_OUTPUT:
        return None
    # inf·0 and NaN follow no sign rule: leave them to the reference. (numpy here: a tiny
    # torch reduction can stall for milliseconds on busy OpenMP threads.)
    if not np.isfinite(_as_numpy(low)).all():
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
    arith = None if small and _accelerator() is None else _fast_path_ok(low_res, original_size)
    if arith is None:
        return _reference_masks(low_res, input_size, original_size, threshold)
    b, c = int(low_res.shape[0]), int(low_res.shape[1])
    h, w = int(original_size[0]), int(original_size[1])
    if b * c == 0:
        return np.zeros((b, c, h, w), dtype=bool)
    low = _as_numpy(low_res).reshape(b * c, LOW_RES, LOW_RES)
    frame, plans = mask_cells.plan(low, input_size, original_size, threshold, arith)
    compiled = _accelerator()
    if compiled is not None:
        return _masks_compiled(compiled, frame, plans, input_size, (b, c, h, w))
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


def _masks_compiled(
    module: ModuleType,
    frame: mask_cells.Frame,
    plans: list[mask_cells.Plan],
    input_size: tuple[int, int],
    shape: tuple[int, int, int, int],
) -> npt.NDArray[np.bool_]:
    """``masks_from_low_res`` with the compiled loops, into a recycled or fresh B×C×H×W
    output."""
    n_planes, height, width = frame.low.shape[0], frame.rows.n_out, frame.cols.n_out
    noisy = _whole_planes(frame, plans)
    recycled = _pool.take(shape)
    _pool.clear(module, recycled, noisy)
    out = recycled.buffer
    planes = out.reshape(n_planes, height, width)
    written_planes, written = [], []
    for plan in plans:
        if plan.n not in noisy:
            boxes = _paint_region(module, planes[plan.n], (0, 0), frame, plan)
            written_planes.append(np.full(len(boxes), plan.n, dtype=np.int64))
            written.append(boxes[:, :4])
    _paint_planes_compiled(module, planes, frame, input_size, noisy)
    written_planes.append(np.asarray(noisy, dtype=np.int64))
    written.append(np.tile(np.array([[0, height, 0, width]], dtype=np.int64), (len(noisy), 1)))
    _pool.give(out, np.concatenate(written_planes), np.ascontiguousarray(np.concatenate(written)))
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
    arith = _fast_path_ok(low_res, original_size)
    if arith is None:
        return _crop_to_box(
            _reference_masks(low_res[None, None], input_size, original_size, threshold)[0, 0]
        )
    frame, plans = mask_cells.plan(
        _as_numpy(low_res)[None], input_size, original_size, threshold, arith
    )
    if not plans:
        return np.zeros((0, 0), dtype=bool), (0, 0)
    compiled = _accelerator()
    if compiled is not None:
        return _crop_compiled(compiled, frame, plans[0], input_size)
    solution = mask_cells.solve(frame, plans)
    if solution.reference:
        return _crop_to_box(
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


def _crop_compiled(
    module: ModuleType, frame: mask_cells.Frame, plan: mask_cells.Plan, input_size: tuple[int, int]
) -> tuple[npt.NDArray[np.bool_], tuple[int, int]]:
    """``best_mask_crop`` of one planned plane with the compiled loops: paint into the box of
    its cells, then cut that to the True pixels."""
    rows, cols = frame.rows, frame.cols
    if _whole_planes(frame, [plan]):  # the whole plane, then its box
        full = np.zeros((1, rows.n_out, cols.n_out), dtype=bool)
        _paint_planes_compiled(module, full, frame, input_size, [0])
        return _crop_to_box(full[0])
    y0, y1 = int(rows.start[plan.rk.start]), int(rows.stop[plan.rk.stop - 1])
    x0, x1 = int(cols.start[plan.ck.start]), int(cols.stop[plan.ck.stop - 1])
    crop = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    boxes = _paint_region(module, crop, (y0, x0), frame, plan)
    sure = np.ascontiguousarray(boxes[boxes[:, 4] == 1, :4])
    if not boxes.size:
        return np.zeros((0, 0), dtype=bool), (0, 0)
    # Everything painted lies in the boxes: cut to their extent first (cheap), then trim.
    by0, by1 = int(boxes[:, 0].min()), int(boxes[:, 1].max())
    bx0, bx1 = int(boxes[:, 2].min()), int(boxes[:, 3].max())
    shift = np.array([by0, by0, bx0, bx0], dtype=np.int64)
    return _trim(crop[by0:by1, bx0:bx1], (x0 + bx0, y0 + by0), sure - shift)


def _trim(
    crop: npt.NDArray[np.bool_], origin: tuple[int, int], sure: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], tuple[int, int]]:
    """``crop`` (its top-left pixel at ``origin``, XY) cut to its True pixels.

    The rectangles ``sure`` (y0, y1, x0, x1 in crop pixels, all True) already bound most of
    the box: only the strips outside them (a band cell or two wide) are searched.
    """
    if sure.size == 0:
        box, (bx, by) = _crop_to_box(crop)
        return box, (bx + origin[0], by + origin[1]) if box.size else (0, 0)
    sy0, sy1 = int(sure[:, 0].min()), int(sure[:, 1].max())
    sx0, sx1 = int(sure[:, 2].min()), int(sure[:, 3].max())
    top = np.flatnonzero(crop[:sy0].any(axis=1))
    bottom = np.flatnonzero(crop[sy1:].any(axis=1))
    left = np.flatnonzero(crop[:, :sx0].any(axis=0))
    right = np.flatnonzero(crop[:, sx1:].any(axis=0))
    y0 = int(top[0]) if top.size else sy0
    y1 = sy1 + int(bottom[-1]) + 1 if bottom.size else sy1
    x0 = int(left[0]) if left.size else sx0
    x1 = sx1 + int(right[-1]) + 1 if right.size else sx1
    box = np.ascontiguousarray(crop[y0:y1, x0:x1])
    return box, (origin[0] + x0, origin[1] + y0)


def _crop_to_box(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.bool_], tuple[int, int]]:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.zeros((0, 0), dtype=bool), (0, 0)
    cols = np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return np.ascontiguousarray(mask[y0:y1, x0:x1]), (int(x0), int(y0))
