"""Content hashes of files: image identity and checkpoint fingerprints.

The disk cache is keyed by what a file *contains*, never by its name: a renamed or copied
image finds its embedding, and a checkpoint replaced under the same name never serves the
old model's embeddings. Hashing a 2.5 GB ViT-H checkpoint takes seconds, so digests are
remembered per (path, size, mtime); a file rewritten in place changes its mtime.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from samdesk.core.files import open_regular

_CHUNK = 1 << 20


class FileDigests:
    """Thread-safe ``path -> hex digest`` memo, invalidated by size or mtime changes."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._memo: dict[tuple[str, int, int], str] = {}
        self._max_entries = max_entries

    def digest(self, path: str | os.PathLike[str]) -> str:
        """blake2b-128 of the file's bytes as 32 hex characters.

        Raises OSError when the file cannot be read.
        """
        real = os.path.realpath(path)
        st = os.stat(real)
        key = (real, st.st_size, st.st_mtime_ns)
        with self._lock:
            hit = self._memo.get(key)
        if hit is not None:
            return hit
        value = hash_file(real)
        with self._lock:
            if len(self._memo) >= self._max_entries:
                self._memo.clear()  # crude but bounded; a miss only costs a re-hash
            self._memo[key] = value
        return value


def hash_file(path: str | os.PathLike[str]) -> str:
    """blake2b-128 hex digest of a file's contents (streamed, constant memory)."""
    h = hashlib.blake2b(digest_size=16)
    # Only a regular file: a FIFO named like an image would block the encoder thread.
    with open_regular(path) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


_DIGESTS = FileDigests()


def content_hash(path: str | os.PathLike[str]) -> str:
    """The image file's content hash (process-wide memo)."""
    return _DIGESTS.digest(path)


# What samdesk computes from a checkpoint, as a version mixed into its fingerprint. Bump it
# whenever the same weights start giving different embeddings, so that no cache (memory,
# user or team folder) serves embeddings computed by the earlier network.
#   1: first release
#   2: TinyViT applies the checkpoint's trained attention biases (MobileSAM's documented use)
MODEL_OUTPUT_VERSION = 2


def checkpoint_fingerprint(path: str | os.PathLike[str]) -> str:
    """The model key of a checkpoint: ``ckpt-`` + 32 hex characters.

    A hash of the file's contents and :data:`MODEL_OUTPUT_VERSION`, so a new version of the
    model code never reuses embeddings an earlier one cached for the same file.
    """
    file_digest = _DIGESTS.digest(Path(path))
    salted = hashlib.blake2b(
        f"{file_digest}:model-output-v{MODEL_OUTPUT_VERSION}".encode(), digest_size=16
    )
    return "ckpt-" + salted.hexdigest()
