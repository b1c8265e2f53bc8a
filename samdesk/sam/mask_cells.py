"""The cell classification behind ``samdesk.sam.postprocess``'s fast masks.

Vocabulary (see ``postprocess``'s module docstring for the overall idea):

- *low-res*: the decoder's 256×256 logits of one plane (one candidate mask).
- *first stage*: their bilinear upscale to 1024×1024 (scale exactly 4), cropped to the input
  size (h', w'). The first-stage value at *position* (P, Q) is a convex combination of the
  low-res 2×2 *window* (i, j) = (i0(P), i0(Q)) of the stage-1 axis.
- *cell*: a pair of consecutive first-stage rows (and columns) read by the second stage; the
  output pixels reading a cell lie in one rectangle, and each is a convex combination of the
  cell's four first-stage values.

A cell whose four values are all above the threshold (with a rounding margin) is entirely
positive, one whose values are all at or below it entirely negative; only the other cells
("the band", along the mask's outline) need their pixels evaluated. The classification runs
from coarse to fine so that its cost follows the outline rather than the area:

1. low-res windows are classified from their four values;
2. first-stage positions inherit their window's class; only positions of undecided windows
   get their exact first-stage value (emulated bit for bit, ``bilinear_emulation``);
3. cells are classified from their four positions, and the band's pixels are evaluated
   exactly from exact first-stage values computed for the band cells alone.

The exact evaluations of all planes of a call run together: most of their numpy calls work on
a few thousand elements, where the per-call overhead, not the arithmetic, is the cost.
Nothing here calls PyTorch: the fast path is numpy on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from samdesk.sam.bilinear_emulation import Arithmetic, Axis, axis, lerp

LOW_RES = 256
"""Side of the decoder's low-res mask logits."""
INPUT_SIDE = 1024
"""Side of the encoder's padded input; the first stage upsamples to it (factor 4)."""

# Above this share of a plane's first-stage positions lying in undecided windows the logits
# are noise-like (random weights: ~97 % of windows straddle zero), and evaluating them one by
# one would cost more than the reference chain: the caller takes that instead.
MAX_UNDECIDED_SHARE = 0.25
# Above this share of the frame in the band, the same (measured: ~0.5 s per frame-equivalent
# of band against ~35-40 ms for the reference at 12 MP).
MAX_BAND_SHARE = 0.05
# Band pixels evaluated per batch: float64 temporaries of 8 bytes each stay within L2.
_BAND_CHUNK = 1 << 16


@dataclass(frozen=True)
class Frame:
    """What the planes of one call share.

    ``low``: N×256×256 float32 logits. ``stage1``: the 256 → 1024 axis; ``rows``/``cols``: the
    second-stage axes (input size → original size). ``t``: float32 threshold; a first-stage
    value ``<= lo`` cannot make a pixel positive, one ``> hi`` cannot make it negative.
    """

    low: npt.NDArray[np.float32]
    stage1: Axis
    rows: Axis
    cols: Axis
    t: np.float32
    lo: np.float32
    hi: np.float32
    arith: Arithmetic


@dataclass(frozen=True)
class Plan:
    """Plane ``n`` pruned to the first-stage rectangle rows [p0, p1) × cols [c0, c1) that can
    hold positive pixels (positions outside it read only low-res values ``<= lo``). ``rk``/
    ``ck``: slices of the second-stage cells lying inside it (the others are negative)."""

    n: int
    p0: int
    p1: int
    c0: int
    c1: int
    rk: slice
    ck: slice


@dataclass(frozen=True)
class Band:
    """Exact pixels of K cells, in output coordinates.

    ``plane``: K int64 plane of each cell. ``y``: K×r int64 rows of each cell's pixels (a
    shorter span repeats its last row: duplicate writes of the same value are harmless, and
    the arrays stay dense); ``x``: K×c int64 columns; ``mask``: K×r×c bool, the reference's
    mask at (y[k, i], x[k, j]).

    ``window``: the columns are ``x[k, 0] + arange(c)`` with c a power of two up to 8 or a
    multiple of 8, running past a shorter cell into its right neighbour (those pixels are
    evaluated exactly as well), so each row of a cell is painted as c-byte words. Otherwise
    a shorter span repeats its last column and pixels are painted one by one.
    """

    plane: npt.NDArray[np.int64]
    y: npt.NDArray[np.int64]
    x: npt.NDArray[np.int64]
    mask: npt.NDArray[np.bool_]
    window: bool


