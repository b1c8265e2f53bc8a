"""Content hashes of files: image identity and checkpoint fingerprints.

The disk cache is keyed by what a file *contains*, never by its name: a renamed or copied
image finds its embedding, and a checkpoint replaced under the same name never serves the
old model's embeddings.

Images are hashed in full every time they are asked about (:func:`content_hash`): a
replacement that keeps size and mtime (``cp -p``, ``rsync -t``, unzip) must never get the
old image's embedding, and blake2b over a 48 MP JPEG costs milliseconds
(``benchmarks/bench_content_hash.py``), next to the half second its decoding takes.
Hashing a 2.5 GB ViT-H checkpoint takes seconds, so checkpoint digests are remembered per
:func:`file_signature`, which includes the inode and the ctime — a ctime the user cannot
set, so a rewrite in place changes it even when the mtime is restored.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from samdesk.core.files import open_regular

_CHUNK = 1 << 20

Signature = tuple[int, int, int, int, int]


def file_signature(path: str | os.PathLike[str]) -> Signature | None:
    """(device, inode, size, mtime ns, ctime ns) of the file, None where it proves nothing.

    On Windows ``st_ctime`` is the creation time, which an overwrite in place keeps; there
    the signature cannot tell a same-size same-mtime replacement, so it is None and the
    caller must hash. Raises OSError when the file cannot be stat'ed.
    """
    st = os.stat(path)
    if os.name == "nt":
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class FileDigests:
    """Thread-safe ``path -> hex digest`` memo, invalidated by any :func:`file_signature`
    change (never used where the signature proves nothing)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._memo: dict[tuple[str, Signature], str] = {}
        self._max_entries = max_entries

    def digest(self, path: str | os.PathLike[str]) -> str:
        """blake2b-128 of the file's bytes as 32 hex characters.

        Raises OSError when the file cannot be read.
        """
        real = os.path.realpath(path)
        signature = file_signature(real)
        if signature is None:
            return hash_file(real)
        key = (real, signature)
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
    """The image file's content hash, computed from its bytes on every call (no memo)."""
    return hash_file(path)


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
