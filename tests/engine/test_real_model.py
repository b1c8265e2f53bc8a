"""The engine on a real (small, random-weight) SAM model from ``samdesk.sam.testing``."""

from __future__ import annotations

import argparse
import io
import queue
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

testing = pytest.importorskip("samdesk.sam.testing")

from samdesk.engine.backend import SamBackend  # noqa: E402
from samdesk.engine.cli import add_encode_arguments, run_encode  # noqa: E402
from samdesk.engine.decode import DecodeSession, Prompt  # noqa: E402
from samdesk.engine.service import EncoderService  # noqa: E402

WAIT = 120.0


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(testing.make_checkpoint(tmp_path_factory.mktemp("ckpt") / "small.pt"))


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(1)
    paths = []
    for i, (w, h) in enumerate(((64, 48), (40, 60))):
        rgb = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        rgb[h // 4 : h // 2, w // 4 : w // 2] = 255  # something to click on
        paths.append(folder / f"p{i}.png")
        Image.fromarray(rgb).save(paths[-1])
    return paths


def test_encode_decode_and_disk_round_trip(checkpoint: Path, photos: list[Path], tmp_path):
    ready: queue.Queue = queue.Queue()
    errors: queue.Queue = queue.Queue()
    cache = tmp_path / "cache"

    def service() -> EncoderService:
        return EncoderService(
            SamBackend(checkpoint, "cpu"),
            cache_dir=cache,
            prefetch_count=0,
            on_ready=ready.put,
            on_error=errors.put,
        )

    first = service()
    try:
        first.set_current(photos[0])
        fresh = ready.get(timeout=WAIT).embedding
        assert fresh.source == "encoded" and fresh.original_size == (48, 64)
        assert fresh.input_size == (768, 1024)
        assert fresh.model_key.startswith("ckpt-")
        session = DecodeSession(first.new_decoder)
        session.set_embedding(fresh)
        click = Prompt(points=[[24.0, 18.0]], labels=[1])
        best32 = session.submit(click).result(WAIT).best
        every = session.submit(Prompt(box=[10, 10, 40, 30], output="all")).result(WAIT)
        assert every.masks.shape == (3, 48, 64) and every.scores.shape == (3,)
        session.close()
    finally:
        assert first.close(timeout=WAIT)

    second = service()
    try:
        second.set_current(photos[0])
        cached = ready.get(timeout=WAIT).embedding
        assert cached.source == "disk"
        # fp16 on disk: exactly the fp32 features rounded to fp16, nothing else.
        expected = fresh.features.astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(cached.features, expected)
        session = DecodeSession(second.new_decoder)
        session.set_embedding(cached)
        best16 = session.submit(click).result(WAIT).best
        session.close()
    finally:
        assert second.close(timeout=WAIT)
    # fp16 is the only difference: the same candidate wins, logits move by rounding. (With
    # random weights the decoder amplifies that rounding far more than real checkpoints
    # do — ~16% mean relative change of the logits here — so no tighter claim is made.)
    l32, l16 = best32.low_res_logits, best16.low_res_logits
    print(f"fp16 vs fp32: logits mean rel diff {np.abs(l16 - l32).mean() / np.abs(l32).mean():.2e}")
    assert best16.index == best32.index
    assert errors.empty()


def test_encode_cli_on_two_images_is_resumable(checkpoint: Path, photos: list[Path]):
    parser = argparse.ArgumentParser()
    add_encode_arguments(parser)
    folder = photos[0].parent
    args = parser.parse_args([str(folder), "--checkpoint", str(checkpoint), "--device", "cpu"])
    out = io.StringIO()
    assert run_encode(args, stream=out) == 0
    assert "2 encoded, 0 already cached" in out.getvalue()
    out = io.StringIO()
    assert run_encode(args, stream=out) == 0
    assert "0 encoded, 2 already cached" in out.getvalue()
    assert len(list((folder / ".samdesk" / "embeddings").glob("*.emb"))) == 2


def test_bad_checkpoint_is_an_error_event(tmp_path: Path, photos: list[Path]):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"definitely not a checkpoint")
    errors: queue.Queue = queue.Queue()
    service = EncoderService(SamBackend(bad, "cpu"), on_error=errors.put)
    try:
        error = errors.get(timeout=WAIT)
        assert error.image_key is None and error.message.startswith("Cannot load the model")
        service.set_current(photos[0])
        assert errors.get(timeout=WAIT).image_key == str(photos[0])
    finally:
        assert service.close(timeout=WAIT)
