"""The encoder meets a FIFO named like an image: an error for that image, at once (#12).

Reading it (the content hash that keys the disk cache, then the pixels) used to block the
encoder thread forever, so that nothing after it was encoded and quitting hung.
"""

from __future__ import annotations

import os
import queue
from pathlib import Path

import pytest

from samdesk.engine.embedding import EmbeddingReady, EncodeError
from samdesk.engine.fingerprint import content_hash
from samdesk.engine.service import EncoderService

WAIT = 10.0

pytestmark = [
    pytest.mark.timeout(60, method="signal"),
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system"),
]


def test_fifo_image_is_an_encode_error_and_the_next_image_encodes(
    fake_backend_cls, images: list[Path], tmp_path: Path
) -> None:
    fifo = images[0].with_name("pipe.png")
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="FIFO"):
        content_hash(fifo)
    ready: queue.Queue[EmbeddingReady] = queue.Queue()
    errors: queue.Queue[EncodeError] = queue.Queue()
    service = EncoderService(
        fake_backend_cls(),
        cache_dir=tmp_path / "cache",  # keys by content hash: reads the file first
        prefetch_count=1,
        on_ready=ready.put,
        on_error=errors.put,
    )
    try:
        service.set_images([fifo, images[1]])
        service.set_current(fifo)
        error = errors.get(timeout=WAIT)
        assert error.image_key == str(fifo) and error.fatal
        assert "FIFO" in error.message
        service.set_current(images[1])
        assert ready.get(timeout=WAIT).image_key == str(images[1])
    finally:
        assert service.close(timeout=WAIT)


def test_fifo_named_like_a_cache_entry_is_a_miss_not_a_hang(tmp_path: Path) -> None:
    from samdesk.engine.cache import DiskCache

    cache = DiskCache(tmp_path / "cache")
    entry = cache.path_for("0" * 32, "ckpt-" + "1" * 32)
    entry.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(entry)
    assert cache.load("0" * 32, "ckpt-" + "1" * 32, "image.png") is None
    assert entry.exists()  # not ours to remove: a FIFO is no entry samdesk wrote