@dataclass(frozen=True)
class Cells:
    """Band cells of all planes: plane ``n``, cell row ``kr``, cell column ``kc`` (K int64
    each, absolute cell indices of the second-stage axes), the end ``c1`` of their plane's
    rectangle, and where their planes' first-stage values live in the flat buffer of
    ``_band_values``: value (P, Q) of cell k at ``base[k] + P * width[k] + Q``."""

    n: npt.NDArray[np.int64]
    kr: npt.NDArray[np.int64]
    kc: npt.NDArray[np.int64]
    c1: npt.NDArray[np.int64]
    base: npt.NDArray[np.int64]
    width: npt.NDArray[np.int64]
    size: int

    def take(self, keep: np.ndarray | slice) -> Cells:
        return Cells(
            self.n[keep],
            self.kr[keep],
            self.kc[keep],
            self.c1[keep],
            self.base[keep],
            self.width[keep],
            self.size,
        )


@dataclass(frozen=True)
class Solution:
    """The masks of all planes in compressed form.

    ``rects[n]``: R×4 int64 (y0, y1, x0, x1), ends exclusive, rectangles of plane n that are
    entirely True; ``cells``: the band cells of every plane, whose pixels must be evaluated
    one by one (``bands`` here, or the compiled loops); everything else is False. ``reference``:
    planes whose logits are noise-like, left to a full evaluation (their ``rects`` are empty
    and no band cell belongs to them).
    """

    rects: list[npt.NDArray[np.int64]]
    cells: Cells
    reference: list[int]


# ---- planning ------------------------------------------------------------------------------------


def margins(low: np.ndarray, t: np.float32) -> tuple[np.float32, np.float32]:
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


def _first_stage_span(lo_rows: tuple[int, int], limit: int) -> tuple[int, int]:
    """First-stage rows [p0, p1) that can read low-res rows [ra, rb], plus a cell's margin.

    Stage-1 row p reads low-res rows a(p) and a(p)+1, a(p) = floor(max((p + 0.5)/4 − 0.5, 0)).
    Rows reading [ra, rb] are [q0, q1); a cell also reads the row after it, so one more row
    on each side.
    """
    ra, rb = lo_rows
    q0 = max(0, 4 * ra - 2)  # first p with a(p) + 1 >= ra
    q1 = min(limit, 4 * rb + 6)  # one past the last p with a(p) <= rb
    return max(0, q0 - 1), min(limit, q1 + 1)


def _cells_inside(ax: Axis, p0: int, p1: int) -> slice:
    """Slice of ``ax``'s cells whose two source indices both lie in [p0, p1)."""
    k0 = int(np.searchsorted(ax.cell, p0, side="left"))
    k1 = int(np.searchsorted(ax.cell1, p1, side="left"))  # cell1 is non-decreasing too
    return slice(k0, max(k0, k1))


