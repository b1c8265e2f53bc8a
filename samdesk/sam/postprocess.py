"""SAM's mask post-processing: low-res decoder logits to full-size masks, exact and fast.

The reference (segment-anything's ``SamPredictor.postprocess_masks`` followed by ``> 0``)::

    x = F.interpolate(low_res, (1024, 1024), mode="bilinear", align_corners=False)
    x = x[..., : input_h, : input_w]
    x = F.interpolate(x, original_size, mode="bilinear", align_corners=False)
    masks = x > threshold

costs ~0.8 s for three 48 MP candidates on a 2-core CPU, almost all of it in the second
interpolation. Both interpolations are separable with non-negative weights, so an output pixel
is a convex combination of the 2×2 first-stage values ("cell") it reads. Where all four are on
the same side of the threshold the pixel's side is known without computing it; only pixels of
cells that straddle the threshold (a band about one cell wide along the mask's outline) need
their exact value. So:

1. The first stage (256 → 1024) runs through ``F.interpolate`` itself, only on each plane's
   rectangle that can produce a positive pixel, in strips that keep its scale exactly 4 so
   its values are bit-identical to the full-frame ones.
2. Each first-stage cell is classified as certainly positive, certainly negative or uncertain.
3. Certainly positive cells are filled as rectangles (slice assignment, i.e. memset), top to
   bottom, into a zero-initialised output; negative ones cost nothing (their pages are never
   touched).
4. Uncertain cells get the second stage evaluated exactly as PyTorch's CPU kernel does it
   (same indices, weights and float32 operation order, fused multiply-adds emulated in
   float64), so the band's pixels equal the reference bit for bit. Each cell row is evaluated
   over a power-of-two window (pixels past the cell are exact too) and painted as one word.

The arithmetic of PyTorch's kernel (whether the compiler fused the multiply-adds, and in which
order) depends on the build and the CPU, so it is detected once at run time against
``F.interpolate`` on a small probe (``samdesk.sam.bilinear_emulation``); if no emulation
matches, the reference chain is used.

Conventions: ``input_size`` = (h', w'), the image resized so its longest side is 1024 (the
size the encoder saw before padding); ``original_size`` = (H, W) of the image. Masks are bool,
row-major, in original-image pixels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from samdesk.sam.bilinear_emulation import Arithmetic as _Arithmetic
from samdesk.sam.bilinear_emulation import Axis as _Axis
from samdesk.sam.bilinear_emulation import axis as _axis
from samdesk.sam.bilinear_emulation import detect_arithmetic as _arithmetic
from samdesk.sam.bilinear_emulation import lerp as _lerp

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

LOW_RES = 256
"""Side of the decoder's low-res mask logits."""
INPUT_SIDE = 1024
"""Side of the encoder's padded input; the first stage upsamples to it (factor 4)."""

# PyTorch's CPU bilinear kernel switches to its channels-last implementation (different
# arithmetic) when out_h + out_w <= 128; such tiny outputs take the reference path.
_SMALL_OUTPUT = 128
# at::internal::GRAIN_SIZE: smaller element-wise kernels run on the calling thread alone.
_GRAIN = 32768
# Above this share of the frame in the uncertain band, evaluating the band pixel by pixel
# costs more than the reference chain for that plane (measured: ~0.5 s per frame-equivalent
# of band against ~35-40 ms for the reference at 12 MP), so such a plane — noise-like
# logits, e.g. from random weights — takes the reference path: exact either way.
_MAX_BAND_SHARE = 0.05
# Band pixels evaluated per batch (float64 temporaries of 8 bytes each stay in L2).
_BAND_CHUNK = 1 << 15
# Up to about one megapixel the reference chain for all candidates costs a few ms, less
# than planning the fast path (measured at 1024×768: 7.6 ms against 10.4 ms).
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


