"""Images above the pixel safety limit: the service reads them only when allowed.

Pillow's limit is lowered for these tests (``PIL.Image.MAX_IMAGE_PIXELS``), so the tiny
24×16 test images count as "too large" without writing a huge file.
"""

from __future__ import annotations

import queue
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samdesk.core.images import ImageTooLargeError
from samdesk.engine.backend import default_read_image
from samdesk.engine.embedding import EmbeddingReady, EncodeError
from samdesk.engine.service import EncoderService

WAIT = 10.0


@pytest.fixture
def small_limit(monkeypatch) -> int:
    """A pixel limit below the 24×16 = 384 pixels of the test images."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)
    return 200


def test_default_reader_refuses_then_reads_when_allowed(images, small_limit):
    with pytest.raises(ImageTooLargeError) as refused:
        default_read_image(images[0])
    assert (refused.value.width, refused.value.height) == (24, 16)
    rgb = default_read_image(images[0], allow_large=True)
    assert rgb.shape == (16, 24, 3) and rgb.dtype == np.uint8


def test_service_encodes_a_too_large_image_only_when_allowed(fake_backend_cls, images, small_limit):
    ready: queue.Queue[EmbeddingReady] = queue.Queue()
    errors: queue.Queue[EncodeError] = queue.Queue()
    service = EncoderService(
        fake_backend_cls(), prefetch_count=0, on_ready=ready.put, on_error=errors.put
    )
    try:
        service.set_current(images[0])
        error = errors.get(timeout=WAIT)
        assert error.image_key == str(images[0]) and error.fatal
        assert "safety limit" in error.message
        assert ready.empty()
        # The user said "Open anyway": the failure is forgotten and the image encoded.
        service.allow_large(images[0])
        got = ready.get(timeout=WAIT)
        assert got.image_key == str(images[0])
        assert got.embedding.original_size == (16, 24)
        # The permission is for that image only.
        service.set_current(images[1])
        assert errors.get(timeout=WAIT).image_key == str(images[1])
    finally:
        assert service.close(timeout=WAIT)


def test_service_cache_dir_can_change_while_running(fake_backend_cls, images, tmp_path: Path):
    ready: queue.Queue[EmbeddingReady] = queue.Queue()
    first, second = tmp_path / "first", tmp_path / "second"
    service = EncoderService(
        fake_backend_cls(),
        cache_dir=first,
        prefetch_count=0,
        on_ready=ready.put,
    )
    try:
        service.set_current(images[0])
        ready.get(timeout=WAIT)
        service.set_cache_dir(second)  # a project was opened: its own folder from now on
        assert service.cache_dir == second
        service.set_current(images[1])
        ready.get(timeout=WAIT)
        assert len(list(first.glob("*.emb"))) == 1
        assert len(list(second.glob("*.emb"))) == 1
        service.set_cache_dir(None)
        assert service.cache_dir is None
    finally:
        assert service.close(timeout=WAIT)