def plan(
    low: npt.NDArray[np.float32],
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    threshold: float,
    arith: Arithmetic,
) -> tuple[Frame, list[Plan]]:
    """The shared frame of N×256×256 float32 ``low`` and a plan for each plane that can hold
    a positive pixel (planes without a plan are all False).

    Each plane gets its own rectangle: the candidates of one prompt differ in extent (a part,
    the object, the object and a neighbour).
    """
    t = np.float32(threshold)
    lo, hi = margins(low, t)
    h_in, w_in = (int(v) for v in input_size)
    rows = axis(h_in, int(original_size[0]), arith)
    cols = axis(w_in, int(original_size[1]), arith)
    frame = Frame(low, axis(LOW_RES, INPUT_SIDE, arith), rows, cols, t, lo, hi, arith)
    plans = []
    for n, plane in enumerate(low):
        live = plane > lo
        live_rows = np.flatnonzero(live.any(axis=1))
        if live_rows.size == 0:
            continue
        live_cols = np.flatnonzero(live.any(axis=0))
        p0, p1 = _first_stage_span((live_rows[0], live_rows[-1]), h_in)
        c0, c1 = _first_stage_span((live_cols[0], live_cols[-1]), w_in)
        if p0 >= p1 or c0 >= c1:  # the object lies in the encoder's padding only
            continue
        rk, ck = _cells_inside(rows, p0, p1), _cells_inside(cols, c0, c1)
        if rk.stop > rk.start and ck.stop > ck.start:
            plans.append(Plan(n, p0, p1, c0, c1, rk, ck))
    return frame, plans


# ---- first-stage values --------------------------------------------------------------------------
# Index and weight arrays below are laid out K-last (K = cells or windows): numpy's inner loops
# then run over the K items rather than over a handful of pixels, several times faster.


def _stage1_rows(frame: Frame, rows: np.ndarray, q: np.ndarray) -> npt.NDArray[np.float32]:
    """The first stage's inner (width) pass: low-res rows ``rows`` (a×K int64 indices into the
    flattened N×256 rows) at first-stage columns ``q`` (m×K) → a×m×K float32, rounded as
    PyTorch rounds it."""
    s, flat = frame.stage1, frame.low.reshape(-1)
    base = (rows * LOW_RES)[:, None, :]
    left = flat.take(base + s.i0[q])
    right = flat.take(base + s.i1[q])
    return lerp(s.w0[q], left, s.w1[q], right, frame.arith)