# ---- The fast path -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """One plane's pruned first stage, and what it shares with the other planes of the call.

    ``x``: (p1−p0)×(c1−c0) float32 first-stage values of rows [p0, p1), cols [c0, c1) of
    the plane's 1024×1024 upscale — all a positive pixel can read. ``rows``/``cols``: the
    second-stage axes; ``rk``/``ck``: slices of their cells lying inside the rectangle (cells
    outside are certainly negative). ``t``: float32 threshold; ``lo``/``hi``: a first-stage
    value ``<= lo`` cannot make a pixel positive, a cell whose values are all ``> hi`` is
    positive.
    """

    x: npt.NDArray[np.float32]
    p0: int
    c0: int
    rows: _Axis
    cols: _Axis
    rk: slice
    ck: slice
    t: np.float32
    lo: np.float32
    hi: np.float32
    arith: _Arithmetic


def _margins(low: np.ndarray, t: np.float32) -> tuple[np.float32, np.float32]:
    """Bounds (lo, hi) around the threshold that survive float rounding of both stages.

    At t = 0 signs are exact: a convex combination (non-negative weights, rounded products and
    sums) of values <= 0 is <= 0, and of values > 1e-30 is > 0 (one weight of each stage is
    >= 0.5, so nothing underflows). Elsewhere the rounded weights may sum to 1 ± 2⁻²⁴ and each
    stage rounds a few times, so keep 64 ulps of the largest magnitude involved as a margin.
    """
    if t == 0:
        return np.float32(0.0), np.float32(1e-30)
    m = np.float32(2.0**-18 * (abs(float(t)) + float(np.abs(low).max())))
    return np.float32(t - m), np.float32(t + m)


def _first_stage_rows(lo_rows: tuple[int, int], limit: int) -> tuple[int, int, int, int]:
    """First-stage rows [p0, p1) needed around low-res rows [ra, rb] and the low-res rows
    [qa, qb) that compute them exactly.

    Stage-1 row p reads low-res rows a(p) and a(p)+1, a(p) = floor(max((p + 0.5)/4 − 0.5, 0)).
    Rows reading [ra, rb] are [q0, q1); a cell also reads the row after it, so one more row
    on each side. Interpolating low-res rows [qa, qb) alone to 4·(qb − qa) rows keeps the
    scale exactly 1/4, so its rows are bit-identical to the full upscale's except the two at
    each end that clamp differently — hence the margin of two.
    """
    ra, rb = lo_rows
    q0 = max(0, 4 * ra - 2)  # first p with a(p) + 1 >= ra
    q1 = min(limit, 4 * rb + 6)  # one past the last p with a(p) <= rb
    p0, p1 = max(0, q0 - 1), min(limit, q1 + 1)
    qa = max(0, (p0 - 2) // 4)
    qb = min(LOW_RES, -(-(p1 + 2) // 4))
    return p0, p1, qa, qb


def _plan(
    low: torch.Tensor,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    threshold: float,
    arith: _Arithmetic,
) -> list[_Plan | None]:
    """Prune each plane of N×256×256 ``low`` to the rectangle that can hold positive pixels
    and run the first stage there; None for a plane that cannot have any.

    Each plane gets its own rectangle: the candidates of one prompt differ in extent (a part,
    the object, the object and a neighbour), and a shared one would cost the smaller planes
    the largest one's first stage.
    """
    import torch

    low = low.detach().to("cpu", torch.float32).contiguous()
    low_np = low.numpy()
    t = np.float32(threshold)
    lo, hi = _margins(low_np, t)
    h_in, w_in = (int(v) for v in input_size)
    rows = _axis(h_in, int(original_size[0]), arith)
    cols = _axis(w_in, int(original_size[1]), arith)
    plans: list[_Plan | None] = []
    for n in range(low_np.shape[0]):
        live = low_np[n] > lo
        live_rows = np.flatnonzero(live.any(axis=1))
        live_cols = np.flatnonzero(live.any(axis=0))
        if live_rows.size == 0:
            plans.append(None)
            continue
        p0, p1, _, _ = _first_stage_rows((live_rows[0], live_rows[-1]), h_in)
        c0, c1, qc, qd = _first_stage_rows((live_cols[0], live_cols[-1]), w_in)
        if p0 >= p1 or c0 >= c1:  # the object lies in the encoder's padding only
            plans.append(None)
            continue
        x = _first_stage(low[n], (p0, p1), (qc, qd), c0, c1)
        rk, ck = _cells_inside(rows, p0, p1), _cells_inside(cols, c0, c1)
        plans.append(_Plan(x, p0, c0, rows, cols, rk, ck, t, lo, hi, arith))
    return plans


def _first_stage(
    low: torch.Tensor, rows: tuple[int, int], cols_lo: tuple[int, int], c0: int, c1: int
) -> npt.NDArray[np.float32]:
    """Rows [p0, p1) × cols [c0, c1) of the 256 → 1024 upscale of 256×256 ``low``.

    Low-res columns [qc, qd) produce the columns (see ``_first_stage_rows``); rows go in
    strips whose outputs stay under PyTorch's parallel grain (32768 elements): a parallel
    region on busy cores costs tens of milliseconds while the whole strip takes tens of
    microseconds. Each strip adds one low-res row on each side, so its kept rows are exact.
    Strips also keep out_h + out_w > 128, where PyTorch's small-output kernel (different
    rounding) would take over.

    Returns a (p1−p0)×(c1−c0) float32 array.
    """
    import torch
    import torch.nn.functional as F

    (p0, p1), (qc, qd) = rows, cols_lo
    width = 4 * (qd - qc)
    # Low-res rows per call, margins included: under the grain, over the small-output size
    # even when a border clips one margin row.
    k = max(3, _GRAIN // (4 * width), -(-(_SMALL_OUTPUT + 1 - width) // 4) + 1)
    out = np.empty((p1 - p0, c1 - c0), dtype=np.float32)
    with torch.no_grad():
        for s in range(p0 // 4, -(-p1 // 4), k - 2):  # core low-res rows [s, s + k - 2)
            e = min(s + k - 2, LOW_RES)
            qa, qb = max(0, s - 1), min(LOW_RES, e + 1)
            strip = F.interpolate(
                low[None, None, qa:qb, qc:qd],
                (4 * (qb - qa), width),
                mode="bilinear",
                align_corners=False,
            )[0, 0].numpy()
            y0, y1 = max(4 * s, p0), min(4 * e, p1)
            out[y0 - p0 : y1 - p0] = strip[y0 - 4 * qa : y1 - 4 * qa, c0 - 4 * qc : c1 - 4 * qc]
    return out


def _cells_inside(axis: _Axis, p0: int, p1: int) -> slice:
    """Slice of ``axis``'s cells whose two source indices both lie in [p0, p1)."""
    k0 = int(np.searchsorted(axis.cell, p0, side="left"))
    k1 = int(np.searchsorted(axis.cell1, p1, side="left"))  # cell1 is non-decreasing too
    return slice(k0, max(k0, k1))


