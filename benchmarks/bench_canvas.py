"""Canvas latency: from a mouse event to the updated mask painted on screen.

Drives the real MainWindow (offscreen Qt) on a random-weight checkpoint (TinyViT by
default: the mask decoder is the same for every SAM size, so decode latency is too). For
each sample a mouse event is posted to the canvas viewport and the clock stops in the
overlay item's ``paint()`` that shows the new mask, so the figure includes event delivery,
the prompt, the decode on the session thread, the hand-over to the GUI thread, the QImage
of the mask crop and the viewport repaint.

    python benchmarks/bench_canvas.py [--samples 40] [--arch tiny_vit] [--sizes 1024x768,4000x3000]

Prints median / p90 (ms) for the live preview (mouse move) and for a first click, split
into the decoder's own time and the GUI side, and the repaint cost on an 8000×6000 photo.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PIL import Image

_LOOP = None
_TICK = None


def _wait(app, condition, timeout: float = 60.0) -> bool:
    """Run the event loop until ``condition()``, blocked in the loop like ``exec()``.

    Uses ``QEventLoop.processEvents`` on a loop object: in PySide6 6.12 the static
    ``QCoreApplication.processEvents`` (and ``QTest.qWait``) drop a reference to None on
    every call, and a busy wait of some 10^5 calls crashes CPython 3.11.

    ``WaitForMoreEvents`` sleeps (GIL released) until an event arrives, as the app's
    ``exec()`` does. A spinning wait (``processEvents(AllEvents, 2)`` in a loop) keeps the
    GUI thread in Python and takes the GIL from the decode thread between its torch ops:
    it added 40-100 ms to every decode it was measuring. A coarse timer bounds the wait
    when no event comes.
    """
    global _LOOP, _TICK
    from PySide6.QtCore import QEventLoop, QTimer

    if _LOOP is None:
        _LOOP = QEventLoop()
        _TICK = QTimer()
        _TICK.setInterval(50)
    end = time.perf_counter() + timeout
    _TICK.start()
    try:
        while not condition():
            if time.perf_counter() > end:
                return False
            _LOOP.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    finally:
        _TICK.stop()
    return True


def _image(path: Path, width: int, height: int) -> None:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    rgb = np.kron(small, np.ones((16, 16, 1), dtype=np.uint8))[:height, :width]
    Image.fromarray(rgb).save(path)


def _stats(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):6.1f} ms   p90 {p90:6.1f} ms   (n={len(values)})"


def run(size: tuple[int, int], checkpoint: Path, samples: int, folder: Path) -> None:
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    from samdesk.io.project import ProjectStore
    from samdesk.ui.app import ensure_app
    from samdesk.ui.main_window import MainWindow

    app = ensure_app()
    width, height = size
    project = folder / f"p{width}x{height}"
    project.mkdir()
    _image(project / "image.png", width, height)
    ProjectStore.create(project, "bench")
    window = MainWindow(checkpoint=str(checkpoint))
    window.resize(1400, 900)
    window.show()
    window.open_path(project)
    started = time.perf_counter()
    if not _wait(app, window.engine.is_ready, 300):
        print("  the embedding never became ready")
        window.close()
        return
    encode_s = time.perf_counter() - started
    canvas, annotator = window.canvas, window.annotator
    viewport = canvas.viewport()
    rng = np.random.default_rng(1)

    def positions():
        while True:
            x, y = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
            yield canvas.mapFromScene(QPointF(x, y))

    where = positions()
    hover, clicks, missed = [], [], 0
    decode_ms: list[float] = []  # the decoder's own time (session thread), for the breakdown
    delivered: list[float] = [0.0]  # when the GUI thread got the last result
    ui_ms: list[float] = []  # result delivered on the GUI thread → mask painted

    def on_decoded(result) -> None:
        decode_ms.append(result.seconds * 1000)
        delivered[0] = time.perf_counter()

    window.engine.decoded.connect(on_decoded)
    for _ in range(samples):
        before = canvas.hover_item.paint_count
        t0 = time.perf_counter()
        QTest.mouseMove(viewport, next(where))
        if _wait(app, lambda b=before: canvas.hover_item.paint_count > b, 30):
            hover.append((time.perf_counter() - t0) * 1000)
        else:
            missed += 1
    for _ in range(samples):
        annotator.discard()
        annotator.hover_end()
        _wait(app, lambda: annotator._pending is None, 30)  # no preview in flight
        before = canvas.draft_item.paint_count
        pos = next(where)
        t0 = time.perf_counter()
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        if _wait(app, lambda b=before: canvas.draft_item.paint_count > b, 30):
            end = time.perf_counter()
            clicks.append((end - t0) * 1000)
            ui_ms.append((end - delivered[0]) * 1000)
        else:
            missed += 1
    brush = _brush_moves(app, window, samples)
    print(f"{width}x{height}  (embedding ready after {encode_s:.1f} s, {missed} empty masks)")
    print(f"  live preview (move → painted): {_stats(hover)}")
    print(f"  first click  (press → painted): {_stats(clicks)}")
    print(f"  decoder alone (session thread):  {_stats(decode_ms)}")
    print(f"  result on GUI thread → painted:  {_stats(ui_ms)}")
    print(f"  brush dab on that mask (move → painted): {_stats(brush)}")
    window.close()


def _brush_moves(app, window, samples: int) -> list[float]:
    """Brush strokes over the last click's mask (move with the button down → painted)."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    canvas, annotator = window.canvas, window.annotator
    window.tool_actions["Brush"].trigger()
    viewport = canvas.viewport()
    start = viewport.rect().center()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    values = []
    for i in range(samples):
        before = canvas.draft_item.paint_count
        t0 = time.perf_counter()
        QTest.mouseMove(viewport, start + QPoint(3 * (i + 1), 2 * (i + 1)))
        if _wait(app, lambda b=before: canvas.draft_item.paint_count > b, 10):
            values.append((time.perf_counter() - t0) * 1000)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    annotator.discard()
    return values


