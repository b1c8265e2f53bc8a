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

1. The first stage (256 → 1024) runs through ``F.interpolate`` itself, only on the rectangle
   that can produce a positive pixel, in strips that keep its scale exactly 4 so its values
   are bit-identical to the full-frame ones.
2. Each first-stage cell is classified as certainly positive, certainly negative or uncertain.
3. Certainly positive cells are filled as rectangles (slice assignment, i.e. memset) into a
   zero-initialised output; negative ones cost nothing.
4. Uncertain cells get the second stage evaluated exactly as PyTorch's CPU kernel does it
   (same indices, weights and float32 operation order, fused multiply-adds emulated in
   float64), so the band's pixels equal the reference bit for bit.

The arithmetic of PyTorch's kernel (whether the compiler fused the multiply-adds, and in which
order) depends on the build and the CPU, so it is detected once at run time against
``F.interpolate`` on a small probe; if no emulation matches, the reference chain is used.

Conventions: ``input_size`` = (h', w'), the image resized so its longest side is 1024 (the
size the encoder saw before padding); ``original_size`` = (H, W) of the image. Masks are bool,
row-major, in original-image pixels.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

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


# ---- PyTorch's arithmetic, emulated in numpy -----------------------------------------------------


@dataclass(frozen=True)
class _Arithmetic:
    """How PyTorch's CPU kernel rounds (detected at run time, see ``_arithmetic``).

    ``fused_source``: the source coordinate ``scale * (dst + 0.5) - 0.5`` is one fused
    multiply-add. ``lerp``: ``"fma0"`` = fma(w0, t0, w1·t1), ``"fma1"`` = fma(w1, t1, w0·t0),
    ``"plain"`` = w0·t0 + w1·t1, each in float32.
    """

    fused_source: bool
    lerp: str


def _lerp(
    w0: np.ndarray, t0: np.ndarray, w1: np.ndarray, t1: np.ndarray, arith: _Arithmetic
) -> npt.NDArray[np.float32]:
    """One linear-interpolation step ``w0·t0 + w1·t1`` rounded as PyTorch rounds it.

    All inputs float32 (broadcastable). A fused multiply-add is emulated in float64: the
    product of two float32 is exact there, so only the sum is rounded twice (64 then 32 bits),
    which differs from a true fma only when the sum lies within 2⁻⁵³ of a float32 midpoint.
    """
    if arith.lerp == "fma0":
        return (w0.astype(np.float64) * t0 + w1 * t1).astype(np.float32)
    if arith.lerp == "fma1":
        return (w1.astype(np.float64) * t1 + w0 * t0).astype(np.float32)
    return w0 * t0 + w1 * t1


@dataclass(frozen=True)
class _Axis:
    """Source indices and weights of one axis of a bilinear resize (align_corners=False).

    Per output index (n_out,): ``i0``, ``i1`` int64 source indices, ``w0``, ``w1`` float32
    weights. Per *cell* — each distinct ``i0``, ascending (n_cells,): ``cell`` = i0,
    ``cell1`` = its partner i1, output span ``[start, stop)`` of the pixels reading it (the
    spans tile [0, n_out) because i0 is non-decreasing), ``span_max`` = longest span and
    ``span_typical`` = longest span of the interior cells (the two border cells collect the
    extra pixels whose source coordinate was clamped).
    """

    n_in: int
    n_out: int
    i0: npt.NDArray[np.int64]
    i1: npt.NDArray[np.int64]
    w0: npt.NDArray[np.float32]
    w1: npt.NDArray[np.float32]
    cell: npt.NDArray[np.int64]
    cell1: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]
    stop: npt.NDArray[np.int64]
    span_max: int
    span_typical: int


