"""The compiled side of ``samdesk.sam.postprocess``: loading and checking ``samdesk.sam._masks``
(the C loops), painting masks with it, and recycling the outputs.

Used only when the extension is built and reproduces ``F.interpolate`` on this machine
(``accelerator``); ``postprocess`` otherwise runs the numpy loops of ``mask_cells``. Both give
the reference chain's pixels, bit for bit. Conventions as in ``postprocess``: frames are
(H, W) in original-image pixels, boxes (y0, y1, x0, x1) with exclusive ends.
"""

from __future__ import annotations

import functools
import itertools
import logging
import sys
import threading
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import numpy.typing as npt

from samdesk.sam import mask_cells
from samdesk.sam.bilinear_emulation import Arithmetic, Axis
from samdesk.sam.bilinear_emulation import detect_arithmetic as _arithmetic
from samdesk.sam.mask_cells import LOW_RES

log = logging.getLogger(__name__)


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
    holds the previous masks until the new ones are returned, still recycles. They are kept
    until an output of another shape is made or ``forget`` is called (the predictor does when
    it is given another image).
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
        module.clear_rects(flat, height, width, entry.planes[rest], entry.rects[rest])

    def give(self, buffer: npt.NDArray[np.bool_], planes: np.ndarray, rects: np.ndarray) -> None:
        """Keep ``buffer`` (returned to the caller) for recycling; it wrote ``rects``."""
        with self._lock:
            self._entries = [e for e in self._entries if e.buffer.shape == buffer.shape]
            self._entries.append(_Recycled(buffer, planes, rects))
            del self._entries[: -self._CAPACITY]

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()


pool = _OutputPool()


_LERP_MODE = {"plain": 0, "fma0": 1, "fma1": 2}


@functools.lru_cache(maxsize=1)
def accelerator() -> ModuleType | None:
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


def _accelerator_matches(module: ModuleType, arith: Arithmetic) -> bool:
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
    with torch.no_grad():
        x = F.interpolate(torch.from_numpy(low)[None], (1024, 1024), mode="bilinear")
        x = F.interpolate(x[..., : input_size[0], : input_size[1]], size, mode="bilinear")
    want = (x[0] > 0).numpy()
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


# Row chunks of a whole plane shared between the two threads.
_CHUNKS = 12
# Below this many pixels (all planes) one thread evaluates whole planes alone: right after
# the decoder PyTorch's OpenMP threads still spin on the other core for several ms, and a
# helper started then costs more than it saves on a small frame (measured at 1024×768:
# 8.9 ms with the helper, 2-4 ms without).
_HELPER_MIN_PIXELS = 16 << 20


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


def paint_planes(
    module: ModuleType,
    out: npt.NDArray[np.bool_],
    frame: mask_cells.Frame,
    input_size: tuple[int, int],
    planes: list[int],
) -> None:
    """Evaluate whole ``planes`` (noise-like logits) pixel by pixel into N×H×W ``out``.

    Both stages run compiled; the second, where the reference spends its time, in chunks of
    rows taken by this thread and a helper (the loops release the GIL and are mostly
    compute-bound: up to 2× on two cores). The first stage is not left to ``F.interpolate``:
    its OpenMP threads spin for a while after each call and would take the helper's core.
    """
    if not planes:
        return
    _, height, width = out.shape
    rows, cols = frame.rows, frame.cols
    mode = _LERP_MODE[frame.arith.lerp]
    h_in, w_in = (int(v) for v in input_size)
    first = np.empty((len(planes), h_in, w_in), dtype=np.float32)
    stage1 = _stage1_axes(frame, input_size)
    for f, n in zip(first, planes, strict=True):
        module.resize_plane(f, h_in, w_in, mode, frame.low[n], LOW_RES, *stage1)
    col_args = _plane_axes(rows, cols)[4:]
    # Row chunks shared out on demand: right after the decoder, PyTorch's OpenMP threads
    # spin on the other core for several ms, and a fixed half for the helper would leave this
    # thread waiting for it.
    bounds = np.linspace(0, rows.cell.size, _CHUNKS + 1).astype(int)
    chunks = [(n, f, slice(a, b)) for n, f in zip(planes, first, strict=True)
              for a, b in itertools.pairwise(bounds) if b > a]  # fmt: skip
    taken = itertools.count()  # next() is atomic under the GIL
    failure: list[BaseException] = []

    def work() -> None:
        try:
            while (i := next(taken)) < len(chunks):
                n, f, cells = chunks[i]
                module.paint_plane(
                    out[n], height, width, mode, float(frame.t), f, w_in, rows.cell[cells],
                    rows.cell1[cells], rows.start[cells], rows.stop[cells], *col_args,
                )  # fmt: skip
        except BaseException as exc:  # re-raised on the calling thread
            failure.append(exc)

    if len(planes) * height * width < _HELPER_MIN_PIXELS:
        work()
    else:
        # A thread per call (~0.1 ms) rather than a pool: nothing is left running afterwards.
        helper = threading.Thread(target=work, name="samdesk-masks")
        helper.start()
        work()
        helper.join()
    if failure:
        raise failure[0]


