"""PyTorch's CPU bilinear resize (``F.interpolate(mode="bilinear", align_corners=False)``),
emulated in numpy bit for bit.

``samdesk.sam.postprocess`` evaluates only the pixels near a mask's outline and must give
exactly the reference chain's values there, so it needs the kernel's own rounding: how the
source coordinate and the two-tap interpolation are computed (fused multiply-adds or not)
differs between builds and CPUs, so it is detected at run time against ``F.interpolate``
(``detect_arithmetic``) rather than assumed.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Arithmetic:
    """How PyTorch's CPU kernel rounds (detected at run time, see ``detect_arithmetic``).

    ``fused_source``: the source coordinate ``scale * (dst + 0.5) - 0.5`` is one fused
    multiply-add. ``lerp``: ``"fma0"`` = fma(w0, t0, w1·t1), ``"fma1"`` = fma(w1, t1, w0·t0),
    ``"plain"`` = w0·t0 + w1·t1, each in float32.
    """

    fused_source: bool
    lerp: str


def lerp(
    w0: np.ndarray, t0: np.ndarray, w1: np.ndarray, t1: np.ndarray, arith: Arithmetic
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
class Axis:
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
def axis(n_in: int, n_out: int, arith: Arithmetic) -> Axis:
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
    return Axis(
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


def emulate_resize(x: np.ndarray, out_size: tuple[int, int], arith: Arithmetic) -> np.ndarray:
    """Bilinear resize of an h×w float32 array the way PyTorch's generic CPU kernel does it."""
    ry = axis(x.shape[0], out_size[0], arith)
    rx = axis(x.shape[1], out_size[1], arith)
    top = lerp(rx.w0, x[ry.i0][:, rx.i0], rx.w1, x[ry.i0][:, rx.i1], arith)
    bottom = lerp(rx.w0, x[ry.i1][:, rx.i0], rx.w1, x[ry.i1][:, rx.i1], arith)
    return lerp(ry.w0[:, None], top, ry.w1[:, None], bottom, arith)


@functools.lru_cache(maxsize=1)
def detect_arithmetic() -> Arithmetic | None:
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
            arith = Arithmetic(fused_source, lerp)
            if all(
                np.array_equal(emulate_resize(x, out, arith), ref)
                for x, (_, out), ref in zip(inputs, probes, refs, strict=True)
            ):
                return arith
    log.warning("bilinear arithmetic of this PyTorch build not recognised; masks use F.interpolate")
    return None
