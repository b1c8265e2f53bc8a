"""Cost of keying the embedding cache by content: hashing a 48 MP JPEG's bytes.

    python benchmarks/bench_content_hash.py [--megapixels 48] [--repeats 5]

Writes a synthetic 8000×6000 JPEG (smooth gradients plus noise, quality 92: a file size
like a camera's), then prints the median time of ``samdesk.engine.fingerprint.content_hash``
(blake2b-128 over the file, page cache warm) next to the time ``read_image`` takes to
decode the same file — the work the hash is added to whenever the image is encoded.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from samdesk.core.images import read_image  # noqa: E402
from samdesk.engine.fingerprint import content_hash  # noqa: E402


def _synthetic_jpeg(path: Path, megapixels: float) -> None:
    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = round(width * 3 / 4)
    rng = np.random.default_rng(0)
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.empty((height, width, 3), np.uint8)
    for c, base in enumerate((x + 0 * y, 0 * x + y, (x + y) / 2)):
        rgb[..., c] = np.clip(base + rng.normal(0, 12, (height, width)), 0, 255)
    Image.fromarray(rgb).save(path, quality=92)


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=48.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        _synthetic_jpeg(path, args.megapixels)
        size = path.stat().st_size
        content_hash(path)  # warm the page cache, as for an image the user is looking at
        hashing = _median(lambda: content_hash(path), args.repeats)
        decoding = _median(lambda: read_image(path, allow_large=True), max(1, args.repeats // 2))
    print(f"file: {args.megapixels:g} MP JPEG, {size / 1e6:.1f} MB")
    print(f"content_hash (blake2b-128): {hashing * 1e3:.1f} ms ({size / hashing / 1e9:.2f} GB/s)")
    print(f"read_image (decode):        {decoding * 1e3:.0f} ms")
    print(f"hash / decode:              {100 * hashing / decoding:.1f} %")


if __name__ == "__main__":
    main()
