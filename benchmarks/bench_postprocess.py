"""Mask post-processing benchmark: reference chain vs masks_from_low_res vs best_mask_crop.

    python benchmarks/bench_postprocess.py [--repeat 5] [--sizes 1024x768,4000x3000,8000x6000]
        [--cases sam,large]

Logits: 1×3×256×256, range ±20, a little noise, two cases:

- ``sam``: SAM-like smooth soft objects (one or two per candidate); the three candidates are
  a part, the object, the object plus a neighbour (about 6, 19 and 24 % of a 4:3 image);
- ``large``: one large object in three nested candidates covering about 60, 70 and 80 % of a
  4:3 image (most of the frame is written, most of its pages touched).

For each case and image size (W×H, encoder input with longest side 1024) prints the median
wall time of:

- ``reference``: F.interpolate to 1024², crop, F.interpolate to H×W, ``> 0`` (3 masks);
- ``masks``: ``masks_from_low_res`` (3 masks, full frame), with the compiled loops when they
  are built, the output buffer recycled from the previous call (as in a loop of clicks);
- ``first``: the same with a fresh output buffer (the first click on an image pays its page
  faults);
- ``numpy``: the same without the compiled loops (a checkout built without a C compiler);
- ``crop``: ``best_mask_crop`` of the middle candidate (the mask a click keeps);

the number of pixels where ``masks`` or ``numpy`` differs from the reference (expected: 0)
and the positive share of the three masks.
Timings on a shared machine are noisy: compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from samdesk.sam import postprocess  # noqa: E402
from samdesk.sam.postprocess import (  # noqa: E402
    best_mask_crop,
    masks_from_low_res,
    upscale_logits,
)


def sam_like_logits(seed: int = 0) -> torch.Tensor:
    """1×3×256×256 float32: three nested candidates of a soft two-part object, ±20."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")

    def blob(cy: float, cx: float, ry: float, rx: float) -> torch.Tensor:
        return 20 * (1 - (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2).sqrt())

    part = blob(90, 110, 25, 35)
    whole = torch.maximum(part, blob(120, 130, 45, 60))
    plus = torch.maximum(whole, blob(150, 200, 30, 30))
    field = torch.stack([part, whole, plus])[None]
    field = field + torch.randn(field.shape, generator=g) * 0.3
    return field.clamp(-20, 20).contiguous()


def large_object_logits(seed: int = 0) -> torch.Tensor:
    """1×3×256×256 float32: one rounded-rectangle object covering 60, 70, 80 % of a 4:3 image."""
    g = torch.Generator().manual_seed(seed)
    # A 4:3 image occupies low-res rows [0, 192) of the padded square.
    yy, xx = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    u, v = (yy + 0.5 - 96) / 96, (xx + 0.5 - 128) / 128
    radius = (u**4 + v**4) ** 0.25  # 4-norm: a rounded rectangle, area ≈ 0.927·s² of the image
    field = torch.stack([20 * (s - radius) / s for s in (0.80, 0.87, 0.93)])[None]
    field = field + torch.randn(field.shape, generator=g) * 0.3
    return field.clamp(-20, 20).contiguous()


CASES = {"sam": sam_like_logits, "large": large_object_logits}


def input_size_for(h: int, w: int) -> tuple[int, int]:
    scale = 1024 / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def reference_masks(
    low: torch.Tensor, input_size: tuple[int, int], original: tuple[int, int]
) -> np.ndarray:
    return (upscale_logits(low, input_size, original) > 0).numpy()


def median_ms(
    fn: Callable[[], object], repeat: int, before: Callable[[], object] | None = None
) -> float:
    """Median wall time of ``fn`` in ms; ``before`` runs untimed ahead of each call."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="1024x768,4000x3000,8000x6000", help="W×H list")
    parser.add_argument("--cases", default="sam,large", help=f"from {','.join(CASES)}")
    args = parser.parse_args()

    compiled = postprocess.compiled_loops()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; C=3; median of "
        f"{args.repeat}; compiled loops: {'yes' if compiled else 'no (numpy only)'}"
    )
    print(
        f"{'case':>5} {'image':>11} {'reference':>10} {'masks':>8} {'first':>8} {'numpy':>8}"
        f" {'crop':>8} {'x masks':>8} {'mismatch':>8} {'crop box':>12} {'positive %':>13}"
    )
    for case, size in itertools.product(args.cases.split(","), args.sizes.split(",")):
        low = CASES[case]()
        w, h = (int(v) for v in size.lower().split("x"))
        input_size = input_size_for(h, w)
        original = (h, w)

        reference = partial(reference_masks, low, input_size, original)
        fast = partial(masks_from_low_res, low, input_size, original)
        crop_fn = partial(best_mask_crop, low[0, 1], input_size, original)

        def numpy_only(fast: Callable[[], object] = fast) -> object:
            with without_compiled_loops():
                return fast()

        masks = fast()  # the first calls also warm the caches
        mismatch = int((reference() != masks).sum()) + int((reference() != numpy_only()).sum())
        positive = "/".join(f"{100 * m.mean():.0f}" for m in masks[0])
        del masks
        crop, _ = crop_fn()
        t_ref = median_ms(reference, max(1, min(args.repeat, 3)))
        t_masks = median_ms(fast, args.repeat)
        # A fresh output (freeing the recycled ones is not part of the call).
        t_first = median_ms(fast, args.repeat, before=postprocess.release_buffers)
        t_numpy = median_ms(numpy_only, max(1, min(args.repeat, 5)))
        t_crop = median_ms(crop_fn, args.repeat)
        print(
            f"{case:>5} {size:>11} {t_ref:>8.1f}ms {t_masks:>6.1f}ms {t_first:>6.1f}ms"
            f" {t_numpy:>6.1f}ms {t_crop:>6.1f}ms {t_ref / t_masks:>7.1f}x {mismatch:>8d}"
            f" {crop.shape[1]:>5}x{crop.shape[0]:<6} {positive:>13}"
        )


class without_compiled_loops:
    """Context: masks_from_low_res runs its numpy loops."""

    def __enter__(self) -> None:
        self._saved = postprocess._accelerator
        postprocess._accelerator = lambda: None  # type: ignore[assignment]

    def __exit__(self, *exc: object) -> None:
        postprocess._accelerator = self._saved  # type: ignore[assignment]


if __name__ == "__main__":
    main()
