"""Engine benchmark: disk-cache hit → ready for clicks, and waits in an annotation session.

    python benchmarks/bench_engine.py [--checkpoint PATH] [--device cpu] [--images 6]

Model: by default the TinyViT (MobileSAM configuration, random weights) parity
checkpoint in ../shared/parity/tinyvit_s2, so encode times are those of MobileSAM;
otherwise the small ViT written by ``samdesk.sam.testing.make_checkpoint``.

Prints:
1. disk-cache hit → embedding ready (the service's callback) and → first click answered
   (decoder fed with the embedding, one point decoded), per image, memory cache cold;
2. a simulated session: open the project, look at each image for D seconds (D longer
   than one encode), go to the next; per image, how long the user waited for the
   embedding, with prefetch (3) and without (0), from an empty cache each time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from samdesk.engine import (  # noqa: E402
    DecodeSession,
    EmbeddingReady,
    EncodeError,
    EncoderService,
    Prompt,
    SamBackend,
)

PARITY_TINYVIT = ROOT.parent / "shared" / "parity" / "tinyvit_s2" / "checkpoint.pt"


def _checkpoint(arg: str | None, tmp: Path) -> tuple[Path, str]:
    if arg:
        return Path(arg), f"given checkpoint {arg}"
    if PARITY_TINYVIT.is_file():
        return PARITY_TINYVIT, "TinyViT (MobileSAM configuration, random weights), parity fixture"
    from samdesk.sam.testing import make_checkpoint

    return make_checkpoint(tmp / "small_vit.pt"), "small random ViT (make_checkpoint)"


def _images(folder: Path, count: int) -> list[Path]:
    """``count`` distinct 1200×800 photos-like images (noise + gradients)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    yy, xx = np.mgrid[0:800, 0:1200]
    for i in range(count):
        base = ((xx * (i + 1) + yy * 3) % 256).astype(np.uint8)
        rgb = np.stack([base, np.roll(base, 40 * i, 1), base[::-1]], -1)
        rgb = np.clip(rgb + rng.integers(0, 30, rgb.shape), 0, 255).astype(np.uint8)
        path = folder / f"img_{i:02d}.jpg"
        Image.fromarray(rgb).save(path, quality=90)
        paths.append(path)
    return paths


class _Waiter:
    """Collects EmbeddingReady events; ``wait(request_id)`` blocks for that one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ready: dict[int, tuple[float, EmbeddingReady]] = {}
        self.errors: list[EncodeError] = []

    def on_ready(self, ready: EmbeddingReady) -> None:
        with self._cond:
            self._ready[ready.request_id] = (time.perf_counter(), ready)
            self._cond.notify_all()

    def on_error(self, error: EncodeError) -> None:
        self.errors.append(error)
        print(f"  error: {error.message}", file=sys.stderr)

    def wait(self, request_id: int, timeout: float = 300.0) -> tuple[float, EmbeddingReady]:
        with self._cond:
            if not self._cond.wait_for(lambda: request_id in self._ready, timeout):
                raise TimeoutError(f"request {request_id} never became ready")
            return self._ready[request_id]


def bench_disk_hit(ckpt: Path, device: str | None, images: list[Path], cache: Path) -> None:
    # Fill the disk cache.
    waiter = _Waiter()
    service = EncoderService(
        SamBackend(ckpt, device), cache_dir=cache, prefetch_count=0, on_ready=waiter.on_ready
    )
    for path in images:
        waiter.wait(service.set_current(path).request_id)
    service.close()

    waiter = _Waiter()
    service = EncoderService(
        SamBackend(ckpt, device), cache_dir=cache, prefetch_count=0, on_ready=waiter.on_ready
    )
    session = DecodeSession(service.new_decoder)
    service.wait_model()
    click = Prompt(points=[[400.0, 300.0]], labels=[1])
    # Warm-up: first decode pays one-off costs (allocations, kernel selection).
    warm = service.set_current(images[0])
    session.set_embedding(waiter.wait(warm.request_id)[1].embedding)
    session.submit(click).result(60)
    ready_ms, click_ms = [], []
    for path in images[1:]:
        t0 = time.perf_counter()
        ticket = service.set_current(path)
        t_ready, ready = waiter.wait(ticket.request_id)
        assert ready.embedding.source == "disk"
        session.set_embedding(ready.embedding)
        session.submit(click).result(60)
        t_click = time.perf_counter()
        ready_ms.append((t_ready - t0) * 1000)
        click_ms.append((t_click - t0) * 1000)
    session.close()
    service.close()
    print("disk-cache hit (memory cold), per image:")
    print(
        f"  set_current → embedding ready : median {statistics.median(ready_ms):6.1f} ms"
        f"  max {max(ready_ms):6.1f} ms"
    )
    print(
        f"  set_current → first click mask: median {statistics.median(click_ms):6.1f} ms"
        f"  max {max(click_ms):6.1f} ms"
    )


def bench_session(
    ckpt: Path, device: str | None, images: list[Path], tmp: Path, prefetch: int, dwell: float
) -> list[float]:
    """Seconds the user waited for each image's embedding."""
    waiter = _Waiter()
    service = EncoderService(
        SamBackend(ckpt, device),
        cache_dir=tmp / f"cache_p{prefetch}",
        prefetch_count=prefetch,
        on_ready=waiter.on_ready,
        on_error=waiter.on_error,
    )
    service.wait_model()  # "open project": the model loads once, before the first image
    service.set_images(images)
    waits = []
    for path in images:
        t0 = time.perf_counter()
        ticket = service.set_current(path)
        if ticket.embedding is None:
            t_ready, _ = waiter.wait(ticket.request_id)
        else:
            t_ready = time.perf_counter()
        waits.append(t_ready - t0)
        threading.Event().wait(dwell)  # the annotator clicks around for D seconds
    service.close()
    return waits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--dwell", type=float, help="seconds per image (default 1.5 × encode)")
    args = parser.parse_args()
    device = None if args.device == "auto" else args.device
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ckpt, model_name = _checkpoint(args.checkpoint, tmp)
        images = _images(tmp / "images", args.images)
        print(f"model: {model_name}; device: {args.device}; {len(images)} images 1200×800")

        # One encode's time, to choose a dwell longer than it.
        waiter = _Waiter()
        service = EncoderService(
            SamBackend(ckpt, device), prefetch_count=0, on_ready=waiter.on_ready
        )
        service.wait_model()
        encode_s = []
        for path in images[:2]:
            encode_s.append(waiter.wait(service.set_current(path).request_id)[1].seconds)
        service.close()
        encode = min(encode_s)
        print(f"encode (read + resize + encoder): {encode * 1000:.0f} ms per image")

        bench_disk_hit(ckpt, device, images, tmp / "disk_cache")

        dwell = args.dwell or max(0.2, 1.5 * encode)
        print(f"session: dwell {dwell:.2f} s per image, then next ({len(images)} images)")
        for prefetch in (0, 3):
            waits = bench_session(ckpt, device, images, tmp, prefetch, dwell)
            after = waits[1:]
            print(
                f"  prefetch {prefetch}: first image {waits[0] * 1000:7.0f} ms; after it "
                f"mean {statistics.mean(after) * 1000:7.1f} ms, max {max(after) * 1000:7.1f} ms"
                f"  (each: {', '.join(f'{w * 1000:.0f}' for w in waits)} ms)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
