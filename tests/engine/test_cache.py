"""Memory LRU bounded in bytes; disk cache round trip and corruption recovery; hashes."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from samdesk.engine.cache import MAGIC, DiskCache, MemoryCache
from samdesk.engine.embedding import Embedding
from samdesk.engine.fingerprint import checkpoint_fingerprint, content_hash

HASH = "0123456789abcdef0123456789abcdef"
MODEL = "ckpt-" + "ab" * 16


def _small(key: str, value: float = 1.0) -> Embedding:
    """A 1×4×8×8 embedding: 1024 bytes."""
    return Embedding(key, MODEL, np.full((1, 4, 8, 8), value, np.float32), (10, 20), (512, 1024))


def _full(key: str = "img.png", seed: int = 0) -> Embedding:
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((1, 256, 64, 64)).astype(np.float32)
    return Embedding(key, MODEL, features, (534, 800), (683, 1024))


def test_memory_cache_is_bounded_in_bytes_and_evicts_lru() -> None:
    cache = MemoryCache(max_bytes=3 * 1024)
    for key in "abc":
        cache.put(key, _small(key))
    assert cache.nbytes == 3 * 1024
    assert cache.get("a") is not None  # a is now most recently used
    cache.put("d", _small("d"))
    assert cache.keys() == ["c", "a", "d"]  # b was least recently used
    assert cache.nbytes == 3 * 1024
    cache.put("a", _small("a", 2.0))  # replacing does not double-count
    assert cache.nbytes == 3 * 1024 and cache.get("a").features[0, 0, 0, 0] == 2.0


def test_memory_cache_never_evicts_pinned_entries() -> None:
    cache = MemoryCache(max_bytes=2 * 1024)
    cache.put("a", _small("a"))
    cache.put("b", _small("b"))
    cache.pin(["a", "b", "c"])
    cache.put("c", _small("c"))
    assert sorted(cache.keys()) == ["a", "b", "c"]  # over the limit rather than drop them
    cache.pin(["c"])
    assert cache.keys() == ["b", "c"]  # unpinned a went first, back within the limit
    assert cache.nbytes == 2 * 1024


def test_embedding_is_read_only() -> None:
    emb = _small("a")
    with pytest.raises(ValueError):
        emb.features[0, 0, 0, 0] = 5.0
    with pytest.raises(AttributeError):
        emb.image_key = "b"  # type: ignore[misc]


def test_disk_round_trip_is_fp16_exact(tmp_path: Path) -> None:
    disk = DiskCache(tmp_path / "emb")
    emb = _full()
    path = disk.save(HASH, emb)
    assert path.parent == tmp_path / "emb" and path.stat().st_size < 2 * emb.nbytes // 2 + 4096
    loaded = disk.load(HASH, MODEL, "other-name.png")
    assert loaded is not None and loaded.source == "disk"
    assert loaded.image_key == "other-name.png" and loaded.model_key == MODEL
    assert loaded.features.dtype == np.float32 and loaded.features.shape == (1, 256, 64, 64)
    np.testing.assert_array_equal(loaded.features, emb.features.astype(np.float16))
    assert (loaded.original_size, loaded.input_size) == ((534, 800), (683, 1024))
    assert not list((tmp_path / "emb").glob(".tmp-*"))  # no temporary file left
    assert disk.load("f" * 32, MODEL, "x") is None  # plain miss


def _rewrite_header(path: Path, **changes) -> None:
    data = path.read_bytes()
    (hlen,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    header = json.loads(data[start : start + hlen])
    payload = data[start + hlen :]
    if "payload" in changes:
        payload = changes.pop("payload")
        header["crc32"] = zlib.crc32(payload)
    header.update(changes)
    raw = json.dumps(header).encode()
    path.write_bytes(MAGIC + struct.pack("<I", len(raw)) + raw + payload)


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "garbage",
        "empty",
        "flipped_byte",
        "wrong_shape",
        "foreign_model",
        "foreign_image",
        "bad_json",
    ],
)
def test_corrupt_or_foreign_entry_is_discarded(tmp_path: Path, damage: str) -> None:
    disk = DiskCache(tmp_path)
    path = disk.save(HASH, _full())
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "flipped_byte":
        broken = bytearray(data)
        broken[-100] ^= 0xFF
        path.write_bytes(bytes(broken))
    elif damage == "wrong_shape":
        payload = np.zeros((1, 256, 32, 32), np.float16).tobytes()
        _rewrite_header(path, shape=[1, 256, 32, 32], payload=payload)
    elif damage == "foreign_model":
        _rewrite_header(path, model_key="ckpt-someone-else")
    elif damage == "foreign_image":
        _rewrite_header(path, content_hash="f" * 32)
    elif damage == "bad_json":
        path.write_bytes(MAGIC + struct.pack("<I", 5) + b"{nope" + b"\0" * 64)
    assert disk.load(HASH, MODEL, "img.png") is None
    assert not path.exists()  # discarded, so the next save starts clean
    disk.save(HASH, _full())
    assert disk.load(HASH, MODEL, "img.png") is not None


def test_different_models_use_different_files(tmp_path: Path) -> None:
    disk = DiskCache(tmp_path)
    emb = _full()
    other = Embedding("img.png", "ckpt-" + "cd" * 16, emb.features, (534, 800), (683, 1024))
    assert disk.save(HASH, emb) != disk.save(HASH, other)
    assert disk.load(HASH, "ckpt-" + "ef" * 16, "img.png") is None


def test_failed_write_keeps_the_previous_entry(tmp_path: Path, monkeypatch) -> None:
    disk = DiskCache(tmp_path)
    disk.save(HASH, _full(seed=1))

    def fail(*args, **kwargs):
        raise OSError("disk full (fake)")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        disk.save(HASH, _full(seed=2), replace_valid=True)
    monkeypatch.undo()
    loaded = disk.load(HASH, MODEL, "img.png")
    np.testing.assert_array_equal(loaded.features, _full(seed=1).features.astype(np.float16))
    assert not list(tmp_path.glob(".tmp-*"))


def test_content_hash_follows_contents_not_names(tmp_path: Path) -> None:
    a = tmp_path / "a.jpg"
    a.write_bytes(b"same bytes")
    b = tmp_path / "renamed.jpg"
    b.write_bytes(b"same bytes")
    c = tmp_path / "c.jpg"
    c.write_bytes(b"other bytes")
    assert content_hash(a) == content_hash(b) != content_hash(c)


def test_checkpoint_fingerprint_changes_with_the_file(tmp_path: Path) -> None:
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"weights v1")
    first = checkpoint_fingerprint(ckpt)
    assert first.startswith("ckpt-") and checkpoint_fingerprint(ckpt) == first
    # Same size, replaced in place: the memo is keyed by mtime too, so it re-hashes.
    ckpt.write_bytes(b"weights v2")
    st = ckpt.stat()
    os.utime(ckpt, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert checkpoint_fingerprint(ckpt) != first


def test_embeddings_cached_by_an_earlier_model_version_are_not_reused(tmp_path: Path) -> None:
    # Version 1 keyed a checkpoint by its bytes alone ("ckpt-" + blake2b-128 of the file) and
    # computed TinyViT without its trained attention biases: such entries must miss now.
    from samdesk.engine.fingerprint import MODEL_OUTPUT_VERSION, hash_file

    ckpt = tmp_path / "mobile_sam.pt"
    ckpt.write_bytes(b"tiny vit weights")
    old_key = "ckpt-" + hash_file(ckpt)
    new_key = checkpoint_fingerprint(ckpt)
    assert MODEL_OUTPUT_VERSION >= 2
    assert new_key != old_key and new_key.startswith("ckpt-") and len(new_key) == len(old_key)
    cache = DiskCache(tmp_path / "cache")
    assert cache.path_for("c0ffee", new_key) != cache.path_for("c0ffee", old_key)
