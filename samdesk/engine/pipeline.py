"""One image through the stages: hash → disk cache → read → encode → disk cache.

Shared by the service's worker and ``samdesk encode``, so both check the same cache
entries, fall back to the CPU the same way and word their errors the same way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from samdesk.engine.backend import CheckCancel, DeviceOutOfMemory, EncoderBackend
from samdesk.engine.cache import DiskCache
from samdesk.engine.embedding import Embedding
from samdesk.engine.fingerprint import content_hash

log = logging.getLogger(__name__)

ReadImage = Callable[[str | os.PathLike[str]], npt.NDArray[np.uint8]]

CPU_FALLBACK_MESSAGE = (
    "The GPU ran out of memory while encoding {name}; encoding on the CPU from now on "
    "(slower). Close other GPU programs or choose a smaller model to use the GPU again."
)


class ModelUnavailable(RuntimeError):
    """There is no model to encode with (its load failed); the message says why."""


class NonFiniteEmbedding(RuntimeError):
    """The model produced NaN or infinite features; they are never cached or shown."""


def produce_embedding(
    path: str | os.PathLike[str],
    image_key: str,
    *,
    backend: EncoderBackend,
    model_key: str,
    disk: DiskCache | None,
    read_image: ReadImage,
    check_cancel: CheckCancel,
    on_notice: Callable[[str], None],
    reuse_cached: bool = True,
    digest: str | None = None,
) -> Embedding:
    """The embedding of the image file at ``path``, from the disk cache or the model.

    ``check_cancel`` is called between stages and raises ``Cancelled``; ``on_notice``
    receives non-fatal messages (the CPU fallback, an unwritable cache);
    ``reuse_cached=False`` re-encodes and overwrites the cache entry; ``digest`` is the
    file's :func:`content_hash` when the caller has just computed it. Errors (unreadable
    image, model failure) propagate; :func:`describe_error` words them.
    """
    check_cancel()
    if digest is None:
        digest = content_hash(path)
    if disk is not None and reuse_cached:
        cached = disk.load(digest, model_key, image_key)
        if cached is not None:
            return cached
    check_cancel()
    rgb = read_image(path)
    check_cancel()
    try:
        encoded = backend.encode(rgb, check_cancel)
    except DeviceOutOfMemory:
        if not backend.fall_back_to_cpu():
            raise
        on_notice(CPU_FALLBACK_MESSAGE.format(name=Path(path).name))
        encoded = backend.encode(rgb, check_cancel)
    if not np.isfinite(encoded.features).all():
        # A damaged or hostile checkpoint (finite weights can still overflow): caching
        # this would serve blank masks for this image from now on.
        bad = int(np.count_nonzero(~np.isfinite(encoded.features)))
        raise NonFiniteEmbedding(
            f"the model produced {bad:,} NaN or infinite values in its embedding; nothing "
            "was cached. The checkpoint is probably damaged: download it again."
        )
    embedding = Embedding(
        image_key, model_key, encoded.features, encoded.original_size, encoded.input_size
    )
    if disk is not None:
        try:
            disk.save(digest, embedding, replace_valid=not reuse_cached)
        except (OSError, ValueError) as exc:
            # The embedding is still good for this session; only the next one pays again.
            on_notice(f"Could not write the embedding cache in {disk.directory}: {exc}")
    return embedding


def describe_error(exc: BaseException, name: str | None = None) -> str:
    """A user-readable message for an exception raised while producing an embedding."""
    if isinstance(exc, DeviceOutOfMemory):
        detail = "out of memory (even on the CPU); try a smaller image or model"
    elif isinstance(exc, (ModelUnavailable, NonFiniteEmbedding)):
        detail = str(exc)
    elif isinstance(exc, FileNotFoundError):
        detail = f"file not found ({exc.filename or exc})"
    elif _has_user_message(exc):
        detail = str(exc)
    else:
        log.error("unexpected error while encoding %s", name, exc_info=exc)
        detail = f"{type(exc).__name__}: {exc}"
    return f"Cannot encode {name}: {detail}" if name else detail


def _has_user_message(exc: BaseException) -> bool:
    # The image reader's and checkpoint loader's errors carry messages meant for users;
    # matched by name so this module does not import core/sam just to test a type.
    names = {cls.__name__ for cls in type(exc).__mro__}
    user = {"ImageReadError", "ImageTooLargeError", "SamCheckpointError", "OSError"}
    return bool(names & user) and bool(str(exc))