@functools.lru_cache(maxsize=32)
def _axis(n_in: int, n_out: int, arith: _Arithmetic) -> _Axis:
    """PyTorch's ``HelperInterpLinear::compute_indices_weights`` for one axis.

    scale = float32(n_in) / n_out; src = max(scale·(dst + 0.5) − 0.5, 0) in float32;
    i0 = min(floor(src), n_in − 1); i1 = min(i0 + 1, n_in − 1); w1 = clamp(src − i0, 0, 1);
    w0 = 1 − w1 (float32).
    """
    f32 = np.float32
    scale = f32(n_in) / f32(n_out)
    dst = np.arange(n_out, dtype=f32) + f32(0.5)  # exact: n_out < 2**24
    if arith.fused_source:
        # Exact product in float64, one rounding: a true fma.
        src = (np.float64(scale) * dst - 0.5).astype(f32)
    else:
        src = scale * dst - f32(0.5)
    src = np.maximum(src, f32(0.0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    w1 = np.clip(src - i0.astype(f32), f32(0.0), f32(1.0)).astype(f32)
    w0 = (f32(1.0) - w1).astype(f32)
    i1 = np.minimum(i0 + 1, n_in - 1)
    cell, start, counts = np.unique(i0, return_index=True, return_counts=True)
    return _Axis(
        n_in=n_in,
        n_out=n_out,
        i0=i0,
        i1=i1,
        w0=w0,
        w1=w1,
        cell=cell,
        cell1=np.minimum(cell + 1, n_in - 1),
        start=start.astype(np.int64),
        stop=(start + counts).astype(np.int64),
        span_max=int(counts.max()),
        span_typical=int(counts[1:-1].max()) if counts.size > 2 else int(counts.max()),
    )


def _emulate_resize(x: np.ndarray, out_size: tuple[int, int], arith: _Arithmetic) -> np.ndarray:
    """Bilinear resize of an h×w float32 array the way PyTorch's generic CPU kernel does it."""
    ry = _axis(x.shape[0], out_size[0], arith)
    rx = _axis(x.shape[1], out_size[1], arith)
    top = _lerp(rx.w0, x[ry.i0][:, rx.i0], rx.w1, x[ry.i0][:, rx.i1], arith)
    bottom = _lerp(rx.w0, x[ry.i1][:, rx.i0], rx.w1, x[ry.i1][:, rx.i1], arith)
    return _lerp(ry.w0[:, None], top, ry.w1[:, None], bottom, arith)


@functools.lru_cache(maxsize=1)
def _arithmetic() -> _Arithmetic | None:
    """Find the emulation that reproduces ``F.interpolate`` bit for bit on this machine.

    Probed on a few shapes (upscale, downscale, non-integer ratios, all with out_h + out_w
    > 128 so the generic kernel runs). None when no candidate matches: callers then use the
    reference chain, exact but slow.
    """
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(1234)
    probes = [((23, 31), (97, 61)), ((64, 48), (250, 187)), ((150, 101), (77, 90))]
    inputs = [(rng.standard_normal(s) * 10).astype(np.float32) for s, _ in probes]
    with torch.no_grad():
        refs = [
            F.interpolate(torch.from_numpy(x)[None, None], out, mode="bilinear").numpy()[0, 0]
            for x, (_, out) in zip(inputs, probes, strict=True)
        ]
    for fused_source in (True, False):
        for lerp in ("fma0", "fma1", "plain"):
            arith = _Arithmetic(fused_source, lerp)
            if all(
                np.array_equal(_emulate_resize(x, out, arith), ref)
                for x, (_, out), ref in zip(inputs, probes, refs, strict=True)
            ):
                return arith
    log.warning("bilinear arithmetic of this PyTorch build not recognised; masks use F.interpolate")
    return None


# ---- The fast path -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Everything shared by the planes of one call.

    ``x``: N×(p1−p0)×(c1−c0) float32 first-stage values of rows [p0, p1), cols [c0, c1) of
    the 1024×1024 upscale — all a positive pixel can read. ``rows``/``cols``: the second-stage
    axes; ``rk``/``ck``: slices of their cells lying inside the rectangle (cells outside are
    certainly negative). ``t``: float32 threshold; ``lo``/``hi``: a first-stage value
    ``<= lo`` cannot make a pixel positive, a cell whose values are all ``> hi`` is positive.
    """

    x: npt.NDArray[np.float32] | None
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
) -> _Plan:
    """Prune, run the first stage on the rectangle that matters; ``low`` is N×256×256."""
    import torch

    low = low.detach().to("cpu", torch.float32).contiguous()
    low_np = low.numpy()
    t = np.float32(threshold)
    lo, hi = _margins(low_np, t)
    h_in, w_in = (int(v) for v in input_size)
    rows = _axis(h_in, int(original_size[0]), arith)
    cols = _axis(w_in, int(original_size[1]), arith)
    empty = _Plan(None, 0, 0, rows, cols, slice(0, 0), slice(0, 0), t, lo, hi, arith)

    live = (low_np > lo).any(axis=0)
    live_rows = np.flatnonzero(live.any(axis=1))
    live_cols = np.flatnonzero(live.any(axis=0))
    if live_rows.size == 0:
        return empty
    p0, p1, _, _ = _first_stage_rows((live_rows[0], live_rows[-1]), h_in)
    c0, c1, qc, qd = _first_stage_rows((live_cols[0], live_cols[-1]), w_in)
    if p0 >= p1 or c0 >= c1:  # the object lies in the encoder's padding only
        return empty
    x = _first_stage(low, (p0, p1), (qc, qd), c0, c1)
    rk, ck = _cells_inside(rows, p0, p1), _cells_inside(cols, c0, c1)
    return _Plan(x, p0, c0, rows, cols, rk, ck, t, lo, hi, arith)


def _first_stage(
    low: torch.Tensor, rows: tuple[int, int], cols_lo: tuple[int, int], c0: int, c1: int
) -> npt.NDArray[np.float32]:
    """Rows [p0, p1) × cols [c0, c1) of the 256 → 1024 upscale of N×256×256 ``low``.

    Low-res columns [qc, qd) produce the columns (see ``_first_stage_rows``); rows go in
    strips whose outputs stay under PyTorch's parallel grain (32768 elements): a parallel
    region on busy cores costs tens of milliseconds while the whole strip takes tens of
    microseconds. Each strip adds one low-res row on each side, so its kept rows are exact.
    Strips also keep out_h + out_w > 128, where PyTorch's small-output kernel (different
    rounding) would take over.

    Returns an N×(p1−p0)×(c1−c0) float32 array.
    """
    import torch
    import torch.nn.functional as F

    (p0, p1), (qc, qd) = rows, cols_lo
    width = 4 * (qd - qc)
    # Low-res rows per call, margins included: under the grain, over the small-output size
    # even when a border clips one margin row.
    k = max(3, _GRAIN // (4 * width), -(-(_SMALL_OUTPUT + 1 - width) // 4) + 1)
    n = low.shape[0]
    out = np.empty((n, p1 - p0, c1 - c0), dtype=np.float32)
    with torch.no_grad():
        for plane in range(n):
            for s in range(p0 // 4, -(-p1 // 4), k - 2):  # core low-res rows [s, s + k - 2)
                e = min(s + k - 2, LOW_RES)
                qa, qb = max(0, s - 1), min(LOW_RES, e + 1)
                strip = F.interpolate(
                    low[plane : plane + 1, None, qa:qb, qc:qd],
                    (4 * (qb - qa), width),
                    mode="bilinear",
                    align_corners=False,
                )[0, 0].numpy()
                y0, y1 = max(4 * s, p0), min(4 * e, p1)
                out[plane, y0 - p0 : y1 - p0] = strip[
                    y0 - 4 * qa : y1 - 4 * qa, c0 - 4 * qc : c1 - 4 * qc
                ]
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

    ``y``: K×r int64 rows and ``x``: K×c int64 columns of each cell's pixels (a shorter span
    repeats its last index: duplicate writes of the same value are harmless, and the arrays
    stay dense); ``mask``: K×r×c bool, the reference's mask at (y[k, i], x[k, j]).
    """

    y: npt.NDArray[np.int64]
    x: npt.NDArray[np.int64]
    mask: npt.NDArray[np.bool_]


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
    return np.stack(
        [
            plan.rows.start[r0 + row[first]],
            plan.rows.stop[r0 + row[last]],
            plan.cols.start[c0 + a[first]],
            plan.cols.stop[c0 + b[first] - 1],
        ],
        axis=1,
    )


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


def _band(plan: _Plan, x: np.ndarray, kr: np.ndarray, kc: np.ndarray, n_r: int, n_c: int) -> _Band:
    """Evaluate cells (kr, kc) (indices into the plan's cell slices) exactly.

    ``x`` is the plane's first-stage rectangle; ``n_r``, ``n_c`` bound the cells' spans.
    """
    rows, cols = plan.rows, plan.cols
    kr_all, kc_all = kr + plan.rk.start, kc + plan.ck.start
    by = np.minimum(rows.start[kr_all][:, None] + np.arange(n_r), rows.stop[kr_all][:, None] - 1)
    bx = np.minimum(cols.start[kc_all][:, None] + np.arange(n_c), cols.stop[kc_all][:, None] - 1)
    # Inner (width) pass on the cell's two first-stage rows, then the outer (height) pass:
    # the nesting of PyTorch's kernel, out = h0·(w0·x00 + w1·x01) + h1·(w0·x10 + w1·x11).
    j0, j1 = cols.i0[bx] - plan.c0, cols.i1[bx] - plan.c0
    w0, w1 = cols.w0[bx], cols.w1[bx]
    top_row = (rows.cell[kr_all] - plan.p0)[:, None]
    bottom_row = (rows.cell1[kr_all] - plan.p0)[:, None]
    top = _lerp(w0, x[top_row, j0], w1, x[top_row, j1], plan.arith)
    bottom = _lerp(w0, x[bottom_row, j0], w1, x[bottom_row, j1], plan.arith)
    h0, h1 = rows.w0[by][:, :, None], rows.w1[by][:, :, None]
    top, bottom = top[:, None, :], bottom[:, None, :]
    if plan.arith.lerp == "plain":
        mask = (h0 * top + h1 * bottom) > plan.t
    elif plan.arith.lerp == "fma0":
        mask = _above(h0.astype(np.float64) * top + h1 * bottom, plan.t)
    else:
        mask = _above(h1.astype(np.float64) * bottom + h0 * top, plan.t)
    return _Band(y=by, x=bx, mask=mask)


def _solve_plane(plan: _Plan, n: int) -> _PlaneResult | None:
    """Classify the cells of plane ``n`` and evaluate its uncertain cells exactly.

    None when the uncertain band is too large for this to beat the reference chain.
    """
    assert plan.x is not None
    x = plan.x[n]
    rows, cols = plan.rows, plan.cols
    ri, ri1 = rows.cell[plan.rk] - plan.p0, rows.cell1[plan.rk] - plan.p0
    ci, ci1 = cols.cell[plan.ck] - plan.c0, cols.cell1[plan.ck] - plan.c0

    # A cell is live if any of its four values may be positive, sure if all four surely are.
    live = _pair_any(_pair_any(x > plan.lo, ri, ri1, 0), ci, ci1, 1)
    sure = ~_pair_any(_pair_any(x <= plan.hi, ri, ri1, 0), ci, ci1, 1)
    kr, kc = np.nonzero(live & ~sure)
    frame = (rows.stop[-1] - rows.start[0]) * (cols.stop[-1] - cols.start[0])
    if kr.size * rows.span_typical * cols.span_typical > _MAX_BAND_SHARE * frame:
        return None

    # The border cells' spans are longer (clamped source coordinates); padding every cell to
    # them would double the band's work, so they get their own pass.
    long_r = rows.stop[kr + plan.rk.start] - rows.start[kr + plan.rk.start] > rows.span_typical
    long_c = cols.stop[kc + plan.ck.start] - cols.start[kc + plan.ck.start] > cols.span_typical
    long = long_r | long_c
    bands = [_band(plan, x, kr[~long], kc[~long], rows.span_typical, cols.span_typical)]
    if long.any():
        bands.append(_band(plan, x, kr[long], kc[long], rows.span_max, cols.span_max))
    return _PlaneResult(rects=_rectangles(plan, sure), bands=bands)


def _paint(out: npt.NDArray[np.bool_], result: _PlaneResult) -> None:
    """Write a plane's mask into the zeroed, C-contiguous 2-D ``out`` (the full frame)."""
    for y0, y1, x0, x1 in result.rects.tolist():
        out[y0:y1, x0:x1] = True
    flat = out.reshape(-1)  # a view
    for band in result.bands:
        # Band pixels belong to no rectangle, so writing the False ones too is safe, and
        # cheaper than selecting the True ones.
        flat[band.y[:, :, None] * out.shape[1] + band.x[:, None, :]] = band.mask


def _true_pixels(result: _PlaneResult) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) int64 of the True band pixels of a plane (possibly repeated)."""
    ys, xs = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for band in result.bands:
        k, r, c = np.nonzero(band.mask)
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
    plan = _plan(
        low_res.reshape(b * c, LOW_RES, LOW_RES), input_size, original_size, threshold, arith
    )
    if plan.x is None:
        return out
    planes = out.reshape(b * c, h, w)
    flat_low = low_res.reshape(b * c, 1, LOW_RES, LOW_RES)
    for n in range(b * c):
        result = _solve_plane(plan, n)
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
    plan = _plan(low_res[None], input_size, original_size, threshold, arith)
    if plan.x is None:
        return np.zeros((0, 0), dtype=bool), (0, 0)
    result = _solve_plane(plan, 0)
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
