"""The encoder service: one worker thread that owns the model and keeps ahead of the user.

Scheduling is a *plan*, not a queue: the wanted images are the current one followed by
the next ``prefetch_count`` in the user's order (fewer when the memory cache could not hold
them). Whenever the worker is free it takes the first wanted image that is neither in
memory nor failed, so

- the image on screen always comes first;
- moving to another image cancels pending work by construction (nothing is queued; the
  plan simply no longer names it), and the image in progress is abandoned at the next
  stage boundary (read → encode) when it left the plan or when it is a prefetch and the
  current image still needs the worker;
- a forward pass that has started runs to the end; its result goes to the cache and is
  announced only if its image is current *at that moment*;
- prefetching waits while the user is decoding (``decoder_busy``): it starts only once the
  decoder has been idle for ``prefetch_hold_s``, and a prefetch that has not reached its
  forward pass yet yields when the decoder gets busy again. On a 2-core CPU an encode
  running beside a decode made each click 20-60 % slower; the image on screen is never held.

This is napari's async slicer / Orange's concurrent mixin pattern with a custom
single-worker loop instead of ``ThreadPoolExecutor``: an executor queue cannot reorder or
drop submitted work, and re-planning on every change is simpler than cancelling futures.
The worker blocks on a condition variable when there is nothing to do (no polling).

Callbacks (``on_ready``, ``on_error``, ``on_status``) are called on the worker thread; the
UI's Qt bridge re-emits them as signals delivered on the GUI thread. They must not block.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from samdesk.engine.backend import Cancelled, Decoder, EncoderBackend, default_read_image
from samdesk.engine.cache import DEFAULT_DISK_LIMIT, DiskCache, MemoryCache
from samdesk.engine.embedding import (
    FEATURES_SHAPE,
    Embedding,
    EmbeddingReady,
    EncodeError,
    ServiceStatus,
)
from samdesk.engine.fingerprint import Signature, content_hash, file_signature
from samdesk.engine.pipeline import (
    ModelUnavailable,
    ReadImage,
    describe_error,
    produce_embedding,
)

log = logging.getLogger(__name__)

DEFAULT_MEMORY_LIMIT = 512 * 1024 * 1024
"""512 MiB: 128 fp32 embeddings."""
DEFAULT_PREFETCH = 3
DEFAULT_PREFETCH_HOLD = 1.0
"""Seconds the decoder must have been idle before a prefetch starts."""
_EMBEDDING_BYTES = 4 * math.prod(FEATURES_SHAPE)


@dataclass(frozen=True)
class Ticket:
    """What :meth:`EncoderService.set_current` returns.

    ``embedding`` is set when the memory cache already held the image: the caller can use
    it at once, and no :class:`EmbeddingReady` follows for this request. Otherwise the
    embedding (or an error) arrives through the callbacks with this ``request_id``.
    """

    request_id: int
    image_key: str
    embedding: Embedding | None


@dataclass(frozen=True)
class _Job:
    key: str
    request_id: int
    current: bool
    pending: int


class EncoderService:
    """Encodes the image on screen first, prefetches the next ones, caches everything.

    Args:
        backend: the model (see ``backend.py``); loaded on the worker thread.
        cache_dir: folder of the disk cache (e.g. ``<project>/.samdesk/embeddings`` or the
            user cache dir), None for memory only.
        cache_read_first: folders read (never written) before ``cache_dir`` — the
            project's cache filled by ``samdesk encode`` when ``cache_dir`` is the user's.
        memory_limit_bytes: bound of the in-memory LRU (4 MiB per embedding).
        disk_limit_bytes: bound of the disk cache folder (LRU pruning; None: unbounded).
        prefetch_count: how many images after the current one to encode ahead.
        prefetch_hold_s: a prefetch starts only once the decoder has been idle this long
            (see :meth:`decoder_busy`).
        on_ready: ``EmbeddingReady`` for the image current when its encode finished.
        on_error: ``EncodeError`` for a failed image, a failed model load, or a notice.
        on_status: ``ServiceStatus`` on every change of what the worker is doing.
        read_image: path → HxWx3 uint8 RGB upright (default: ``samdesk.core.images``).
            For images allowed with :meth:`allow_large` it is called with
            ``allow_large=True``, so a custom reader used with that must accept the keyword.

    Image keys are file paths as strings (``set_images``/``set_current`` accept paths).
    """

    def __init__(
        self,
        backend: EncoderBackend,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        cache_read_first: Sequence[str | os.PathLike[str]] = (),
        memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT,
        prefetch_count: int = DEFAULT_PREFETCH,
        on_ready: Callable[[EmbeddingReady], None] | None = None,
        on_error: Callable[[EncodeError], None] | None = None,
        on_status: Callable[[ServiceStatus], None] | None = None,
        read_image: ReadImage = default_read_image,
        prefetch_hold_s: float = DEFAULT_PREFETCH_HOLD,
        clock: Callable[[], float] = time.monotonic,
        disk_limit_bytes: int | None = DEFAULT_DISK_LIMIT,
    ) -> None:
        self._backend = backend
        self.memory = MemoryCache(memory_limit_bytes)
        self._disk_limit = disk_limit_bytes
        self.disk = (
            DiskCache(cache_dir, disk_limit_bytes, read_first=cache_read_first)
            if cache_dir is not None
            else None
        )
        self.prefetch_count = max(0, int(prefetch_count))
        self._on_ready = on_ready
        self._on_error = on_error
        self._on_status = on_status
        self._read_image = read_image

        self._cond = threading.Condition()
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._current: str | None = None
        self._current_id = 0
        self._last_id = 0
        self._failed: set[str] = set()
        # path -> (file signature when hashed, content hash). The memory cache is keyed by
        # content; a path maps to its entry only while the file's signature is unchanged.
        # Without a signature (Windows) the mapping holds until the user shows the image
        # again: set_current always re-hashes there (milliseconds, on the worker).
        self._digests: dict[str, tuple[Signature | None, str]] = {}
        self._large: set[str] = set()
        self._closed = False
        self._item_bytes = _EMBEDDING_BYTES
        self._model_key: str | None = None
        self._model_error: str | None = None
        self._model_ready = threading.Event()
        self._idle = threading.Event()
        self._last_status: ServiceStatus | None = None
        self.prefetch_hold_s = max(0.0, float(prefetch_hold_s))
        self._clock = clock  # tests pass their own to step through the hold window
        self._decoding = 0
        self._decoded_at = -math.inf

        self._thread = threading.Thread(target=self._run, name="samdesk-encoder", daemon=True)
        self._thread.start()

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str | os.PathLike[str],
        *,
        device: str | None = None,
        encoder_dtype: object = None,
        **kwargs: object,
    ) -> EncoderService:
        """A service on a ``samdesk.sam`` checkpoint (loaded on the worker, not here)."""
        from samdesk.engine.backend import SamBackend

        return cls(SamBackend(checkpoint, device, encoder_dtype), **kwargs)  # type: ignore[arg-type]

    # -- the caller's side (any thread; in the app, the GUI thread) ----------------------

    def set_images(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        """The images in the user's order (what "next" means for prefetching)."""
        order = [str(p) for p in paths]
        with self._cond:
            self._order = order
            self._index = {key: i for i, key in enumerate(order)}
            self._wake_locked()

    def set_current(self, path: str | os.PathLike[str]) -> Ticket:
        """Make ``path`` the image on screen; returns at once (see :class:`Ticket`).

        A previously failed image is retried (the user may have fixed the file).
        """
        key = str(path)
        with self._cond:
            self._last_id += 1
            self._current_id = self._last_id
            self._current = key
            self._failed.discard(key)
            known = self._digests.get(key)
            if known is not None and known[0] is None:
                del self._digests[key]
            embedding = self._from_memory_locked(key)
            self._wake_locked()
            return Ticket(self._current_id, key, embedding)

    def allow_large(self, path: str | os.PathLike[str]) -> None:
        """Read ``path`` even above the decompression-bomb pixel limit (the user trusts it).

        A failure of that image (it was too large) is forgotten, so it is tried again.
        """
        key = str(path)
        with self._cond:
            self._large.add(key)
            self._failed.discard(key)
            self._wake_locked()

    def decoder_busy(self, busy: bool) -> None:
        """A decode session started (True) or finished (False) a prompt (any thread).

        Prefetching is held while a decode runs and for ``prefetch_hold_s`` after the last
        one, so background encodes do not compete with the user's clicks for the cores.
        """
        with self._cond:
            if busy:
                self._decoding += 1
                return
            self._decoding = max(0, self._decoding - 1)
            self._decoded_at = self._clock()
            self._cond.notify_all()  # the worker re-plans how long it still holds

    def set_cache_dir(
        self,
        cache_dir: str | os.PathLike[str] | None,
        read_first: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        """Use another disk cache folder from the next image on (None: memory only).

        ``read_first``: folders only read, before ``cache_dir`` (see ``DiskCache``).
        Entries are keyed by image content and model, so nothing in memory is invalid;
        an encode already running still saves into the previous folder, which is harmless.
        """
        disk = (
            DiskCache(cache_dir, self._disk_limit, read_first=read_first)
            if cache_dir is not None
            else None
        )
        with self._cond:
            self.disk = disk

    @property
    def cache_dir(self) -> Path | None:
        """The disk cache folder in use (None: memory only)."""
        disk = self.disk
        return disk.directory if disk is not None else None

    def clear_current(self) -> None:
        """No image on screen (project closed): stops all encoding work."""
        with self._cond:
            self._last_id += 1
            self._current_id = self._last_id
            self._current = None
            self._wake_locked()

    def is_current(self, request_id: int) -> bool:
        """Whether ``request_id`` is the latest :meth:`set_current` request."""
        with self._cond:
            return request_id == self._current_id and self._current is not None

    def embedding(self, path: str | os.PathLike[str]) -> Embedding | None:
        """The embedding if it is in memory (does not schedule anything)."""
        with self._cond:
            return self._from_memory_locked(str(path))

    @property
    def model_key(self) -> str | None:
        """The checkpoint fingerprint once the worker has computed it."""
        return self._model_key

    def wait_model(self, timeout: float | None = None) -> bool:
        """Block until the model has loaded or failed to (True) or ``timeout`` passes."""
        return self._model_ready.wait(timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the worker has nothing left to do (for tests, benchmarks, CLI)."""
        return self._idle.wait(timeout)

    def new_decoder(self, timeout: float | None = None) -> Decoder:
        """A decoder sharing the loaded model (blocks until the model is loaded).

        Raises RuntimeError with the load error's message when there is no model.
        """
        if not self._model_ready.wait(timeout):
            raise RuntimeError("the model is still loading")
        if self._model_error is not None:
            raise RuntimeError(self._model_error)
        with self._cond:
            if self._closed:
                raise RuntimeError("the encoder service is closed")
            return self._backend.new_decoder()

    def close(self, timeout: float | None = None) -> bool:
        """Cancel pending work, wait for the worker; True when it has ended.

        An encode in progress runs to its end (a forward pass cannot be interrupted);
        the worker exits right after it. Safe to call twice.
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- planning (under self._cond) -----------------------------------------------------

    def _wake_locked(self) -> None:
        self._idle.clear()
        self._cond.notify_all()

    def _plan_locked(self) -> list[str]:
        """Wanted images: the current one, then the next ones that fit in memory."""
        if self._current is None:
            return []
        plan = [self._current]
        start = self._index.get(self._current)
        if start is None:
            return plan
        for key in self._order[start + 1 : start + 1 + self.prefetch_count]:
            # Prefetching past the memory limit would evict what we just prefetched.
            if (len(plan) + 1) * self._item_bytes > self.memory.max_bytes:
                break
            plan.append(key)
        return plan

    def _digest_locked(self, key: str) -> str | None:
        """The content hash of ``key`` if it was hashed and the file is unchanged since.

        A stat per call: a file replaced while the program runs (even with the same size
        and mtime: ``cp -p``) has another signature and must be hashed again.
        """
        known = self._digests.get(key)
        if known is None:
            return None
        if known[0] is None:
            return known[1]
        try:
            signature = file_signature(key)
        except OSError:
            signature = None
        if signature is None or signature != known[0]:
            del self._digests[key]
            return None
        return known[1]

    def _from_memory_locked(self, key: str) -> Embedding | None:
        digest = self._digest_locked(key)
        embedding = self.memory.get(digest) if digest is not None else None
        if embedding is not None and embedding.image_key != key:
            embedding = embedding.with_key(key)  # same content under another path
        return embedding

    def _needs_work_locked(self, key: str) -> bool:
        if key in self._failed:
            return False
        digest = self._digest_locked(key)
        if digest is not None and digest in self.memory:
            return False
        # Without a model only the current image is "tried", to report why it can't be.
        return self._model_error is None or key == self._current

    def _prefetch_hold_locked(self) -> float | None:
        """Seconds before a prefetch may start (inf: until the decode ends), None: now."""
        if self._decoding:
            return math.inf
        left = self._decoded_at + self.prefetch_hold_s - self._clock()
        return left if left > 0 else None

    def _take_job_locked(self) -> tuple[_Job | None, float | None]:
        """The next job, or (None, seconds a held prefetch still waits / None: no work)."""
        plan = self._plan_locked()
        self.memory.pin(d for k in plan if (d := self._digest_locked(k)) is not None)
        todo = [key for key in plan if self._needs_work_locked(key)]
        if not todo:
            return None, None
        key = todo[0]
        current = key == self._current
        if not current:
            hold = self._prefetch_hold_locked()
            if hold is not None:
                return None, hold
        if current:
            request_id = self._current_id
        else:
            self._last_id += 1
            request_id = self._last_id
        return _Job(key, request_id, current, len(todo) - 1), None

    def _obsolete_locked(self, key: str) -> bool:
        if self._closed or key not in self._plan_locked():
            return True
        # The image on screen comes first: a prefetch yields when the current one waits.
        current = self._current
        if key == current:
            return False
        if current is not None and self._needs_work_locked(current):
            return True
        return self._prefetch_hold_locked() is not None  # the user is decoding

    # -- the worker ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._load_model()
            while (job := self._wait_for_job()) is not None:
                self._work(job)
        finally:
            try:
                self._backend.close()
            except Exception:
                log.exception("closing the encoder backend failed")
            self._model_ready.set()
            self._idle.set()
            self._emit_status(ServiceStatus("closed"))

    def _load_model(self) -> None:
        self._emit_status(ServiceStatus("loading_model"))
        try:
            self._model_key = self._backend.model_key()
            self._backend.load()
        except Exception as exc:
            message = "Cannot load the model: " + describe_error(exc)
            self._model_error = message
            self._emit_error(EncodeError(0, None, message))
        finally:
            self._model_ready.set()

    def _wait_for_job(self) -> _Job | None:
        with self._cond:
            while not self._closed:
                job, hold = self._take_job_locked()
                if job is not None:
                    return job
                if hold is not None:
                    # Work remains (not idle): woken when a decode ends, or at the deadline.
                    holding = ServiceStatus("holding")
                    if holding != self._last_status:
                        self._emit_status_unlocked(holding)
                        continue  # the state may have changed while unlocked
                    self._cond.wait(None if math.isinf(hold) else hold)
                    continue
                if not self._idle.is_set():
                    self._idle.set()
                    # Announce outside the lock (a callback must never run under it).
                    self._cond.release()
                    try:
                        self._emit_status(ServiceStatus("idle"))
                    finally:
                        self._cond.acquire()
                    continue  # the state may have changed while unlocked
                self._cond.wait()
            return None

    def _emit_status_unlocked(self, status: ServiceStatus) -> None:
        """Announce from under the lock: released for the callback, then retaken."""
        self._cond.release()
        try:
            self._emit_status(status)
        finally:
            self._cond.acquire()

    def _work(self, job: _Job) -> None:
        key = job.key
        state = "encoding" if job.current else "prefetching"
        self._emit_status(ServiceStatus(state, key, job.pending))
        started = time.perf_counter()

        def check_cancel() -> None:
            with self._cond:
                if self._obsolete_locked(key):
                    raise Cancelled(key)

        def notice(message: str) -> None:
            self._emit_error(EncodeError(job.request_id, key, message, fatal=False))
            self._emit_status(ServiceStatus(state, key, job.pending, message))

        with self._cond:
            disk = self.disk
            large = key in self._large
        read_image = (
            functools.partial(self._read_image, allow_large=True) if large else self._read_image
        )
        try:
            if self._model_error is not None:
                raise ModelUnavailable(self._model_error)
            # Signature first: a change while hashing then shows as a new signature later.
            signature = file_signature(key)
            digest = content_hash(key)
            with self._cond:
                self._digests[key] = (signature, digest)
                embedding = self.memory.get(digest)
            if embedding is not None:
                embedding = embedding.with_key(key)  # the same picture under another path
            else:
                embedding = produce_embedding(
                    key,
                    key,
                    backend=self._backend,
                    model_key=self._model_key or "",
                    disk=disk,
                    read_image=read_image,
                    check_cancel=check_cancel,
                    on_notice=notice,
                    digest=digest,
                )
        except Cancelled:
            return
        except Exception as exc:
            message = describe_error(exc, Path(key).name)
            with self._cond:
                self._failed.add(key)
                request_id = self._current_id if key == self._current else job.request_id
            self._emit_error(EncodeError(request_id, key, message))
            return
        with self._cond:
            # Cache and decide under the lock: set_current() either finds it in memory
            # (and takes it from its Ticket) or is already current here -- never both.
            self.memory.put(digest, embedding)
            self._item_bytes = max(self._item_bytes, embedding.nbytes)
            deliver = key == self._current and not self._closed
            request_id = self._current_id
        if deliver:
            ready = EmbeddingReady(request_id, key, embedding, time.perf_counter() - started)
            self._call(self._on_ready, ready)

    # -- callbacks -----------------------------------------------------------------------

    def _emit_status(self, status: ServiceStatus) -> None:
        if status == self._last_status:
            return
        self._last_status = status
        self._call(self._on_status, status)

    def _emit_error(self, error: EncodeError) -> None:
        if error.fatal:
            log.warning("%s", error.message)
        self._call(self._on_error, error)

    @staticmethod
    def _call(callback: Callable[[object], None] | None, value: object) -> None:
        if callback is None:
            return
        try:
            callback(value)
        except Exception:
            # A broken receiver must not kill the worker that owns the model.
            log.exception("encoder service callback failed")