def _pair_any(a: np.ndarray, idx0: np.ndarray, idx1: np.ndarray, axis: int) -> np.ndarray:
    """``a[idx0] | a[idx1]`` along ``axis`` (bool); slices when the indices are consecutive."""
    n = idx0.size
    if n and idx0[-1] - idx0[0] == n - 1 and idx1[-1] - idx1[0] == n - 1:
        # Upscaling: every index is a cell, so both operands are plain (strided) views.
        lead = (slice(None),) * axis
        s0, s1 = int(idx0[0]), int(idx1[0])
        return np.logical_or(a[(*lead, slice(s0, s0 + n))], a[(*lead, slice(s1, s1 + n))])
    return np.logical_or(a.take(idx0, axis), a.take(idx1, axis))


@dataclass(frozen=True)
class _Band:
    """Exact pixels of K uncertain cells, in output coordinates.

    ``y``: K×r int64 rows of each cell's pixels (a shorter span repeats its last row:
    duplicate writes of the same value are harmless, and the arrays stay dense); ``x``: K×c
    int64 columns; ``mask``: K×r×c bool, the reference's mask at (y[k, i], x[k, j]).

    ``window``: the columns are ``x[k, 0] + arange(c)`` with c a power of two up to 8 or a
    multiple of 8, running past a shorter cell into its right neighbour (those pixels are
    evaluated exactly as well), so each row of a cell is painted as c-byte words. Otherwise
    a shorter span repeats its last column and pixels are painted one by one.
    """

    y: npt.NDArray[np.int64]
    x: npt.NDArray[np.int64]
    mask: npt.NDArray[np.bool_]
    window: bool


