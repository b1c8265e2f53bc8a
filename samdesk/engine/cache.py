"""Embedding caches: an LRU in memory bounded in bytes, and fp16 files on disk.

Memory: 4 MiB per fp32 embedding; the service pins the images it still wants (the current
one and the prefetch targets) so eviction only drops images the user has left.

Disk file layout (little-endian), one file per (image content, checkpoint):

    magic   8 bytes  b"SAMDEMB1"
    hlen    u32      length of the JSON header
    header  hlen     {"model_key", "content_hash", "shape", "dtype": "float16",
                      "original_size", "input_size", "crc32"}
    payload          features as fp16, C order; crc32 is over these bytes

Anything that does not match — short file, bad JSON, another model's or another image's
entry, a shape other than 1×256×64×64, a wrong checksum, non-finite values — is reported
as a miss, deleted, and recomputed by the caller (the file is named by this image's content
hash and this model: no file of the user's has that name). fp16 halves the size
(2 MiB per image); decode results from it differ from fp32 ones by rounding, invisible as
masks.

Shared (team) folders: entries are created as ordinary files, with the permissions the
process umask gives (``0644`` under the usual ``022``; a team sharing a folder through a
group uses umask ``002`` and a setgid folder), so everyone who can read the folder can use
them. A valid entry that can be read is never replaced; an entry that cannot be read (from
a version that wrote ``0600`` files) is replaced by a readable one.

Size bound: ``max_bytes`` (default 10 GB). After a write that takes the folder past it,
the least recently used entries — by modification time, which :meth:`DiskCache.load`
refreshes on every hit — are deleted until the folder is at 90 % of the bound. Only files
that are samdesk entries (name ``<32 hex>-<hex>.emb`` and samdesk's magic) are ever
deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import struct
import sys
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from samdesk.core.files import read_regular, remove_stale_temporaries
from samdesk.engine.embedding import FEATURES_SHAPE, Embedding

log = logging.getLogger(__name__)

MAGIC = b"SAMDEMB1"
_HLEN = struct.Struct("<I")
_MAX_HEADER = 64 * 1024
DEFAULT_DISK_LIMIT = 10 * 1000**3
"""10 GB: about 5,000 images' fp16 embeddings."""
_ENTRY_NAME = re.compile(r"[0-9a-f]{32}-[0-9A-Za-z_.-]{1,16}\.emb")
_PRUNE_TO = 0.9  # hysteresis: prune to 90 % so that not every write scans the folder


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
"""The names of :meth:`DiskCache.save`'s temporary files (eight random characters between
our prefix and suffix, as ``tempfile.mkstemp`` would give); stale ones are removed on open."""


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
        max_bytes: int | None = DEFAULT_DISK_LIMIT,
        read_first: Iterable[str | os.PathLike[str]] = (),
    ) -> None:
        if max_bytes is not None and max_bytes < 0:
            raise ValueError(f"max_bytes must be ≥ 0 or None, got {max_bytes}")
        self.directory = Path(directory)
        self.read_first = tuple(
            Path(d) for d in read_first if Path(d).absolute() != self.directory.absolute()
        )
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._approx_bytes: int | None = None  # folder size estimate; None: not scanned yet
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
            data = read_regular(path)  # a FIFO named like an entry never blocks
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read cached embedding %s: %s", path, exc)
            return None
        try:
            embedding = _decode(data, content_hash, model_key, image_key)
        except _BadEntry as exc:
            # Named as our entry for this very image and model, in our cache folder: a
            # damaged entry of ours (the name is a 128-bit content hash, no user's choice).
            log.warning("discarding cached embedding %s: %s", path, exc)
            self._remove(path)
            return None
        # Recently used: pruning goes by mtime. Another user's entry cannot be touched;
        # it then ages as if unused, which costs at most a re-encode.
        with contextlib.suppress(OSError):
            os.utime(path)
        return embedding

    def contains(self, content_hash: str, model_key: str) -> bool:
        """Whether an entry file exists (not validated; :meth:`load` validates)."""
        return self.path_for(content_hash, model_key).is_file()

    def save(self, content_hash: str, embedding: Embedding, *, replace_valid: bool = False) -> Path:
        """Write ``embedding`` atomically; returns the file's path.

        An existing valid, readable entry is kept as it is (another process or user wrote
        the same embedding) unless ``replace_valid`` (``samdesk encode --force``). A failed write
        leaves any previous entry intact (the temporary file is removed) and raises OSError.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(content_hash, embedding.model_key)
        existing = _existing_entry(path, content_hash, embedding.model_key)
        if existing == "valid" and not replace_valid:
            return path
        half = np.ascontiguousarray(embedding.features, dtype="<f2")
        if not np.isfinite(half).all():
            raise ValueError("non-finite features (or beyond float16) are never cached")
        payload = half.tobytes()
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
        # Not mkstemp: its 0600 files would lock every other user of a team folder out.
        # O_EXCL on a random name gives the same safety; the umask sets the permissions.
        # 8 characters, as mkstemp's, so that TEMP_PATTERN finds a crashed save's leftover.
        tmp = self.directory / f"{_TEMP_PREFIX}{secrets.token_hex(4)}{_TEMP_SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags, 0o666)
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
        self._after_write(path, path.stat().st_size if existing is None else 0)
        return path

    def _after_write(self, path: Path, added: int) -> None:
        """Prune when the folder has (probably) grown past :attr:`max_bytes`."""
        if self.max_bytes is None:
            return
        with self._lock:
            if self._approx_bytes is not None:
                self._approx_bytes += added
                if self._approx_bytes <= self.max_bytes:
                    return
            self._approx_bytes = self.prune(keep=path)

    def entries(self) -> list[tuple[Path, int, float]]:
        """(path, size, last use) of the samdesk entries in the folder, oldest use first.

        Only files named like entries whose first bytes are samdesk's magic are listed;
        anything else in the folder is not ours and is ignored.
        """
        found: list[tuple[Path, int, float]] = []
        try:
            scan = list(os.scandir(self.directory))
        except OSError:
            return found
        for item in scan:
            if not _ENTRY_NAME.fullmatch(item.name):
                continue
            try:
                if not item.is_file(follow_symlinks=False):
                    continue
                st = item.stat(follow_symlinks=False)
                with open(item.path, "rb") as f:
                    if f.read(len(MAGIC)) != MAGIC:
                        continue
            except OSError:
                # Unreadable (another user's 0600 entry): size known, still ours by name.
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    continue
            # mtime, not atime: reading the magic above may itself bump the atime.
            found.append((Path(item.path), st.st_size, st.st_mtime))
        found.sort(key=lambda e: e[2])
        return found

    def prune(self, max_bytes: int | None = None, keep: Path | None = None) -> int:
        """Delete least recently used entries until the folder holds ≤ 90 % of the bound.

        Returns the bytes of entries left. Files that are not samdesk entries are never
        deleted (nor counted); an entry that cannot be deleted is skipped, and so is
        ``keep`` (the entry just written, even when it alone exceeds the bound).
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        if limit is None or total <= limit:
            return total
        target = int(limit * _PRUNE_TO)
        for path, size, _ in entries:
            if total <= target:
                break
            if keep is not None and path == keep:
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                continue
            total -= size
        return total

    @staticmethod
    def _remove(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()


class _BadEntry(Exception):
    pass


def _existing_entry(path: Path, content_hash: str, model_key: str) -> str | None:
    """None (no file), "valid" or "stale" (damaged, or unreadable to this user)."""
    try:
        data = read_regular(path)  # a FIFO named like an entry never blocks
    except FileNotFoundError:
        return None
    except OSError:
        return "stale"  # e.g. another user's 0600 entry: useless to us, replace it
    try:
        _decode(data, content_hash, model_key, "")
    except _BadEntry:
        return "stale"
    return "valid"


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
    if not np.isfinite(features).all():
        raise _BadEntry("non-finite features")
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
