"""EncoderService scheduling: order, prefetch, cancellation, stale results, failures."""

from __future__ import annotations

import queue
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from samdesk.engine.embedding import EmbeddingReady, EncodeError, ServiceStatus
from samdesk.engine.service import EncoderService

WAIT = 10.0


class Recorder:
    """Collects the service's callbacks in queues (thread-safe, waitable)."""

    def __init__(self) -> None:
        self.ready: queue.Queue[EmbeddingReady] = queue.Queue()
        self.errors: queue.Queue[EncodeError] = queue.Queue()
        self.statuses: list[ServiceStatus] = []

    def kwargs(self) -> dict:
        return {
            "on_ready": self.ready.put,
            "on_error": self.errors.put,
            "on_status": self.statuses.append,
        }


@pytest.fixture
def backend(fake_backend_cls):
    return fake_backend_cls()


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def make_service(backend, rec: Recorder, tmp_path: Path) -> Iterator:
    made: list[EncoderService] = []

    def make(**kwargs) -> EncoderService:
        options = {"prefetch_count": 0, "read_image": backend.read_image, **rec.kwargs()}
        options.update(kwargs)
        service = EncoderService(options.pop("backend", backend), **options)
        made.append(service)
        return service

    yield make
    for service in made:
        assert service.close(timeout=WAIT)


def _drain(q: queue.Queue) -> list:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


def test_current_image_is_encoded_on_the_worker_and_delivered(make_service, backend, rec, images):
    service = make_service()
    ticket = service.set_current(images[0])
    assert ticket.embedding is None
    ready = rec.ready.get(timeout=WAIT)
    assert (ready.request_id, ready.image_key) == (ticket.request_id, str(images[0]))
    assert ready.embedding.features.shape == (1, 256, 64, 64)
    assert ready.embedding.features[0, 0, 0, 0] == pytest.approx(10.0)
    assert ready.embedding.original_size == (16, 24)
    assert ready.embedding.model_key == "fake-model-1"
    assert not ready.embedding.features.flags.writeable
    assert backend.loaded_on == "samdesk-encoder"
    assert service.wait_idle(WAIT)
    states = [s.state for s in rec.statuses]
    assert states[:3] == ["loading_model", "idle", "encoding"] or states[:2] == [
        "loading_model",
        "encoding",
    ]
    assert states[-1] == "idle"


def test_prefetch_follows_the_users_order(make_service, backend, rec, images):
    service = make_service(prefetch_count=2)
    service.set_images(images)
    service.set_current(images[1])
    assert rec.ready.get(timeout=WAIT).image_key == str(images[1])
    assert service.wait_idle(WAIT)
    assert backend.encoded == ["b.png", "c.png", "d.png"]
    assert {s.state for s in rec.statuses} >= {"encoding", "prefetching"}
    prefetching = [s for s in rec.statuses if s.state == "prefetching"]
    assert [(s.image_key, s.pending) for s in prefetching] == [
        (str(images[2]), 1),
        (str(images[3]), 0),
    ]
    # Moving on: the prefetched image is ready at once, from the Ticket, and the next
    # image beyond the old window is prefetched.
    ticket = service.set_current(images[2])
    assert ticket.embedding is not None and ticket.embedding.image_key == str(images[2])
    assert service.wait_idle(WAIT)
    assert backend.encoded == ["b.png", "c.png", "d.png", "e.png"]
    assert rec.ready.empty()  # a Ticket hit is not announced a second time


def test_jump_cancels_pending_work_and_stale_result_goes_to_cache(
    make_service, backend, rec, images
):
    backend.gates["a.png"] = gate = threading.Event()
    service = make_service(prefetch_count=3)
    service.set_images(images)
    first = service.set_current(images[0])
    assert backend.started.get(timeout=WAIT) == "a.png"
    # The user jumps ahead while a's forward pass runs (it cannot be interrupted).
    second = service.set_current(images[4])
    assert second.request_id > first.request_id
    assert not service.is_current(first.request_id)
    gate.set()
    ready = rec.ready.get(timeout=WAIT)
    assert (ready.image_key, ready.request_id) == (str(images[4]), second.request_id)
    assert service.wait_idle(WAIT)
    # b, c, d were a's prefetch: never started. a finished and went to the cache only.
    assert backend.encoded == ["a.png", "e.png", "f.png"]
    assert rec.ready.empty()
    assert service.embedding(images[0]) is not None
    back = service.set_current(images[0])
    assert back.embedding is not None and back.embedding.features[0, 0, 0, 0] == 10.0


