"""Disk cache in a shared (team) folder, and its size bound."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from samdesk.engine.cache import MAGIC, DiskCache
from samdesk.engine.embedding import FEATURES_SHAPE, Embedding

MODEL = "ckpt-" + "ab" * 16


def _emb(value: float) -> Embedding:
    return Embedding(
        "img.png", MODEL, np.full(FEATURES_SHAPE, value, np.float32), (10, 20), (512, 1024)
    )


def _hash(i: int) -> str:
    return f"{i:032x}"


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_entries_are_readable_by_the_team(tmp_path: Path, umask_022: None) -> None:
    path = DiskCache(tmp_path / "team").save(_hash(1), _emb(1.0))
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o644, oct(mode)  # the umask decides, as for any file the user makes
    os.umask(0o002)  # a team sharing through a group
    path2 = DiskCache(tmp_path / "team").save(_hash(2), _emb(2.0))
    assert stat.S_IMODE(path2.stat().st_mode) == 0o664


def test_a_valid_entry_is_never_replaced(tmp_path: Path) -> None:
    first = DiskCache(tmp_path)
    path = first.save(_hash(1), _emb(1.0))
    before = path.stat()
    # A second user (another process) encodes the same image: the entry stays as it is.
    DiskCache(tmp_path).save(_hash(1), _emb(1.0))
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # A damaged entry is replaced.
    path.write_bytes(path.read_bytes()[:100])
    DiskCache(tmp_path).save(_hash(1), _emb(1.0))
    assert DiskCache(tmp_path).load(_hash(1), MODEL, "img.png") is not None


def test_size_bound_prunes_least_recently_used_entries_only(tmp_path: Path) -> None:
    entry = len(MAGIC) + 4 + 300 + 2 * int(np.prod(FEATURES_SHAPE))  # ~2 MiB each
    disk = DiskCache(tmp_path, max_bytes=4 * entry)
    # What is not ours: the user's files, an in-progress temp file, a look-alike name.
    mine = tmp_path / "notes.txt"
    tmp = tmp_path / ".tmp-0123.emb"
    lookalike = tmp_path / f"{_hash(99)}-{'ab' * 8}.emb"
    big = b"x" * (3 * entry)
    for f in (mine, tmp, lookalike):
        f.write_bytes(big)
    paths = []
    for i in range(4):
        paths.append(disk.save(_hash(i), _emb(float(i))))
        os.utime(paths[-1], (1_000_000 + i, 1_000_000 + i))  # written long ago, in order
    assert disk.load(_hash(0), MODEL, "img.png") is not None  # used now: most recent
    paths.append(disk.save(_hash(4), _emb(4.0)))  # over the bound: prune
    left = {p.name for p in tmp_path.glob("*.emb")} - {lookalike.name, tmp.name}
    kept = {p.name for p in paths if p.exists()}
    assert left == kept
    assert paths[0].exists() and paths[4].exists()  # the used one and the new one
    assert not paths[1].exists()  # the least recently used goes first
    total = sum(p.stat().st_size for p in paths if p.exists())
    assert total <= 4 * entry * 0.9 + 1
    for f in (mine, tmp, lookalike):
        assert f.read_bytes() == big  # never touched


def test_encode_cli_cache_limit(tmp_path: Path, monkeypatch, fake_backend_cls) -> None:
    import argparse
    import io

    from PIL import Image

    import samdesk.engine.backend as backend_module
    from samdesk.engine.cli import add_encode_arguments, run_encode

    monkeypatch.setattr(backend_module, "SamBackend", lambda *a, **k: fake_backend_cls())
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (20, 12), (10 * i, 0, 0)).save(folder / f"{i}.png")
    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"w")
    parser = argparse.ArgumentParser()
    add_encode_arguments(parser)
    args = parser.parse_args([str(folder), "--checkpoint", str(ckpt), "--cache-limit-gb", "0.005"])
    assert run_encode(args, stream=io.StringIO()) == 0
    entries = list((folder / ".samdesk" / "embeddings").glob("*.emb"))
    assert 1 <= len(entries) <= 2  # 5 MB hold two ~2.1 MB entries
    assert sum(p.stat().st_size for p in entries) <= 5_000_000