def paint_figures(size: tuple[int, int] = (8000, 6000), repeats: int = 10) -> None:
    """Repaint cost of the canvas on a big photo: whole viewport at fit / 1:2 / 1:1, and
    one pan step (scroll 40 px, repaint). The viewport is rendered with ``grab()``."""
    from samdesk.ui.app import ensure_app
    from samdesk.ui.canvas import CanvasView
    from samdesk.ui.qt_convert import rgb_to_qimage

    ensure_app()
    width, height = size
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (height // 16, width // 16, 3), dtype=np.uint8)
    canvas = CanvasView()
    canvas.resize(1200, 800)
    canvas.show()
    canvas.set_image(rgb_to_qimage(np.kron(small, np.ones((16, 16, 1), dtype=np.uint8))))

    def timed(step=None) -> str:
        values = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            if step is not None:
                step()
            canvas.viewport().grab()
            values.append((time.perf_counter() - t0) * 1000)
        return _stats(values)

    bar = canvas.horizontalScrollBar()
    print(f"{width}x{height} repaint of a 1200x800 viewport")
    print(f"  fit ({canvas.scale_factor():.2f}):          {timed()}")
    canvas.zoom_by(0.5 / canvas.scale_factor())
    print(f"  1:2:                  {timed()}")
    canvas.zoom_to_actual_size()
    print(f"  1:1:                  {timed()}")
    print(f"  1:1 pan step (40 px): {timed(lambda: bar.setValue(bar.value() + 40))}")
    canvas.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--arch", default="tiny_vit", choices=("tiny_vit", "vit"))
    parser.add_argument("--sizes", default="1024x768,4000x3000")
    args = parser.parse_args()
    import torch

    from samdesk.sam.testing import make_checkpoint

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, arch {args.arch}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(folder / "cache")  # no user cache touched
        os.environ["XDG_CONFIG_HOME"] = str(folder / "config")
        checkpoint = make_checkpoint(folder / "bench.pt", arch=args.arch)
        for text in args.sizes.split(","):
            w, h = (int(v) for v in text.lower().split("x"))
            run((w, h), checkpoint, args.samples, folder)
        paint_figures()


if __name__ == "__main__":
    main()
