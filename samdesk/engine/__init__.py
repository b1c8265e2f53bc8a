"""samdesk.engine: from "the user is looking at image N" to "a click returns a mask".

- :class:`EncoderService` (``service.py``) owns the model on one worker thread, encodes the
  image on screen first, prefetches the next ones and cancels work the user left behind.
- :class:`MemoryCache` / :class:`DiskCache` (``cache.py``) keep embeddings: LRU bounded in
  bytes, and fp16 files keyed by image content hash + checkpoint fingerprint.
- :class:`DecodeSession` (``decode.py``) answers prompts for the current image on its own
  light worker, latest-wins, so live preview never waits behind an encode.
- ``cli.py``: ``samdesk encode``, the headless cache pre-computation.

Importing this package is cheap (no torch, no numpy): the names below load on first use,
so ``samdesk --help`` and the window's first paint do not wait for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from samdesk.engine.backend import EncoderBackend, SamBackend
    from samdesk.engine.cache import DiskCache, MemoryCache
    from samdesk.engine.decode import DecodeResult, DecodeSession, Prompt
    from samdesk.engine.embedding import Embedding, EmbeddingReady, EncodeError, ServiceStatus
    from samdesk.engine.service import EncoderService, Ticket

_EXPORTS = {
    "EncoderBackend": "samdesk.engine.backend",
    "SamBackend": "samdesk.engine.backend",
    "DiskCache": "samdesk.engine.cache",
    "MemoryCache": "samdesk.engine.cache",
    "DecodeResult": "samdesk.engine.decode",
    "DecodeSession": "samdesk.engine.decode",
    "Prompt": "samdesk.engine.decode",
    "Embedding": "samdesk.engine.embedding",
    "EmbeddingReady": "samdesk.engine.embedding",
    "EncodeError": "samdesk.engine.embedding",
    "ServiceStatus": "samdesk.engine.embedding",
    "EncoderService": "samdesk.engine.service",
    "Ticket": "samdesk.engine.service",
}

__all__ = [
    "DecodeResult",
    "DecodeSession",
    "DiskCache",
    "Embedding",
    "EmbeddingReady",
    "EncodeError",
    "EncoderBackend",
    "EncoderService",
    "MemoryCache",
    "Prompt",
    "SamBackend",
    "ServiceStatus",
    "Ticket",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'samdesk.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
