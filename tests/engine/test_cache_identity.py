"""The embedding caches never serve another picture: replacements that keep the name,
the size and even the mtime (``cp -p``, ``rsync -t``, unzip) get a fresh embedding."""

from __future__ import annotations

import os
import queue
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samdesk.engine.embedding import EmbeddingReady
from samdesk.engine.service import EncoderService

WAIT = 10.0


def _bmp(path: Path, value: int) -> Path:
    # BMP: the file size depends only on the dimensions, so two pictures have equal sizes.
    Image.fromarray(np.full((16, 24, 3), value, np.uint8)).save(path, format="BMP")
    return path


def _replace_keeping_size_and_mtime(path: Path, value: int, tmp: Path) -> None:
    """What ``cp -p other.bmp path`` does: other bytes, same size, the old mtime."""
    st = path.stat()
    other = _bmp(tmp / f"other-{value}.bmp", value)
    assert other.stat().st_size == st.st_size
    shutil.copyfile(other, path)  # in place: same inode
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


@pytest.fixture
def service_factory(fake_backend_cls, tmp_path: Path) -> Iterator:
    made: list[EncoderService] = []

    def make(cache_dir: Path | None) -> tuple[EncoderService, queue.Queue, object]:
        backend = fake_backend_cls()
        ready: queue.Queue[EmbeddingReady] = queue.Queue()
        service = EncoderService(
            backend,
            cache_dir=cache_dir,
            prefetch_count=0,
            read_image=backend.read_image,
            on_ready=ready.put,
        )
        made.append(service)
        return service, ready, backend

    yield make
    for service in made:
        assert service.close(timeout=WAIT)


def _value(service: EncoderService, ready: queue.Queue, path: Path) -> float:
    ticket = service.set_current(path)
    if ticket.embedding is not None:
        return float(ticket.embedding.features.flat[0])
    got = ready.get(timeout=WAIT)
    assert got.image_key == str(path)
    return float(got.embedding.features.flat[0])


def test_image_replaced_while_running_is_encoded_again(tmp_path: Path, service_factory) -> None:
    image = _bmp(tmp_path / "photo.bmp", 40)
    other = _bmp(tmp_path / "next.bmp", 80)
    service, ready, backend = service_factory(None)
    assert _value(service, ready, image) == 40.0
    assert _value(service, ready, other) == 80.0
    _replace_keeping_size_and_mtime(image, 200, tmp_path)
    assert _value(service, ready, image) == 200.0  # not the 40 kept in memory
    assert backend.encoded == ["photo.bmp", "next.bmp", "photo.bmp"]
    # Unchanged files are still served from memory without any work.
    assert service.set_current(other).embedding is not None


def test_same_size_same_mtime_replacement_misses_the_disk_cache(
    tmp_path: Path, service_factory
) -> None:
    cache = tmp_path / "cache"
    image = _bmp(tmp_path / "photo.bmp", 40)
    first, ready, _ = service_factory(cache)
    assert _value(first, ready, image) == 40.0
    assert first.wait_idle(WAIT)
    _replace_keeping_size_and_mtime(image, 200, tmp_path)
    # A new window (same process: any digest memo would still be warm).
    second, ready2, backend2 = service_factory(cache)
    assert _value(second, ready2, image) == 200.0
    assert backend2.encoded == ["photo.bmp"]
    assert len(list(cache.glob("*.emb"))) == 2  # one entry per content


def test_copy_under_another_name_reuses_the_embedding(tmp_path: Path, service_factory) -> None:
    image = _bmp(tmp_path / "photo.bmp", 40)
    copy = tmp_path / "copy.bmp"
    shutil.copyfile(image, copy)
    service, ready, backend = service_factory(None)
    assert _value(service, ready, image) == 40.0
    assert _value(service, ready, copy) == 40.0
    assert backend.encoded == ["photo.bmp"]  # content-keyed: no second encode