@dataclass(frozen=True)
class _PlaneResult:
    """One plane's mask in compressed form: everything outside ``rects`` and ``bands`` is False.

    ``rects``: R×4 int64 (y0, y1, x0, x1), ends exclusive, rectangles that are entirely True.
    """

    rects: npt.NDArray[np.int64]
    bands: list[_Band]


def _runs(sure: npt.NDArray[np.bool_]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of True in a 2-D bool array: (row, start, stop) int64 arrays."""
    n_rows, n_cols = sure.shape
    padded = np.zeros((n_rows, n_cols + 2), dtype=bool)
    padded[:, 1:-1] = sure
    # Every row starts and ends False, so its changes come in (start, stop) pairs.
    change = np.flatnonzero(padded[:, 1:] != padded[:, :-1])
    starts, stops = change[0::2], change[1::2]
    return starts // (n_cols + 1), starts % (n_cols + 1), stops % (n_cols + 1)


def _rectangles(plan: _Plan, sure: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Output rectangles covering the certainly-positive cells.

    Runs along each cell row, then runs with the same columns in consecutive cell rows merged:
    a blob becomes a few hundred memsets rather than one per cell.
    """
    row, a, b = _runs(sure)
    if row.size == 0:
        return np.empty((0, 4), np.int64)
    order = np.lexsort((row, b, a))
    row, a, b = row[order], a[order], b[order]
    new = np.ones(row.size, dtype=bool)
    new[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1]) | (row[1:] != row[:-1] + 1)
    first = np.flatnonzero(new)
    last = np.append(first[1:], row.size) - 1
    r0, c0 = plan.rk.start, plan.ck.start
    rects = np.stack(
        [
            plan.rows.start[r0 + row[first]],
            plan.rows.stop[r0 + row[last]],
            plan.cols.start[c0 + a[first]],
            plan.cols.stop[c0 + b[first] - 1],
        ],
        axis=1,
    )
    # Top to bottom: the fills then walk memory forwards and mostly hit pages that the
    # kernel has just zeroed (still in cache); painting at 48 MP measured ~7 % faster than in
    # column order.
    return rects[np.lexsort((rects[:, 2], rects[:, 0]))]


def _above(value: np.ndarray, t: np.float32) -> npt.NDArray[np.bool_]:
    """``float32(value) > t`` for float64 ``value``, without the float32 rounding pass.

    float32 rounding is monotonic, so it exceeds t exactly when ``value`` lies above the
    midpoint between t and the next float32, or on it and ties round to that (even) neighbour.
    """
    above = np.nextafter(t, np.float32(np.inf))
    mid = (np.float64(t) + np.float64(above)) / 2  # exact in float64
    if int(np.array(above).view(np.int32)) & 1 == 0:
        return value >= mid
    return value > mid


