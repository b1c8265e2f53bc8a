"""Embedding caches: an LRU in memory bounded in bytes, and fp16 files on disk.

Memory: 4 MiB per fp32 embedding; the service pins the images it still wants (the current
one and the prefetch targets) so eviction only drops images the user has left.

Disk file layout (little-endian), one file per (image content, checkpoint):

    magic   8 bytes  b"SAMDEMB1"
    hlen    u32      length of the JSON header
    header  hlen     {"model_key", "content_hash", "shape", "dtype": "float16",
                      "original_size", "input_size", "crc32"}
    payload          features as fp16, C order; crc32 is over these bytes

Anything that does not match — short file, wrong magic, bad JSON, another model's or
another image's entry, a shape other than 1×256×64×64, a wrong checksum — is reported as
a miss, deleted, and recomputed by the caller. fp16 halves the size (2 MiB per image);
decode results from it differ from fp32 ones by rounding, invisible as masks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import struct
import sys
import tempfile
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from samdesk.core.files import remove_stale_temporaries
from samdesk.engine.embedding import FEATURES_SHAPE, Embedding

log = logging.getLogger(__name__)

MAGIC = b"SAMDEMB1"
_HLEN = struct.Struct("<I")
_MAX_HEADER = 64 * 1024


class MemoryCache:
    """Thread-safe LRU of embeddings by image key, bounded by the bytes of their features.

    Pinned keys are never evicted; when only pinned entries are left the cache may exceed
    its limit (the image on screen must stay), which the service avoids by planning its
    prefetch within :attr:`max_bytes`.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be ≥ 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._items: OrderedDict[str, Embedding] = OrderedDict()
        self._bytes = 0
        self._pinned: frozenset[str] = frozenset()

    def get(self, key: str) -> Embedding | None:
        """The embedding for ``key`` (marked most recently used), or None."""
        with self._lock:
            emb = self._items.get(key)
            if emb is not None:
                self._items.move_to_end(key)
            return emb

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def put(self, key: str, embedding: Embedding) -> None:
        """Insert or replace ``key``, then evict least recently used unpinned entries."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = embedding
            self._bytes += embedding.nbytes
            self._evict_locked()

    def pin(self, keys: Iterable[str]) -> None:
        """Replace the set of keys that eviction must keep."""
        with self._lock:
            self._pinned = frozenset(keys)
            self._evict_locked()

    def discard(self, key: str) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes currently held."""
        with self._lock:
            return self._bytes

    def keys(self) -> list[str]:
        """Keys from least to most recently used."""
        with self._lock:
            return list(self._items)

    def _evict_locked(self) -> None:
        if self._bytes <= self.max_bytes:
            return
        for key in [k for k in self._items if k not in self._pinned]:
            if self._bytes <= self.max_bytes:
                break
            self._bytes -= self._items.pop(key).nbytes


_TEMP_PREFIX, _TEMP_SUFFIX = ".tmp-", ".emb"
TEMP_PATTERN = re.compile(r"\.tmp-[a-z0-9_]{8}\.emb")
"""The names ``tempfile.mkstemp`` gives :meth:`DiskCache.save`'s temporary files (eight of
its random characters between our prefix and suffix); stale ones are removed on open."""