def test_returning_to_the_image_in_progress_delivers_it_as_current(
    make_service, backend, rec, images
):
    backend.gates["a.png"] = gate = threading.Event()
    service = make_service()
    service.set_images(images)
    service.set_current(images[0])
    assert backend.started.get(timeout=WAIT) == "a.png"
    service.set_current(images[1])
    again = service.set_current(images[0])  # back before a finished
    gate.set()
    ready = rec.ready.get(timeout=WAIT)
    assert (ready.image_key, ready.request_id) == (str(images[0]), again.request_id)
    assert service.wait_idle(WAIT)
    assert backend.encoded == ["a.png"]  # b was left before it started


def test_cancel_flag_checked_between_read_and_encode(make_service, backend, rec, images):
    # Prefetch of b is still reading its file when the user moves to an uncached image:
    # the current image comes first, so b is dropped before its encode starts.
    backend.read_gates["b.png"] = read_gate = threading.Event()
    service = make_service(prefetch_count=1)
    service.set_images(images)
    service.set_current(images[0])
    assert rec.ready.get(timeout=WAIT).image_key == str(images[0])
    assert backend.read_started.get(timeout=WAIT) == "a.png"
    assert backend.read_started.get(timeout=WAIT) == "b.png"
    service.set_current(images[3])
    read_gate.set()
    assert rec.ready.get(timeout=WAIT).image_key == str(images[3])
    assert service.wait_idle(WAIT)
    assert backend.encoded == ["a.png", "d.png", "e.png"]


def test_prefetch_stops_at_the_memory_limit(make_service, backend, rec, images):
    per_item = 4 * 256 * 64 * 64
    service = make_service(prefetch_count=5, memory_limit_bytes=3 * per_item)
    service.set_images(images)
    service.set_current(images[0])
    assert service.wait_idle(WAIT)
    assert backend.encoded == ["a.png", "b.png", "c.png"]  # current + 2 fit in 3 items
    assert service.memory.nbytes <= 3 * per_item


def test_bad_image_is_reported_and_service_keeps_serving(make_service, backend, rec, images):
    broken = images[0].with_name("broken.png")
    broken.write_bytes(b"this is not an image")
    missing = images[0].with_name("missing.png")
    service = make_service()
    for path in (broken, missing):
        ticket = service.set_current(path)
        error = rec.errors.get(timeout=WAIT)
        assert (error.image_key, error.request_id, error.fatal) == (
            str(path),
            ticket.request_id,
            True,
        )
        assert path.name in error.message
    backend.errors["c.png"] = RuntimeError("kaboom")
    service.set_current(images[2])
    error = rec.errors.get(timeout=WAIT)
    assert "kaboom" in error.message and error.image_key == str(images[2])
    service.set_current(images[1])
    assert rec.ready.get(timeout=WAIT).image_key == str(images[1])
    assert service.wait_idle(WAIT)
    # A failed image is not retried in a loop, only when the user comes back to it.
    del backend.errors["c.png"]
    service.set_current(images[2])
    assert rec.ready.get(timeout=WAIT).image_key == str(images[2])


def test_out_of_memory_falls_back_to_cpu_and_says_so(make_service, backend, rec, images):
    backend.oom.add("a.png")
    service = make_service()
    service.set_current(images[0])
    ready = rec.ready.get(timeout=WAIT)
    assert ready.image_key == str(images[0])
    notice = rec.errors.get(timeout=WAIT)
    assert not notice.fatal and "CPU" in notice.message and notice.image_key == str(images[0])
    assert backend.device == "cpu"
    assert any("CPU" in s.message for s in rec.statuses)


