"""The window's side of the engine: EncoderService + DecodeSession behind Qt signals.

Created on the GUI thread. The engine calls back on its worker threads; a
``CallbackBridge`` re-delivers those calls on the GUI thread, where they are checked against
what is current (engine generation, image, request) and re-emitted as signals. Without a
checkpoint the bridge exists but is unavailable: the SAM tools are disabled and manual
tools keep working.

The bridge outlives its engines: ``reconfigure`` swaps in a new service and decode session
(another checkpoint, device, precision…) while the window's connections stay. The old
engine is told to stop without waiting for it (an encode in progress runs to its end on its
own thread); everything it still reports carries an old generation and is dropped, and
``shutdown`` joins it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from samdesk.ui.bridge import CallbackBridge, FutureBridge


def _default_cache_dir() -> Path:
    from samdesk.models import user_cache_dir

    return Path(user_cache_dir()) / "embeddings"


def _encoder_dtype(precision: str, device: str | None) -> str | None:
    """Name of the image encoder's torch dtype for "bf16"/"fp16" (a GPU only), or None.

    A name, not a torch dtype: the engine resolves it on its worker, so the GUI thread never
    imports torch. ``load_model`` ignores a reduced precision on the CPU, so asking for it
    is harmless when the device turns out to be the CPU.
    """
    if precision not in ("bf16", "fp16") or device == "cpu":
        return None
    return "bfloat16" if precision == "bf16" else "float16"


# samdesk.engine.cache.DEFAULT_DISK_LIMIT, repeated so this module imports no engine code.
_DEFAULT_DISK_LIMIT = 10 * 1000**3

_DEFAULT_OPTIONS: dict[str, Any] = {
    "cache_dir": None,
    "prefetch_count": 3,
    "device": None,
    "memory_limit_bytes": None,
    "precision": "fp32",
    "disk_limit_bytes": _DEFAULT_DISK_LIMIT,
}


class EngineBridge(QObject):
    """Signals:
    embedding_ready(str): the current image's embedding is ready (image key = path string).
    status_changed(str): what the model is doing, in words, for the status bar.
    error(str): a message for the user (model failed to load, image failed to encode).
    decoded(object): a ``DecodeResult`` for the current image (superseded ones are dropped).
    decode_failed(str): a prompt could not be answered (clears any "waiting" state).
    availability_changed(bool): the model turned out unusable (False): SAM tools go off.
    model_loaded(str): the checkpoint (path) of a new engine has loaded and works.

    Args: ``checkpoint`` (None: no model), ``cache_dir`` of the embedding disk cache
    (default: the user cache dir), ``prefetch_count``, ``device`` ("cpu", "cuda", ... or
    None for the best), ``memory_limit_bytes`` of the embedding memory cache, ``precision``
    of the image encoder on a GPU ("fp32", "bf16", "fp16").
    """

    embedding_ready = Signal(str)
    status_changed = Signal(str)
    error = Signal(str)
    decoded = Signal(object)
    decode_failed = Signal(str)
    availability_changed = Signal(bool)
    model_loaded = Signal(str)

    def __init__(
        self,
        checkpoint: str | os.PathLike[str] | None,
        parent: QObject | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        prefetch_count: int = 3,
        device: str | None = None,
        memory_limit_bytes: int | None = None,
        precision: str = "fp32",
        disk_limit_bytes: int | None = _DEFAULT_DISK_LIMIT,
    ) -> None:
        super().__init__(parent)
        self._calls = CallbackBridge(self)
        self._futures = FutureBridge(self)
        self._service: Any = None
        self._session: Any = None
        self._retired: list[tuple[Any, Any]] = []  # stopped engines, maybe still running
        self._generation = 0
        self._images: list[str] = []
        self._large: set[str] = set()
        self._read_first: list[str] = []  # caches read before ours (a project's, shared)
        self._current: str | None = None
        self._request = 0
        self._embedding: Any = None
        self._model_failed = False
        self.last_encode_seconds: float | None = None
        self.checkpoint: str | None = None
        self.options: dict[str, Any] = {}
        self.status = ""
        self._start(
            checkpoint,
            {
                "cache_dir": cache_dir,
                "prefetch_count": prefetch_count,
                "device": device,
                "memory_limit_bytes": memory_limit_bytes,
                "precision": precision,
                "disk_limit_bytes": disk_limit_bytes,
            },
        )

    def _start(self, checkpoint: str | os.PathLike[str] | None, options: dict[str, Any]) -> None:
        """Build the service and decode session of a new generation (None: no model)."""
        self._generation += 1
        self.checkpoint = str(checkpoint) if checkpoint else None
        self.options = dict(options)
        self._model_failed = False
        self._model_loaded = False
        self._embedding = None
        self.last_encode_seconds = None
        self._set_status("No model" if self.checkpoint is None else "Loading model…")
        if self.checkpoint is None:
            return
        from samdesk.engine import DecodeSession, EncoderService

        extra: dict[str, Any] = {}
        if options["memory_limit_bytes"] is not None:
            extra["memory_limit_bytes"] = int(options["memory_limit_bytes"])
        cache_dir = options["cache_dir"]
        self._service = EncoderService.from_checkpoint(
            self.checkpoint,
            device=options["device"],
            encoder_dtype=_encoder_dtype(options["precision"], options["device"]),
            cache_dir=cache_dir if cache_dir is not None else _default_cache_dir(),
            cache_read_first=list(self._read_first),
            prefetch_count=options["prefetch_count"],
            disk_limit_bytes=options.get("disk_limit_bytes", _DEFAULT_DISK_LIMIT),
            **extra,
            on_ready=self._this_generation(self._on_ready),
            on_error=self._this_generation(self._on_error),
            on_status=self._this_generation(self._on_status),
        )
        for key in self._large:
            self._service.allow_large(key)
        # The decoder is built on the session's own thread (it waits for the model there),
        # so the GUI thread never blocks on the model load.
        # Its busy reports hold the service's prefetching while the user decodes.
        self._session = DecodeSession(self._service.new_decoder, on_busy=self._service.decoder_busy)

    def _this_generation(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """``fn`` for the engine being started, called on the GUI thread; once a newer
        engine has replaced it, its late reports (an embedding of the old model, "closed")
        are dropped."""
        generation = self._generation

        def call(value: Any) -> None:
            if generation == self._generation:
                fn(value)

        return self._calls.wrap(call)

    # ----- state ---------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """Whether a model was given and has not failed to load (SAM tools can be on)."""
        return self._service is not None and not self._model_failed

    @property
    def loaded(self) -> bool:
        """Whether the current checkpoint has loaded and works (``model_loaded`` was sent)."""
        return self._model_loaded and not self._model_failed

    @property
    def model_key(self) -> str | None:
        """Fingerprint of the model in use once its worker has read it (None: none yet)."""
        return self._service.model_key if self._service is not None else None

    @property
    def current_key(self) -> str | None:
        return self._current

    def is_ready(self) -> bool:
        """Whether prompts for the current image can be decoded now."""
        return self._embedding is not None and self._embedding.image_key == self._current

    # ----- the window's calls ------------------------------------------------------------
    def set_images(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        """The project's images in the user's order (what prefetching means by "next")."""
        self._images = [str(p) for p in paths]
        if self._service is not None:
            self._service.set_images(self._images)

    def allow_large(self, path: str | os.PathLike[str]) -> None:
        """Encode ``path`` even above the decompression-bomb pixel limit (the user said so).

        Remembered for this session, also by engines started later by ``reconfigure``.
        """
        self._large.add(str(path))
        if self._service is not None:
            self._service.allow_large(path)

    def set_cache_dir(
        self,
        cache_dir: str | os.PathLike[str] | None,
        read_first: Sequence[str | os.PathLike[str]] | None = None,
    ) -> None:
        """Use another embedding disk cache folder (a project's) without restarting.

        ``read_first``: folders only read, before it (the project's cache that ``samdesk
        encode`` fills, when ours is the user's); None keeps the ones set before. Engines
        started later by ``reconfigure`` keep them.
        """
        self.options["cache_dir"] = cache_dir
        if read_first is not None:
            self._read_first = [str(d) for d in read_first]
        if self._service is not None:
            self._service.set_cache_dir(
                cache_dir if cache_dir is not None else _default_cache_dir(), self._read_first
            )

    def reconfigure(self, checkpoint: str | os.PathLike[str] | None, **options: Any) -> bool:
        """Use another checkpoint or other options (``__init__``'s keywords) from now on.

        The running engine is stopped without waiting (``shutdown`` joins it); the new one
        starts loading and is handed the image order and the current image, so encoding
        starts at once. Options not given keep their defaults. Returns False (nothing
        done) when nothing changed; a change of ``cache_dir`` alone is applied in place.
        """
        unknown = set(options) - set(_DEFAULT_OPTIONS)
        if unknown:
            raise TypeError(f"unknown engine options: {sorted(unknown)}")
        wanted = {**_DEFAULT_OPTIONS, **options}
        checkpoint = str(checkpoint) if checkpoint else None
        if checkpoint == self.checkpoint:
            if wanted == self.options:
                return False
            if {**wanted, "cache_dir": None} == {**self.options, "cache_dir": None}:
                self.set_cache_dir(wanted["cache_dir"])
                return False
        self._retire()
        self._start(checkpoint, wanted)
        if self._service is not None:
            self._service.set_images(self._images)
        self.set_current(self._current)
        self.availability_changed.emit(self.available)
        return True

    def set_current(self, path: str | os.PathLike[str] | None) -> None:
        """The image on screen (None: none). ``embedding_ready`` follows when it is ready."""
        self._embedding = None
        self._current = str(path) if path is not None else None
        if self._service is None:
            return
        self._session.set_embedding(None)
        if path is None:
            self._service.clear_current()
            if self.status.startswith("Ready"):
                self._set_status("Model ready")  # "Ready" was the image that went
            return
        ticket = self._service.set_current(path)
        self._request = ticket.request_id
        if ticket.embedding is not None:
            self._use(ticket.embedding)
        elif self.status == "Ready" or self.status.startswith("Ready "):
            # "Ready" was the previous image's; this one waits for the worker's report.
            self._set_status("Waiting for this image…")

    def submit(self, prompt: Any) -> bool:
        """Decode ``prompt`` (``samdesk.engine.Prompt``) on the current image, latest wins.

        Returns False (and submits nothing) while the embedding is not ready. The answer
        arrives as ``decoded(result)`` with ``result.prompt is prompt``.
        """
        if self._session is None or not self.is_ready():
            return False
        future = self._session.submit(prompt)
        key, generation = self._current, self._generation
        self._futures.watch(
            future,
            lambda result: self._on_decoded(generation, key, result),
            lambda exc: self._on_decode_error(generation, key, exc),
        )
        return True

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop the decode and encode workers (pending work is dropped); True once joined.

        Also joins engines retired by ``reconfigure`` that were still finishing an encode.
        With a ``timeout`` (seconds, for all of them together) it returns False when an
        encode is still running then: a forward pass cannot be interrupted, the workers are
        daemon threads, and what they would produce is only a cache entry (written
        atomically), so quitting need not wait for it.
        """
        self._retire()
        deadline = None if timeout is None else time.monotonic() + timeout

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        for service, session in self._retired:
            session.close(remaining())
            service.close(remaining())
        return self.retired_running() == 0

    def retired_running(self) -> int:
        """How many replaced engines are still finishing their work (forgets ended ones)."""
        # close(0) asks again (harmless) and reports whether the worker has ended.
        self._retired = [
            (service, session)
            for service, session in self._retired
            if not (session.close(0) & service.close(0))  # both asked, no short circuit
        ]
        return len(self._retired)

    def _retire(self) -> None:
        """Tell the current engine to stop, without waiting for an encode in progress."""
        self._generation += 1  # whatever the old engine still reports is dropped
        self._embedding = None
        if self._service is not None:
            self._session.close(0)
            self._service.close(0)
            self._service.memory.clear()  # its embeddings are of no use to the next model
            self._retired.append((self._service, self._session))
        self._service = self._session = None
        self.retired_running()

    # ----- engine callbacks (GUI thread via the CallbackBridge) ----------------------------
    def _use(self, embedding: Any) -> None:
        self._embedding = embedding
        self._session.set_embedding(embedding)
        self._set_status("Ready")
        self.embedding_ready.emit(embedding.image_key)

    def _on_ready(self, ready: Any) -> None:
        if self._service is None or ready.image_key != self._current:
            return  # the user has moved on; the embedding stays cached for later
        self.last_encode_seconds = ready.seconds
        self._use(ready.embedding)

    def _on_error(self, error: Any) -> None:
        if self._model_failed:
            return  # every image fails for the one reason already reported
        if error.image_key is not None and error.image_key != self._current and error.fatal:
            return  # a prefetch failed: the user will hear about it when they get there
        if error.image_key is None and error.fatal and not self._model_failed:
            self._model_failed = True  # the checkpoint cannot be used: manual tools only
            self._set_status("Error: no model")
            self.error.emit(error.message)
            self.availability_changed.emit(False)
            return
        self._set_status("Error" if error.fatal else self.status)
        self.error.emit(error.message)

    def _on_status(self, status: Any) -> None:
        if self._service is None or self._model_failed:
            return
        state = status.state
        if state not in ("loading_model", "closed") and not self._model_loaded:
            # The worker reports anything else only after the model loaded (a failed load
            # reports an error first, and sets _model_failed).
            self._model_loaded = True
            self.model_loaded.emit(self.checkpoint or "")
        if state == "loading_model":
            text = "Loading model…"
        elif state == "encoding":
            text = "Encoding this image…"
        elif state == "prefetching":
            text = "Ready" if self.is_ready() else "Waiting for this image…"
            text += f" — prefetching {status.pending + 1} more"
        elif state in ("idle", "holding"):
            if self.is_ready():
                text = "Ready"
            elif self._current is None:
                text = "Model ready"  # loaded, no image open: never a stale "Loading model…"
            else:
                text = self.status
        else:
            text = state.capitalize()
        if status.message:
            text += f" ({status.message})"
        self._set_status(text)

    def _set_status(self, text: str) -> None:
        if text != self.status:
            self.status = text
            self.status_changed.emit(text)

    def _on_decoded(self, generation: int, key: str | None, result: Any) -> None:
        if generation != self._generation or key != self._current:
            return
        self.decoded.emit(result)

    def _on_decode_error(self, generation: int, key: str | None, exc: BaseException) -> None:
        if generation != self._generation or key != self._current:
            return
        self.decode_failed.emit(str(exc) or type(exc).__name__)


def now() -> float:
    """Monotonic seconds (one clock for every latency the UI reports)."""
    return time.perf_counter()