def _window(span: int) -> int:
    """Columns evaluated per band cell row so that they can be painted as whole words."""
    if span <= 8:
        return 1 << (span - 1).bit_length()
    return -(-span // 8) * 8


def _band(plan: _Plan, kr: np.ndarray, kc: np.ndarray, n_r: int, n_c: int, window: bool) -> _Band:
    """Evaluate cells (kr, kc) (indices into the plan's cell slices) exactly.

    ``n_r``, ``n_c`` bound the cells' spans (with ``window``, ``n_c`` columns from each
    cell's first, see ``_Band``).
    """
    x, rows, cols = plan.x, plan.rows, plan.cols
    kr_all, kc_all = kr + plan.rk.start, kc + plan.ck.start
    # Pixel-major layout (span × K): numpy's inner loops then run over the K cells, not over a
    # handful of pixels, which makes the arithmetic several times faster.
    by = np.minimum(rows.start[kr_all] + np.arange(n_r)[:, None], rows.stop[kr_all] - 1)
    bx = cols.start[kc_all] + np.arange(n_c)[:, None]
    if not window:
        bx = np.minimum(bx, cols.stop[kc_all] - 1)
    # Inner (width) pass on the cell's two first-stage rows, then the outer (height) pass:
    # the nesting of PyTorch's kernel, out = h0·(w0·x00 + w1·x01) + h1·(w0·x10 + w1·x11).
    # Each pixel reads its own columns, so a window's pixels past the cell are exact too.
    j0, j1 = cols.i0[bx] - plan.c0, cols.i1[bx] - plan.c0
    w0, w1 = cols.w0[bx], cols.w1[bx]
    flat_x, width = x.reshape(-1), x.shape[1]
    top_row = (rows.cell[kr_all] - plan.p0) * width
    bottom_row = (rows.cell1[kr_all] - plan.p0) * width
    top = _lerp(w0, flat_x[top_row + j0], w1, flat_x[top_row + j1], plan.arith)
    bottom = _lerp(w0, flat_x[bottom_row + j0], w1, flat_x[bottom_row + j1], plan.arith)
    h0, h1 = rows.w0[by][:, None, :], rows.w1[by][:, None, :]
    top, bottom = top[None], bottom[None]
    if plan.arith.lerp == "plain":
        mask = (h0 * top + h1 * bottom) > plan.t
    elif plan.arith.lerp == "fma0":
        mask = _above(h0.astype(np.float64) * top + h1 * bottom, plan.t)
    else:
        mask = _above(h1.astype(np.float64) * bottom + h0 * top, plan.t)
    # Back to cell-major (K×r×c), the layout the painting needs.
    mask = np.ascontiguousarray(mask.transpose(2, 0, 1))
    by, bx = by.T, bx.T
    return _Band(y=by, x=bx, mask=mask, window=window)


def _solve_plane(plan: _Plan) -> _PlaneResult | None:
    """Classify the cells of a plane and evaluate its uncertain cells exactly.

    None when the uncertain band is too large for this to beat the reference chain.
    """
    x, rows, cols = plan.x, plan.rows, plan.cols
    ri, ri1 = rows.cell[plan.rk] - plan.p0, rows.cell1[plan.rk] - plan.p0
    ci, ci1 = cols.cell[plan.ck] - plan.c0, cols.cell1[plan.ck] - plan.c0

    # A cell is live if any of its four values may be positive, sure if all four surely are.
    live = _pair_any(_pair_any(x > plan.lo, ri, ri1, 0), ci, ci1, 1)
    sure = ~_pair_any(_pair_any(x <= plan.hi, ri, ri1, 0), ci, ci1, 1)
    # 1-D nonzero: several times faster than the 2-D one.
    kr, kc = np.divmod(np.flatnonzero(live & ~sure), live.shape[1])
    frame = (rows.stop[-1] - rows.start[0]) * (cols.stop[-1] - cols.start[0])
    if kr.size * rows.span_typical * cols.span_typical > _MAX_BAND_SHARE * frame:
        return None

    # Most cells go through windows of the typical span, painted as words. The border cells'
    # spans are longer (clamped source coordinates), and a window must stay inside the row
    # and read first-stage columns inside the rectangle; those few cells get their own pass,
    # padded to the longest span.
    kr_all, kc_all = kr + plan.rk.start, kc + plan.ck.start
    n_c = _window(cols.span_typical)
    last = cols.start[kc_all] + (n_c - 1)  # a window's last column
    fits = (rows.stop[kr_all] - rows.start[kr_all] <= rows.span_typical) & (
        cols.stop[kc_all] - cols.start[kc_all] <= n_c
    )
    fits &= last < cols.n_out
    fits[fits] = cols.i1[last[fits]] < plan.c0 + x.shape[1]
    kr_fit, kc_fit = kr[fits], kc[fits]
    # In chunks whose float64 temporaries stay cache-sized: one pass over a large object's
    # whole band runs at memory speed instead.
    chunk = max(1, _BAND_CHUNK // (rows.span_typical * n_c))
    bands = [
        _band(plan, kr_fit[i : i + chunk], kc_fit[i : i + chunk], rows.span_typical, n_c, True)
        for i in range(0, kr_fit.size, chunk)
    ]
    if not fits.all():
        rest = ~fits
        bands.append(_band(plan, kr[rest], kc[rest], rows.span_max, cols.span_max, False))
    return _PlaneResult(rects=_rectangles(plan, sure), bands=bands)


def _paint(out: npt.NDArray[np.bool_], result: _PlaneResult) -> None:
    """Write a plane's mask into the zeroed, C-contiguous 2-D ``out`` (the full frame)."""
    for y0, y1, x0, x1 in result.rects.tolist():
        out[y0:y1, x0:x1] = True
    flat = out.reshape(-1)  # a view
    width = out.shape[1]
    for band in result.bands:
        # Band pixels belong to no rectangle or carry the same value, so writing the False
        # ones too is safe, and cheaper than selecting the True ones.
        if not band.window:
            flat[band.y[:, :, None] * width + band.x[:, None, :]] = band.mask
            continue
        # A window row as c-byte words: an (unaligned) word view of the bytes at every offset.
        size = min(band.x.shape[1], 8)
        dtype = np.dtype(f"u{size}")
        words = np.ndarray((flat.size - size + 1,), dtype=dtype, buffer=flat, strides=(1,))
        start = band.y * width + band.x[:, :1]  # K×r
        offsets = np.arange(0, band.x.shape[1], size)
        words[start[:, :, None] + offsets] = band.mask.view(dtype)


def _true_pixels(result: _PlaneResult) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) int64 of the True band pixels of a plane (possibly repeated)."""
    ys, xs = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for band in result.bands:
        k, r, c = np.unravel_index(np.flatnonzero(band.mask), band.mask.shape)
        ys.append(band.y[k, r])
        xs.append(band.x[k, c])
    return np.concatenate(ys), np.concatenate(xs)


def _fast_path_ok(low: torch.Tensor, original_size: tuple[int, int]) -> _Arithmetic | None:
    """The detected arithmetic, or None where the reference path must be taken."""
    import torch

    if int(original_size[0]) + int(original_size[1]) <= _SMALL_OUTPUT:
        return None
    # inf·0 and NaN follow no sign rule: leave them to the reference. (numpy here: a tiny
    # torch reduction can stall for milliseconds on busy OpenMP threads.)
    if not np.isfinite(low.detach().to("cpu", torch.float32).numpy()).all():
        return None
    return _arithmetic()


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
        (up to the double rounding noted in ``_lerp``), only much faster: work scales with the
        mask's outline and positive area rather than with H·W.
    """
    _check_sizes(tuple(low_res.shape), 4, input_size, original_size)
    small = int(original_size[0]) * int(original_size[1]) <= _SMALL_FRAME
    arith = None if small else _fast_path_ok(low_res, original_size)
    if arith is None:
        return _reference_masks(low_res, input_size, original_size, threshold)
    b, c = int(low_res.shape[0]), int(low_res.shape[1])
    h, w = int(original_size[0]), int(original_size[1])
    # np.zeros maps zero pages lazily: negative regions cost neither time nor memory traffic.
    out = np.zeros((b, c, h, w), dtype=bool)
    if b * c == 0:
        return out
    plans = _plan(
        low_res.reshape(b * c, LOW_RES, LOW_RES), input_size, original_size, threshold, arith
    )
    planes = out.reshape(b * c, h, w)
    flat_low = low_res.reshape(b * c, 1, LOW_RES, LOW_RES)
    for n, plan in enumerate(plans):
        if plan is None:
            continue
        result = _solve_plane(plan)
        if result is None:
            planes[n] = _reference_masks(flat_low[n : n + 1], input_size, original_size, threshold)[
                0, 0
            ]
        else:
            _paint(planes[n], result)
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
    plan = _plan(low_res[None], input_size, original_size, threshold, arith)[0]
    if plan is None:
        return np.zeros((0, 0), dtype=bool), (0, 0)
    result = _solve_plane(plan)
    if result is None:
        return _crop_to_box(
            _reference_masks(low_res[None, None], input_size, original_size, threshold)[0, 0]
        )
    ys, xs = _true_pixels(result)
    rects = result.rects
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


def _crop_to_box(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.bool_], tuple[int, int]]:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.zeros((0, 0), dtype=bool), (0, 0)
    cols = np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return np.ascontiguousarray(mask[y0:y1, x0:x1]), (int(x0), int(y0))