def masks(
    module: ModuleType,
    frame: mask_cells.Frame,
    plans: list[mask_cells.Plan],
    input_size: tuple[int, int],
    shape: tuple[int, int, int, int],
) -> npt.NDArray[np.bool_]:
    """``masks_from_low_res`` with the compiled loops, into a recycled or fresh B×C×H×W
    output."""
    n_planes, height, width = frame.low.shape[0], frame.rows.n_out, frame.cols.n_out
    # Noise-like logits (random weights) leave most cells straddling the threshold: there the
    # whole plane (~0.2-0.5 ns a pixel) beats cell by cell (~25 ns a band cell); for smooth
    # logits cell by cell is the cheaper one at every frame size (measured down to 1024×768).
    noisy = mask_cells.noise_like(frame, plans)
    recycled = pool.take(shape)
    pool.clear(module, recycled, noisy)
    out = recycled.buffer
    planes = out.reshape(n_planes, height, width)
    written_planes, written = [], []
    for plan in plans:
        if plan.n not in noisy:
            boxes = _paint_region(module, planes[plan.n], (0, 0), frame, plan)
            written_planes.append(np.full(len(boxes), plan.n, dtype=np.int64))
            written.append(boxes[:, :4])
    paint_planes(module, planes, frame, input_size, noisy)
    written_planes.append(np.asarray(noisy, dtype=np.int64))
    written.append(np.tile(np.array([[0, height, 0, width]], dtype=np.int64), (len(noisy), 1)))
    pool.give(out, np.concatenate(written_planes), np.ascontiguousarray(np.concatenate(written)))
    return out


def crop(
    module: ModuleType, frame: mask_cells.Frame, plan: mask_cells.Plan, input_size: tuple[int, int]
) -> tuple[npt.NDArray[np.bool_], tuple[int, int]]:
    """``best_mask_crop`` of one planned plane with the compiled loops: paint into the box of
    its cells, then cut that to the True pixels."""
    rows, cols = frame.rows, frame.cols
    if mask_cells.noise_like(frame, [plan]):  # the whole plane, then its box
        full = np.zeros((1, rows.n_out, cols.n_out), dtype=bool)
        paint_planes(module, full, frame, input_size, [0])
        return mask_cells.crop_to_box(full[0])
    y0, y1 = int(rows.start[plan.rk.start]), int(rows.stop[plan.rk.stop - 1])
    x0, x1 = int(cols.start[plan.ck.start]), int(cols.stop[plan.ck.stop - 1])
    painted = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    boxes = _paint_region(module, painted, (y0, x0), frame, plan)
    sure = np.ascontiguousarray(boxes[boxes[:, 4] == 1, :4])
    if not boxes.size:
        return np.zeros((0, 0), dtype=bool), (0, 0)
    # Everything painted lies in the boxes: cut to their extent first (cheap), then trim.
    by0, by1 = int(boxes[:, 0].min()), int(boxes[:, 1].max())
    bx0, bx1 = int(boxes[:, 2].min()), int(boxes[:, 3].max())
    shift = np.array([by0, by0, bx0, bx0], dtype=np.int64)
    return _trim(painted[by0:by1, bx0:bx1], (x0 + bx0, y0 + by0), sure - shift)


def _trim(
    crop: npt.NDArray[np.bool_], origin: tuple[int, int], sure: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.bool_], tuple[int, int]]:
    """``crop`` (its top-left pixel at ``origin``, XY) cut to its True pixels.

    The rectangles ``sure`` (y0, y1, x0, x1 in crop pixels, all True) already bound most of
    the box: only the strips outside them (a band cell or two wide) are searched.
    """
    if sure.size == 0:
        box, (bx, by) = mask_cells.crop_to_box(crop)
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