def test_model_load_failure_is_an_error_event_not_a_crash(
    make_service, rec, images, fake_backend_cls
):
    bad = fake_backend_cls(load_error=ValueError("checkpoint.pt is not a SAM checkpoint"))
    service = make_service(backend=bad, prefetch_count=2)
    error = rec.errors.get(timeout=WAIT)
    assert error.image_key is None and "not a SAM checkpoint" in error.message
    service.set_images(images)
    service.set_current(images[0])
    per_image = rec.errors.get(timeout=WAIT)
    assert per_image.image_key == str(images[0]) and "not a SAM checkpoint" in per_image.message
    assert service.wait_idle(WAIT)
    assert rec.errors.empty()  # no prefetch attempts without a model
    with pytest.raises(RuntimeError, match="not a SAM checkpoint"):
        service.new_decoder(timeout=WAIT)


def test_callback_exceptions_do_not_kill_the_worker(make_service, backend, images):
    calls = queue.Queue()

    def on_ready(ready: EmbeddingReady) -> None:
        calls.put(ready.image_key)
        raise RuntimeError("receiver bug")

    service = make_service(on_ready=on_ready)
    service.set_current(images[0])
    assert calls.get(timeout=WAIT) == str(images[0])
    service.set_current(images[1])
    assert calls.get(timeout=WAIT) == str(images[1])


def test_close_with_work_pending_joins_and_leaves_no_thread(backend, rec, images):
    backend.gates["a.png"] = gate = threading.Event()
    service = EncoderService(
        backend, prefetch_count=3, read_image=backend.read_image, **rec.kwargs()
    )
    service.set_images(images)
    service.set_current(images[0])
    assert backend.started.get(timeout=WAIT) == "a.png"
    closed = threading.Event()
    closer = threading.Thread(target=lambda: service.close() and closed.set())
    closer.start()
    gate.set()  # the forward pass in progress ends; nothing after it may start
    closer.join(WAIT)
    assert closed.is_set()
    assert backend.encoded == ["a.png"] and backend.closed
    assert rec.ready.empty()  # closing: a's result is not announced
    assert not [t for t in threading.enumerate() if t.name.startswith("samdesk-")]
    assert service.close(timeout=WAIT)  # twice is fine


def test_idle_service_uses_no_cpu(make_service, images):
    service = make_service(prefetch_count=2)
    service.set_images(images[:2])
    service.set_current(images[0])
    assert service.wait_idle(WAIT)
    before = time.process_time()
    threading.Event().wait(0.5)  # measurement window, not a synchronisation
    used = time.process_time() - before
    print(f"CPU time while idle for 0.5 s: {used * 1000:.2f} ms")
    assert used < 0.05


# -- disk cache through the service -------------------------------------------------------


def test_renamed_image_hits_the_disk_cache(
    make_service, backend, rec, images, tmp_path, fake_backend_cls
):
    cache = tmp_path / "cache"
    service = make_service(cache_dir=cache)
    service.set_current(images[0])
    first = rec.ready.get(timeout=WAIT).embedding
    assert first.source == "encoded"
    renamed = images[0].with_name("renamed.png")
    shutil.copy(images[0], renamed)
    fresh = fake_backend_cls()
    service2 = make_service(backend=fresh, cache_dir=cache, read_image=fresh.read_image)
    service2.set_current(renamed)
    hit = rec.ready.get(timeout=WAIT).embedding
    assert fresh.encoded == []
    assert hit.source == "disk" and hit.image_key == str(renamed)
    np.testing.assert_allclose(hit.features, first.features, rtol=1e-3)
    assert hit.original_size == first.original_size and hit.input_size == first.input_size


def test_changed_model_is_a_cache_miss(
    make_service, backend, rec, images, tmp_path, fake_backend_cls
):
    cache = tmp_path / "cache"
    make_service(cache_dir=cache).set_current(images[0])
    rec.ready.get(timeout=WAIT)
    other = fake_backend_cls(key="fake-model-2")
    make_service(backend=other, cache_dir=cache, read_image=other.read_image).set_current(images[0])
    ready = rec.ready.get(timeout=WAIT)
    assert other.encoded == ["a.png"] and ready.embedding.model_key == "fake-model-2"
    assert len(list(cache.glob("*.emb"))) == 2


