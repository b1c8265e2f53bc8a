"""The "Open anyway" question states the memory that opening the image really takes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from samdesk.core.images import open_memory_estimate
from samdesk.ui.project_controller import large_image_question

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_large_image_memory", ROOT / "benchmarks" / "bench_large_image_memory.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_question_names_the_measured_estimate() -> None:
    text, informative = large_image_question("/data/tile.tif", 10_000, 10_000)
    assert "10,000 × 10,000 pixels (100 megapixels)" in text
    # 100 MP: 1.87 GiB measured above the loaded window (benchmarks/README.md).
    assert "about 1.9 GiB of memory" in informative


def test_estimate_matches_the_measured_peak_of_the_real_window(tmp_path: Path) -> None:
    # A fresh interpreter opens a 25 MP JPEG in the real window (offscreen), answers
    # "Open anyway" and waits for the embedding; its peak resident-set rise is the measurement.
    peak, pixels = _bench().measure_peak(25.0, tmp_path)
    estimate = open_memory_estimate(pixels)
    assert 0.75 * peak <= estimate <= 1.25 * peak, (estimate, peak)
