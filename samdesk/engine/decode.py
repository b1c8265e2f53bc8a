"""Prompts → masks for the image on screen, latest-wins, on a light worker of its own.

Why a worker and not the caller's (GUI) thread: SAM's decoder takes ~5–30 ms on a CPU,
more while the encoder saturates the cores; run on every mouse move in the GUI thread it
would make the canvas stutter and let events pile up. Why not the encoder's worker: a
hover preview must not wait behind a multi-second encode. So decoding has its own thread
with a one-slot mailbox: a new prompt replaces the one waiting (its future is cancelled),
and a result whose prompt was superseded while it ran is dropped. The queue can never
grow, and the answer the user sees is always for the newest prompt.

The decoder object comes from ``EncoderService.new_decoder`` (a separate predictor that
shares the model's read-only prompt encoder and mask decoder weights; see
``SamBackend.new_decoder`` for why that is thread-safe) and is used only on this thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from samdesk.engine.backend import Decoder
from samdesk.engine.embedding import Embedding

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Prompt:
    """What the user gave for one object, in original-image pixel coordinates.

    Attributes:
        points: N×2 float32, XY (continuous image coordinates), or None.
        labels: N int32, 1 = include, 0 = exclude; required with ``points``.
        box: 4 float32, XYXY, or None.
        mask_input: 1×256×256 float32 low-res logits of a previous result, or None.
        output: "best" → one mask (``predict_best``: cropped mask, offset, score);
            "all" → the three candidates at full size with scores.
    """

    points: npt.NDArray[np.float32] | None = None
    labels: npt.NDArray[np.int32] | None = None
    box: npt.NDArray[np.float32] | None = None
    mask_input: npt.NDArray[np.float32] | None = None
    output: Literal["best", "all"] = "best"

    def __post_init__(self) -> None:
        points, labels = self.points, self.labels
        if (points is None) != (labels is None):
            raise ValueError("points and labels must be given together")
        if points is not None:
            points = np.asarray(points, dtype=np.float32).reshape(-1, 2)
            labels = np.asarray(labels, dtype=np.int32).reshape(-1)
            if len(points) != len(labels):
                raise ValueError(f"{len(points)} points but {len(labels)} labels")
        box = self.box
        if box is not None:
            box = np.asarray(box, dtype=np.float32).reshape(-1)
            if box.shape != (4,):
                raise ValueError(f"box must be 4 numbers XYXY, got shape {box.shape}")
        mask = self.mask_input
        if mask is not None:
            mask = np.asarray(mask, dtype=np.float32)
            if mask.shape != (1, 256, 256):
                raise ValueError(f"mask_input must be 1×256×256, got {mask.shape}")
        if points is None and box is None and mask is None:
            raise ValueError("a prompt needs points, a box or a mask")
        if self.output not in ("best", "all"):
            raise ValueError(f"output must be 'best' or 'all', got {self.output!r}")
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "mask_input", mask)


@dataclass(frozen=True)
class DecodeResult:
    """The answer to one prompt.

    ``best`` (``samdesk.sam.BestMask``: ``mask`` bool crop, ``offset`` (x0, y0), ``score``,
    ``low_res_logits`` 1×256×256) for output "best"; ``masks`` C×H×W bool, ``scores`` C
    and ``low_res_logits`` C×256×256 for output "all".
    """

    request_id: int
    image_key: str
    prompt: Prompt
    best: Any = None
    masks: npt.NDArray[np.bool_] | None = None
    scores: npt.NDArray[np.float32] | None = None
    low_res_logits: npt.NDArray[np.float32] | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class DecodeError:
    """A prompt could not be answered (the session keeps serving the next ones)."""

    request_id: int
    image_key: str | None
    message: str


@dataclass
class _Job:
    request_id: int
    embedding: Embedding
    prompt: Prompt
    future: Future[DecodeResult]


class DecodeSession:
    """Answers prompts for the current embedding, newest first and only.

    Args:
        decoder_factory: builds the decoder, called once on this session's thread (it may
            block until the model has loaded, like ``EncoderService.new_decoder``).
        on_result: called on the session's thread with each :class:`DecodeResult`.
        on_error: called on the session's thread with each :class:`DecodeError`.
        on_busy: called on the session's thread with True before each prompt is decoded
            and False after it (``EncoderService.decoder_busy`` holds prefetching then).
    """

    def __init__(
        self,
        decoder_factory: Callable[[], Decoder],
        *,
        on_result: Callable[[DecodeResult], None] | None = None,
        on_error: Callable[[DecodeError], None] | None = None,
        on_busy: Callable[[bool], None] | None = None,
    ) -> None:
        self._factory = decoder_factory
        self._on_result = on_result
        self._on_error = on_error
        self._on_busy = on_busy
        self._cond = threading.Condition()
        self._embedding: Embedding | None = None
        self._pending: _Job | None = None
        self._running: _Job | None = None
        self._last_id = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="samdesk-decoder", daemon=True)
        self._thread.start()

    def set_embedding(self, embedding: Embedding | None) -> None:
        """Switch to another image (None: none); prompts for the previous one are dropped."""
        with self._cond:
            self._embedding = embedding
            stale = self._take_stale_locked()
        _cancel(stale)

    @property
    def embedding(self) -> Embedding | None:
        return self._embedding

    def submit(self, prompt: Prompt) -> Future[DecodeResult]:
        """Ask for the mask of ``prompt`` on the current embedding; returns at once.

        The future is cancelled when a newer prompt (or image) supersedes it before its
        answer is ready; otherwise it holds the :class:`DecodeResult` (also passed to
        ``on_result``) or the exception.
        """
        future: Future[DecodeResult] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the decode session is closed")
            if self._embedding is None:
                raise RuntimeError("no image embedding to decode against")
            self._last_id += 1
            stale = self._take_stale_locked()
            self._pending = _Job(self._last_id, self._embedding, prompt, future)
            self._cond.notify_all()
        _cancel(stale)
        return future

    def close(self, timeout: float | None = None) -> bool:
        """Drop pending prompts and join the worker; True when it has ended."""
        with self._cond:
            self._closed = True
            stale = self._take_stale_locked()
            self._cond.notify_all()
        _cancel(stale)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _take_stale_locked(self) -> list[Future[DecodeResult]]:
        # Futures are cancelled by the caller *after* releasing the lock: cancel() runs
        # the futures' done-callbacks, which may call back into this session.
        stale = []
        if self._pending is not None:
            stale.append(self._pending.future)
            self._pending = None
        if self._running is not None:
            # Still PENDING as a Future (the worker marks it running only when it
            # delivers), so cancel() succeeds and the worker then drops its result.
            stale.append(self._running.future)
        return stale

    def _run(self) -> None:
        decoder: Decoder | None = None
        decoder_error: str | None = None
        shown: Embedding | None = None
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._running = self._pending
                self._pending = None
            started = time.perf_counter()
            _call(self._on_busy, True)
            try:
                if decoder is None and decoder_error is None:
                    try:
                        decoder = self._factory()
                    except Exception as exc:
                        decoder_error = f"The model is not available: {exc}"
                if decoder is None:
                    raise RuntimeError(decoder_error)
                if job.embedding is not shown:
                    emb = job.embedding
                    decoder.set_embedding(emb.features, emb.original_size, emb.input_size)
                    shown = emb
                result = _decode(decoder, job, started)
            except Exception as exc:
                _call(self._on_busy, False)
                self._finish(job, None, exc)
            else:
                _call(self._on_busy, False)
                self._finish(job, result, None)

    def _finish(self, job: _Job, result: DecodeResult | None, error: Exception | None) -> None:
        with self._cond:
            self._running = None
            # Claim the future while it is still ours: False when it was superseded.
            current = job.request_id == self._last_id and job.embedding is self._embedding
            deliver = current and job.future.set_running_or_notify_cancel()
        if not deliver:
            return
        if error is None:
            job.future.set_result(result)
            _call(self._on_result, result)
        else:
            if not isinstance(error, RuntimeError):
                log.error("decoding failed", exc_info=error)
            job.future.set_exception(error)
            message = str(error) or type(error).__name__
            _call(self._on_error, DecodeError(job.request_id, job.embedding.image_key, message))


def _decode(decoder: Decoder, job: _Job, started: float) -> DecodeResult:
    p = job.prompt
    kwargs = {
        "point_coords": p.points,
        "point_labels": p.labels,
        "box": p.box,
        "mask_input": p.mask_input,
    }
    key = job.embedding.image_key
    if p.output == "best":
        best = decoder.predict_best(**kwargs)
        return DecodeResult(job.request_id, key, p, best=best, seconds=_since(started))
    masks, scores, logits = decoder.predict(**kwargs, multimask_output=True)
    return DecodeResult(
        job.request_id, key, p, None, masks, scores, logits, seconds=_since(started)
    )


def _since(started: float) -> float:
    return time.perf_counter() - started


def _cancel(futures: list[Future[DecodeResult]]) -> None:
    for future in futures:
        future.cancel()


def _call(callback: Callable[[Any], None] | None, value: object) -> None:
    if callback is None:
        return
    try:
        callback(value)
    except Exception:
        log.exception("decode session callback failed")