class DiskCache:
    """fp16 embedding files in ``directory``, keyed by image content hash + model key.

    Safe to share between processes (``samdesk encode`` running while the window is
    open): writes go to a temporary file in the same folder and are renamed into place,
    so a reader sees either no file or a whole one.

    ``read_first``: folders looked in before ``directory`` and only read (a team's
    project cache that ``samdesk encode`` filled on a GPU box, read by every laptop whose
    own cache is the user's). Nothing there is written or deleted: a bad entry in one of
    them is skipped, and the embedding is computed and saved into ``directory``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        read_first: Iterable[str | os.PathLike[str]] = (),
    ) -> None:
        self.directory = Path(directory)
        self.read_first = tuple(
            Path(d) for d in read_first if Path(d).absolute() != self.directory.absolute()
        )
        remove_stale_temporaries(self.directory, TEMP_PATTERN)  # left by a crashed save

    def path_for(self, content_hash: str, model_key: str) -> Path:
        """Where the entry for this image content and model lives."""
        # The model key is hashed into the name so that different checkpoints never
        # share a file; a short prefix of the fingerprint is enough to keep them apart.
        model_tag = model_key.removeprefix("ckpt-")[:16]
        return self.directory / f"{content_hash}-{model_tag}.emb"

    def load(self, content_hash: str, model_key: str, image_key: str) -> Embedding | None:
        """The stored embedding (features back to float32), or None on a miss.

        A corrupt or foreign entry is logged, deleted and reported as a miss (in a
        ``read_first`` folder it is only skipped).
        """
        for folder in self.read_first:
            shared = folder / self.path_for(content_hash, model_key).name
            try:
                data = shared.read_bytes()
                return _decode(data, content_hash, model_key, image_key)
            except FileNotFoundError:
                continue
            except (OSError, _BadEntry) as exc:
                log.warning("skipping cached embedding %s: %s", shared, exc)
        path = self.path_for(content_hash, model_key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read cached embedding %s: %s", path, exc)
            return None
        try:
            return _decode(data, content_hash, model_key, image_key)
        except _BadEntry as exc:
            log.warning("discarding cached embedding %s: %s", path, exc)
            self._remove(path)
            return None

    def contains(self, content_hash: str, model_key: str) -> bool:
        """Whether an entry file exists (not validated; :meth:`load` validates)."""
        return self.path_for(content_hash, model_key).is_file()

    def save(self, content_hash: str, embedding: Embedding) -> Path:
        """Write ``embedding`` atomically; returns the file's path.

        A failed write leaves any previous entry intact (the temporary file is removed)
        and raises OSError.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(content_hash, embedding.model_key)
        payload = np.ascontiguousarray(embedding.features, dtype="<f2").tobytes()
        header = json.dumps(
            {
                "model_key": embedding.model_key,
                "content_hash": content_hash,
                "shape": list(embedding.features.shape),
                "dtype": "float16",
                "original_size": list(embedding.original_size),
                "input_size": list(embedding.input_size),
                "crc32": zlib.crc32(payload),
            }
        ).encode()
        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX, dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + _HLEN.pack(len(header)) + header)
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            self._remove(Path(tmp))
            raise
        return path

    @staticmethod
    def _remove(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()


class _BadEntry(Exception):
    pass


def _decode(data: bytes, content_hash: str, model_key: str, image_key: str) -> Embedding:
    head = len(MAGIC) + _HLEN.size
    if len(data) < head or data[: len(MAGIC)] != MAGIC:
        raise _BadEntry("not a samdesk embedding file (bad magic)")
    (hlen,) = _HLEN.unpack_from(data, len(MAGIC))
    if hlen > _MAX_HEADER or head + hlen > len(data):
        raise _BadEntry("truncated header")
    try:
        header = json.loads(data[head : head + hlen])
        shape = tuple(int(v) for v in header["shape"])
        foreign = header["model_key"] != model_key or header["content_hash"] != content_hash
        original_size = tuple(int(v) for v in header["original_size"])
        input_size = tuple(int(v) for v in header["input_size"])
        crc = int(header["crc32"])
        dtype = header["dtype"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _BadEntry(f"unreadable header ({exc})") from None
    if foreign:
        raise _BadEntry("entry belongs to another model or image")
    if shape != FEATURES_SHAPE or dtype != "float16":
        raise _BadEntry(f"unexpected features {dtype} {shape}, expected float16 {FEATURES_SHAPE}")
    if len(original_size) != 2 or len(input_size) != 2:
        raise _BadEntry("bad image sizes in header")
    payload = memoryview(data)[head + hlen :]
    if len(payload) != int(np.prod(shape)) * 2:
        raise _BadEntry(f"payload is {len(payload)} bytes, expected {int(np.prod(shape)) * 2}")
    if zlib.crc32(payload) != crc:
        raise _BadEntry("checksum mismatch")
    features = np.frombuffer(payload, dtype="<f2").reshape(shape).astype(np.float32)
    return Embedding(image_key, model_key, features, original_size, input_size, source="disk")


def project_cache_dir(project_folder: str | os.PathLike[str]) -> Path:
    """The default disk cache of a project: ``<project>/.samdesk/embeddings``."""
    return Path(project_folder) / ".samdesk" / "embeddings"


def user_cache_dir() -> Path:
    """The per-user cache folder for embeddings of images outside a project."""
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "samdesk" / "cache" / "embeddings"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "samdesk" / "embeddings"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "samdesk" / "embeddings"