def _stage1_cols(frame: Frame, p: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """The outer (height) pass: first-stage rows ``p`` (n×K) from inner-pass rows ``top`` and
    ``bottom`` (1×m×K or n×m×K) → n×m×K float32. Together with ``_stage1_rows``, bit for bit
    ``F.interpolate(low, (1024, 1024), mode="bilinear")[..., p, q]``."""
    s = frame.stage1
    return lerp(s.w0[p][:, None, :], top, s.w1[p][:, None, :], bottom, frame.arith)


def _window_maps(frame: Frame) -> tuple[np.ndarray, np.ndarray]:
    """(may_live, all_sure): N×256×256 bool over low-res windows (i, j) = rows {i, i1} × cols
    {j, j1} (i1 = min(i + 1, 255)): some value ``> lo`` / every value ``> hi``."""
    g_lo, g_hi = frame.low > frame.lo, frame.low > frame.hi
    may, sure = g_lo.copy(), g_hi.copy()
    may[:, :-1] |= g_lo[:, 1:]
    sure[:, :-1] &= g_hi[:, 1:]
    may[:, :, :-1] |= may[:, :, 1:].copy()
    sure[:, :, :-1] &= sure[:, :, 1:].copy()
    return may, sure


def _repeat_columns(a: npt.NDArray[np.bool_], counts: np.ndarray) -> npt.NDArray[np.bool_]:
    """``np.repeat(a, counts, axis=1)`` for an n×k bool array, fast when the inner counts are 4.

    The first stage's windows are 4 positions wide except at the borders; repeating a byte 4
    times is one multiply by 0x01010101 (≈ 10× faster than ``np.repeat`` along axis 1).
    """
    k = a.shape[1]
    if k <= 2 or not (counts[1:-1] == 4).all():
        return np.repeat(a, counts, axis=1)
    mid = np.ascontiguousarray(a[:, 1:-1]).view(np.uint8).astype(np.uint32) * np.uint32(0x01010101)
    return np.concatenate(
        [
            np.repeat(a[:, :1], counts[0], axis=1),
            mid.view(np.bool_).reshape(a.shape[0], 4 * (k - 2)),
            np.repeat(a[:, -1:], counts[-1], axis=1),
        ],
        axis=1,
    )


@dataclass
class _Positions:
    """A plane's maps over its rectangle's first-stage positions: ``x > lo`` and ``x <= hi``
    (bool, (p1−p0)×(c1−c0)), and its undecided windows (K int64 window rows and cols)."""

    plan: Plan
    above_lo: npt.NDArray[np.bool_]
    below_hi: npt.NDArray[np.bool_]
    wi: npt.NDArray[np.int64]
    wj: npt.NDArray[np.int64]


def noise_like(frame: Frame, plans: list[Plan]) -> list[int]:
    """The planes whose logits are noise-like (``MAX_UNDECIDED_SHARE``): better evaluated
    whole than cell by cell."""
    may, sure = _window_maps(frame)
    return [pl.n for pl in plans if _undecided(frame, pl, may, sure)[2]]


def _undecided(
    frame: Frame, pl: Plan, may: np.ndarray, sure: np.ndarray
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The undecided windows (rows, cols) of a plane's rectangle, and whether there are too
    many of them to go cell by cell."""
    s = frame.stage1
    wr0, wc0 = int(s.i0[pl.p0]), int(s.i0[pl.c0])
    wr1, wc1 = int(s.i0[pl.p1 - 1]) + 1, int(s.i0[pl.c1 - 1]) + 1
    may, sure = may[pl.n, wr0:wr1, wc0:wc1], sure[pl.n, wr0:wr1, wc0:wc1]
    wi, wj = np.divmod(np.flatnonzero(may & ~sure), may.shape[1])
    too_many = wi.size * 16 > MAX_UNDECIDED_SHARE * (pl.p1 - pl.p0) * (pl.c1 - pl.c0)
    return wi + wr0, wj + wc0, bool(too_many)


def _positions(frame: Frame, pl: Plan, may: np.ndarray, sure: np.ndarray) -> _Positions | None:
    """The plane's position maps from its window classes (undecided windows still to be
    fixed, see ``_fix_undecided``); None for noise-like logits (``MAX_UNDECIDED_SHARE``)."""
    s = frame.stage1
    wi, wj, too_many = _undecided(frame, pl, may, sure)
    if too_many:
        return None
    # Windows of the rectangle's positions, and how many positions each one covers there.
    wr0, wc0 = int(s.i0[pl.p0]), int(s.i0[pl.c0])
    wr1, wc1 = int(s.i0[pl.p1 - 1]) + 1, int(s.i0[pl.c1 - 1]) + 1
    may, sure = may[pl.n, wr0:wr1, wc0:wc1], sure[pl.n, wr0:wr1, wc0:wc1]
    count_r = np.minimum(s.stop[wr0:wr1], pl.p1) - np.maximum(s.start[wr0:wr1], pl.p0)
    count_c = np.minimum(s.stop[wc0:wc1], pl.c1) - np.maximum(s.start[wc0:wc1], pl.c0)
    above_lo = _repeat_columns(np.repeat(may, count_r, axis=0), count_c)
    below_hi = _repeat_columns(np.repeat(~sure, count_r, axis=0), count_c)
    return _Positions(pl, above_lo, below_hi, wi, wj)


def _fix_undecided(frame: Frame, planes: list[_Positions]) -> None:
    """Replace the window classes of undecided windows' positions by the exact ones, for all
    planes in one batch (a few thousand windows: per-call overhead would dominate)."""
    s = frame.stage1
    counts = [ps.wi.size for ps in planes]
    if sum(counts) == 0:
        return
    n = np.repeat([ps.plan.n for ps in planes], counts)
    wi = np.concatenate([ps.wi for ps in planes])
    wj = np.concatenate([ps.wj for ps in planes])
    # Every position of each window (a border window's shorter list repeats its last one).
    n_r = int((s.stop[wi] - s.start[wi]).max())
    n_c = int((s.stop[wj] - s.start[wj]).max())
    p = np.minimum(s.start[wi] + np.arange(n_r)[:, None], s.stop[wi] - 1)  # n_r×K
    q = np.minimum(s.start[wj] + np.arange(n_c)[:, None], s.stop[wj] - 1)  # n_c×K
    # All positions of a window read the same two low-res rows: one inner pass each.
    inner = _stage1_rows(frame, np.stack([n * LOW_RES + wi, n * LOW_RES + s.i1[s.start[wi]]]), q)
    x = _stage1_cols(frame, p, inner[:1], inner[1:])
    above, below = x > frame.lo, x <= frame.hi
    start = 0
    for ps, count in zip(planes, counts, strict=True):
        pl, end = ps.plan, start + count
        pk, qk = p[:, start:end], q[:, start:end]
        # Windows at the rectangle's border reach past it: keep the positions inside.
        inside = ((pk >= pl.p0) & (pk < pl.p1))[:, None, :] & ((qk >= pl.c0) & (qk < pl.c1))[None]
        flat = ((pk - pl.p0)[:, None, :] * (pl.c1 - pl.c0) + (qk - pl.c0)[None])[inside]
        ps.above_lo.reshape(-1)[flat] = above[:, :, start:end][inside]
        ps.below_hi.reshape(-1)[flat] = below[:, :, start:end][inside]
        start = end


# ---- cells ---------------------------------------------------------------------------------------


def _pair_any(a: np.ndarray, idx0: np.ndarray, idx1: np.ndarray, ax: int) -> np.ndarray:
    """``a[idx0] | a[idx1]`` along axis ``ax`` (bool); slices when the indices are consecutive."""
    n = idx0.size
    if n and idx0[-1] - idx0[0] == n - 1 and idx1[-1] - idx1[0] == n - 1:
        # Upscaling: every index is a cell, so both operands are plain (strided) views.
        lead = (slice(None),) * ax
        s0, s1 = int(idx0[0]), int(idx1[0])
        return np.logical_or(a[(*lead, slice(s0, s0 + n))], a[(*lead, slice(s1, s1 + n))])
    return np.logical_or(a.take(idx0, ax), a.take(idx1, ax))


def _runs(sure: npt.NDArray[np.bool_]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of True in a 2-D bool array: (row, start, stop) int64 arrays."""
    n_rows, n_cols = sure.shape
    padded = np.zeros((n_rows, n_cols + 2), dtype=bool)
    padded[:, 1:-1] = sure
    # Every row starts and ends False, so its changes come in (start, stop) pairs.
    change = np.flatnonzero(padded[:, 1:] != padded[:, :-1])
    starts, stops = change[0::2], change[1::2]
    return starts // (n_cols + 1), starts % (n_cols + 1), stops % (n_cols + 1)


def _rectangles(frame: Frame, pl: Plan, sure: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
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
    r0, c0 = pl.rk.start, pl.ck.start
    rects = np.stack(
        [
            frame.rows.start[r0 + row[first]],
            frame.rows.stop[r0 + row[last]],
            frame.cols.start[c0 + a[first]],
            frame.cols.stop[c0 + b[first] - 1],
        ],
        axis=1,
    )
    # Top to bottom: the fills then walk memory forwards (measured ~7 % faster at 48 MP than
    # in column order).
    return rects[np.lexsort((rects[:, 2], rects[:, 0]))]


def _cells(frame: Frame, ps: _Positions) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(rects, kr, kc): the plane's positive rectangles and its band cells (absolute cell
    indices); None when the band is too large to beat the reference (``MAX_BAND_SHARE``)."""
    pl, rows, cols = ps.plan, frame.rows, frame.cols
    ri, ri1 = rows.cell[pl.rk] - pl.p0, rows.cell1[pl.rk] - pl.p0
    ci, ci1 = cols.cell[pl.ck] - pl.c0, cols.cell1[pl.ck] - pl.c0
    # A cell is live if any of its four values may be positive, sure if all four surely are.
    live = _pair_any(_pair_any(ps.above_lo, ri, ri1, 0), ci, ci1, 1)
    sure = ~_pair_any(_pair_any(ps.below_hi, ri, ri1, 0), ci, ci1, 1)
    # 1-D nonzero: several times faster than the 2-D one.
    kr, kc = np.divmod(np.flatnonzero(live & ~sure), live.shape[1])
    area = (rows.stop[-1] - rows.start[0]) * (cols.stop[-1] - cols.start[0])
    if kr.size * rows.span_typical * cols.span_typical > MAX_BAND_SHARE * area:
        return None
    return _rectangles(frame, pl, sure), kr + pl.rk.start, kc + pl.ck.start


# ---- the band ------------------------------------------------------------------------------------


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


def _band_values(frame: Frame, cells: Cells, reach: int) -> npt.NDArray[np.float32]:
    """Flat buffer of ``cells.size`` float32 holding the exact first-stage values the band reads:
    each cell's two rows × ``reach`` columns from its first on (clamped to its plane's
    rectangle; the rest of the buffer is garbage)."""
    s, rows, cols = frame.stage1, frame.rows, frame.cols
    values = np.empty(cells.size, dtype=np.float32)
    p = np.stack([rows.cell[cells.kr], rows.cell1[cells.kr]])  # 2×K
    q = np.minimum(cols.cell[cells.kc] + np.arange(reach)[:, None], cells.c1 - 1)  # reach×K
    # The cell's two rows may lie in different windows: four low-res rows.
    low_rows = cells.n * LOW_RES + np.concatenate([s.i0[p], s.i1[p]])
    inner = _stage1_rows(frame, low_rows, q)
    x = _stage1_cols(frame, p, inner[:2], inner[2:])
    flat = (cells.base + p * cells.width)[:, None, :] + q[None]
    values[flat.reshape(-1)] = x.reshape(-1)
    return values


def _band(frame: Frame, values: np.ndarray, cells: Cells, n_r: int, n_c: int, window: bool) -> Band:
    """Evaluate ``cells`` exactly; ``n_r``, ``n_c`` bound their spans (with ``window``,
    ``n_c`` columns from each cell's first, see ``Band``)."""
    rows, cols, kr, kc = frame.rows, frame.cols, cells.kr, cells.kc
    by = np.minimum(rows.start[kr] + np.arange(n_r)[:, None], rows.stop[kr] - 1)  # r×K
    bx = cols.start[kc] + np.arange(n_c)[:, None]  # c×K
    if not window:
        bx = np.minimum(bx, cols.stop[kc] - 1)
    # Inner (width) pass on the cell's two first-stage rows, then the outer (height) pass:
    # the nesting of PyTorch's kernel, out = h0·(w0·x00 + w1·x01) + h1·(w0·x10 + w1·x11).
    # Each pixel reads its own columns, so a window's pixels past the cell are exact too.
    j0, j1 = cols.i0[bx], cols.i1[bx]
    w0, w1 = cols.w0[bx], cols.w1[bx]
    top_row = cells.base + rows.cell[kr] * cells.width
    bottom_row = cells.base + rows.cell1[kr] * cells.width
    top = lerp(w0, values[top_row + j0], w1, values[top_row + j1], frame.arith)
    bottom = lerp(w0, values[bottom_row + j0], w1, values[bottom_row + j1], frame.arith)
    h0, h1 = rows.w0[by][:, None, :], rows.w1[by][:, None, :]
    top, bottom = top[None], bottom[None]
    if frame.arith.lerp == "plain":
        mask = (h0 * top + h1 * bottom) > frame.t
    elif frame.arith.lerp == "fma0":
        mask = _above(h0.astype(np.float64) * top + h1 * bottom, frame.t)
    else:
        mask = _above(h1.astype(np.float64) * bottom + h0 * top, frame.t)
    # Back to cell-major (K×r×c), the layout the painting needs.
    mask = np.ascontiguousarray(mask.transpose(2, 0, 1))
    return Band(plane=cells.n, y=by.T, x=bx.T, mask=mask, window=window)


def bands(frame: Frame, cells: Cells) -> list[Band]:
    """Evaluate the band cells of all planes in numpy, as ``Band`` chunks to paint."""
    rows, cols = frame.rows, frame.cols
    if cells.kr.size == 0:
        return []
    kr, kc = cells.kr, cells.kc
    # Most cells go through windows of the typical span, painted as words. The border cells'
    # spans are longer (clamped source coordinates), and a window must stay inside the row and
    # read first-stage columns inside its plane's rectangle; those few cells get their own
    # pass, padded to the longest span.
    n_c = _window(cols.span_typical)
    last = cols.start[kc] + (n_c - 1)  # a window's last column
    fits = (rows.stop[kr] - rows.start[kr] <= rows.span_typical) & (
        cols.stop[kc] - cols.start[kc] <= n_c
    )
    fits &= last < cols.n_out
    fits[fits] = cols.i1[last[fits]] < cells.c1[fits]
    # First-stage columns the band reads from each cell's first one on: its own two, and a
    # window's reach into the next cell.
    reach = 2
    if fits.any():
        reach = max(reach, int((cols.i1[last[fits]] - cols.cell[kc[fits]]).max()) + 1)
    values = _band_values(frame, cells, reach)
    fit = cells.take(fits)
    # In chunks whose float64 temporaries stay cache-sized: one pass over a large object's
    # whole band runs at memory speed instead.
    chunk = max(1, _BAND_CHUNK // (rows.span_typical * n_c))
    out = [
        _band(frame, values, fit.take(slice(i, i + chunk)), rows.span_typical, n_c, True)
        for i in range(0, fit.kr.size, chunk)
    ]
    if not fits.all():
        rest = cells.take(~fits)
        out.append(_band(frame, values, rest, rows.span_max, cols.span_max, False))
    return out


def solve(frame: Frame, plans: list[Plan]) -> Solution:
    """Classify the cells of every planned plane: its positive rectangles, and the band cells
    whose pixels are left to evaluate."""
    may, sure = _window_maps(frame)
    reference: list[int] = []
    positions: list[_Positions] = []
    for pl in plans:
        ps = _positions(frame, pl, may, sure)
        if ps is None:
            reference.append(pl.n)
        else:
            positions.append(ps)
    _fix_undecided(frame, positions)

    rects = [np.empty((0, 4), np.int64) for _ in range(frame.low.shape[0])]
    parts: list[tuple[int, np.ndarray, np.ndarray, int, int, int]] = []
    size = 0  # of the flat buffer holding every plane's first-stage values
    for ps in positions:
        pl = ps.plan
        found = _cells(frame, ps)
        if found is None:
            reference.append(pl.n)
            continue
        rects[pl.n], kr, kc = found
        # Value (P, Q) of this plane at base + P·width + Q, i.e. its rectangle's row-major
        # offset (P − p0)·width + (Q − c0) after the previous planes' rectangles.
        width = pl.c1 - pl.c0
        parts.append((pl.n, kr, kc, pl.c1, size - pl.p0 * width - pl.c0, width))
        size += (pl.p1 - pl.p0) * width
    counts = [part[1].size for part in parts]

    def per_cell(i: int) -> npt.NDArray[np.int64]:
        values = np.array([part[i] for part in parts], dtype=np.int64)
        return np.repeat(values, counts) if parts else np.empty(0, np.int64)

    def joined(i: int) -> npt.NDArray[np.int64]:
        return np.concatenate([part[i] for part in parts]) if parts else np.empty(0, np.int64)

    cells = Cells(per_cell(0), joined(1), joined(2), per_cell(3), per_cell(4), per_cell(5), size)
    return Solution(rects, cells, sorted(reference))


def crop_to_box(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.bool_], tuple[int, int]]:
    """A 2-D bool mask cut to the box of its True pixels: (crop, (x0, y0)), the crop's
    top-left pixel XY in ``mask``; an empty mask gives a 0×0 array and (0, 0)."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.zeros((0, 0), dtype=bool), (0, 0)
    cols = np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return np.ascontiguousarray(mask[y0:y1, x0:x1]), (int(x0), int(y0))
