"""Peak memory of opening a very large image in the window and encoding it.

    python benchmarks/bench_large_image_memory.py [--megapixels 25 50] [--json]

For each size, a synthetic JPEG is put in a new project; a fresh interpreter opens it in
the real window (offscreen), answers "Open anyway", and waits until the encoder's
embedding is ready. Printed: its peak resident set (``VmHWM``, reset through
``/proc/self/clear_refs`` once the window is shown and the model loaded) above the
resident set it had then — the loader's decode, the QImage, the
canvas pixmap, the RGB array the controller keeps, the encoder's second decode and resize.

The model's own memory does not depend on the image size and is not included. Prints the
peak per size, the bytes per pixel, and the linear fit ``a × pixels + b`` that
``samdesk.core.images.open_memory_estimate`` uses.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import gc, os, sys, time
from PySide6.QtWidgets import QApplication
from PIL import Image
from samdesk.ui.main_window import MainWindow

# Sizes measured here are below Pillow's 89 MP limit; lower it so that they go through
# the "Open anyway" path exactly as a 100 MP image does.
Image.MAX_IMAGE_PIXELS = 1_000_000

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

app = QApplication([])
project, checkpoint = sys.argv[1], sys.argv[2]
window = MainWindow(checkpoint=checkpoint)
asked = []
window.controller.ask_large = lambda path, w, h: asked.append(w * h) or True
window.show()
service = window.engine._service
while not service.wait_model(0.05):
    app.processEvents()
for _ in range(20):
    app.processEvents()
gc.collect()
# Reset the peak resident set (VmHWM) to the current one: start-up transients (imports,
# the model load) must not hide the image's peak.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = status("VmRSS")
base_peak = status("VmHWM")
window.open_path(project)
deadline = time.monotonic() + 600
while not window.engine.is_ready() and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.01)
assert window.engine.is_ready(), "the image was never encoded"
peak = status("VmHWM")
click_peak = -1
if len(sys.argv) > 3 and sys.argv[3] == "click":
    # One click in the middle: the decoder's masks come back at full resolution.
    import numpy as np
    from samdesk.engine import Prompt

    decoded = []
    window.engine.decoded.connect(decoded.append)
    h, w = window.controller.current_rgb.shape[:2]
    assert window.engine.submit(Prompt(points=np.array([[w / 2, h / 2]]), labels=np.array([1])))
    while not decoded and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    assert decoded, "the click was never answered"
    click_peak = status("VmHWM") - base
print(base, peak - base, asked[0], int(peak > base_peak), base_peak, click_peak)
window.close()
"""


def write_jpeg(path: Path, megapixels: float) -> tuple[int, int]:
    """A smooth synthetic JPEG of about ``megapixels`` (4:3); returns (width, height)."""
    import numpy as np
    from PIL import Image

    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = round(megapixels * 1e6 / width)
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[..., 0] = x
    rgb[..., 1] = y
    rgb[..., 2] = (x + y) / 2
    Image.fromarray(rgb).save(path, quality=90)
    return width, height


def measure_peak(megapixels: float, folder: Path, click: bool = False) -> tuple[int, int]:
    """(peak bytes above the window's baseline, pixels): open + encode a fresh JPEG.

    The window runs in a fresh interpreter with its settings and caches in ``folder``,
    on the small random-weight ViT of ``samdesk.sam.testing`` (its memory is part of
    the baseline). ``click``: also decode one click and print that peak (stderr).
    """
    from samdesk.io.project import ProjectStore
    from samdesk.sam.testing import make_checkpoint

    project = folder / "project"
    project.mkdir()
    write_jpeg(project / "large.jpg", megapixels)
    ProjectStore.create(project, "large")
    checkpoint = make_checkpoint(folder / "small.pt", "vit")
    home = folder / "home"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        # A private, empty embedding cache: a cached embedding would skip the encoder.
        "SAMDESK_CACHE_DIR": str(home / "cache"),
        "SAMDESK_DATA_DIR": str(home / "data"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(project), str(checkpoint)]
        + (["click"] if click else []),
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"measurement failed: {proc.stderr[-2000:]}")
    base, peak, pixels, rose, base_peak, click_peak = (int(v) for v in proc.stdout.split()[-6:])
    print(
        f"  ({pixels / 1e6:.1f} MP: window with model {base / 2**30:.2f} GiB resident before, "
        f"{(base + peak) / 2**30:.2f} GiB at the peak)",
        file=sys.stderr,
    )
    if click:
        print(
            f"  ({pixels / 1e6:.1f} MP: after one click, peak rise {click_peak / 2**30:.2f} GiB, "
            f"{click_peak / pixels:.1f} B/pixel)",
            file=sys.stderr,
        )
    if not rose:
        raise RuntimeError(
            f"the peak ({(base + peak) / 2**30:.2f} GiB) was set before the image was opened "
            f"({base_peak / 2**30:.2f} GiB); use a larger image"
        )
    return peak, pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[25.0, 50.0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--click", action="store_true", help="also measure one decoded click")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, mp in enumerate(args.megapixels):
            folder = Path(tmp) / str(i)
            folder.mkdir()
            peak, pixels = measure_peak(mp, folder, args.click)
            rows.append((pixels, peak))
    if args.json:
        print(json.dumps([{"pixels": p, "peak_bytes": b} for p, b in rows]))
        return
    for pixels, peak in rows:
        print(f"{pixels / 1e6:6.1f} MP: peak {peak / 2**30:.2f} GiB, {peak / pixels:.1f} B/pixel")
    if len(rows) >= 2:
        (p0, b0), (p1, b1) = rows[0], rows[-1]
        a = (b1 - b0) / (p1 - p0)
        print(f"fit: {a:.1f} B/pixel × pixels + {(b0 - a * p0) / 2**20:.0f} MiB")
    from samdesk.core.images import open_memory_estimate

    for pixels, peak in rows:
        est = open_memory_estimate(pixels)
        print(
            f"estimate at {pixels / 1e6:.1f} MP: {est / 2**30:.2f} GiB ({100 * est / peak:.0f} %)"
        )


if __name__ == "__main__":
    main()