def test_corrupt_cache_entry_is_recomputed(
    make_service, backend, rec, images, tmp_path, fake_backend_cls
):
    cache = tmp_path / "cache"
    make_service(cache_dir=cache).set_current(images[0])
    rec.ready.get(timeout=WAIT)
    (entry,) = cache.glob("*.emb")
    entry.write_bytes(entry.read_bytes()[:1000])  # truncated
    again = fake_backend_cls()
    service = make_service(backend=again, cache_dir=cache, read_image=again.read_image)
    service.set_current(images[0])
    assert rec.ready.get(timeout=WAIT).embedding.source == "encoded"
    assert again.encoded == ["a.png"]
    assert entry.stat().st_size > 2 * 256 * 64 * 64  # rewritten whole
    assert rec.errors.empty()


# -- prefetching yields to the decoder ----------------------------------------------------


class _Clock:
    """A hand-stepped ``time.monotonic`` for the prefetch hold window."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _wait_status(statuses: queue.Queue, state: str) -> ServiceStatus:
    while True:
        status = statuses.get(timeout=WAIT)
        if status.state == state:
            return status


def test_prefetch_is_held_while_the_decoder_is_busy(make_service, backend, rec, images):
    statuses: queue.Queue[ServiceStatus] = queue.Queue()
    service = make_service(prefetch_count=1, prefetch_hold_s=0.0, on_status=statuses.put)
    service.set_images(images)
    service.decoder_busy(True)
    service.set_current(images[0])  # the image on screen is never held
    assert rec.ready.get(timeout=WAIT).image_key == str(images[0])
    _wait_status(statuses, "holding")
    assert backend.encoded == ["a.png"] and not service.wait_idle(0)
    service.decoder_busy(False)
    assert service.wait_idle(WAIT)
    assert backend.encoded == ["a.png", "b.png"]


def test_prefetch_waits_until_the_decoder_has_been_idle_for_the_hold(
    make_service, backend, rec, images
):
    clock = _Clock()
    statuses: queue.Queue[ServiceStatus] = queue.Queue()
    service = make_service(
        prefetch_count=1, prefetch_hold_s=5.0, clock=clock, on_status=statuses.put
    )
    service.set_images(images)
    service.decoder_busy(True)
    service.decoder_busy(False)  # a decode just ended at t = 100
    service.set_current(images[0])
    assert rec.ready.get(timeout=WAIT).image_key == str(images[0])
    _wait_status(statuses, "holding")
    clock.now = 104.0  # still inside the hold: a re-plan keeps holding
    service.set_images(images)
    assert backend.encoded == ["a.png"] and not service.wait_idle(0)
    clock.now = 105.5
    service.set_images(images)  # wakes the worker, which finds the hold over
    assert service.wait_idle(WAIT)
    assert backend.encoded == ["a.png", "b.png"]


def test_prefetch_before_its_forward_pass_yields_to_a_new_decode(
    make_service, backend, rec, images
):
    backend.read_gates["b.png"] = gate = threading.Event()
    statuses: queue.Queue[ServiceStatus] = queue.Queue()
    service = make_service(prefetch_count=1, prefetch_hold_s=0.0, on_status=statuses.put)
    service.set_images(images)
    service.set_current(images[0])
    assert rec.ready.get(timeout=WAIT).image_key == str(images[0])
    assert backend.read_started.get(timeout=WAIT) == "a.png"
    assert backend.read_started.get(timeout=WAIT) == "b.png"  # prefetch reading
    service.decoder_busy(True)  # the user clicks
    gate.set()  # the read ends; the cancel check before the encode sees the decoder busy
    _wait_status(statuses, "holding")
    assert backend.encoded == ["a.png"]
    service.decoder_busy(False)
    assert service.wait_idle(WAIT)
    assert backend.encoded == ["a.png", "b.png"]
