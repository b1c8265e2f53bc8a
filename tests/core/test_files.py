"""samdesk.core.files: only regular files are read; stale temporaries by exact name and age."""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest

from samdesk.core.files import (
    NotRegularFileError,
    is_regular_file,
    read_regular,
    remove_stale_temporaries,
)

pytestmark = pytest.mark.timeout(30, method="signal")  # a blocked open() fails, never hangs


def test_regular_files_and_links_to_them_are_read(tmp_path: Path) -> None:
    file = tmp_path / "a.png"
    file.write_bytes(b"data")
    link = tmp_path / "link.png"
    link.symlink_to(file)
    assert read_regular(file) == read_regular(link) == b"data"
    assert is_regular_file(file) and is_regular_file(link)
    with open(file, "rb") as handle:  # what is read next never meets EAGAIN
        assert os.get_blocking(handle.fileno())


def test_anything_else_is_refused_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    with pytest.raises(NotRegularFileError, match="a folder"):
        read_regular(folder)
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing.png")
    dangling = tmp_path / "dangling.png"
    dangling.symlink_to(tmp_path / "missing.png")
    assert not is_regular_file(dangling) and not is_regular_file(folder)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.png"
        os.mkfifo(fifo)
        with pytest.raises(NotRegularFileError, match="FIFO"):
            read_regular(fifo)
        assert not is_regular_file(fifo)
    if hasattr(socket, "AF_UNIX"):
        path = tmp_path / "s.png"
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path))
            # A socket cannot even be opened; either way it is refused promptly.
            with pytest.raises(OSError):
                read_regular(path)
    if os.name == "posix":  # a device never ends (/dev/zero) or is empty: not an image
        with pytest.raises(NotRegularFileError, match="device"):
            read_regular("/dev/zero")


def test_only_old_regular_files_with_the_exact_name_are_removed(tmp_path: Path) -> None:
    pattern = re.compile(r"\.tmp-[a-z]{3}\.x")
    now = time.time()

    def make(name: str, age: float) -> Path:
        path = tmp_path / name
        path.write_text(name)
        os.utime(path, (now - age, now - age))
        return path

    old = make(".tmp-abc.x", 7200)
    young = make(".tmp-abd.x", 60)
    longer = make(".tmp-abc.x.bak", 7200)  # the pattern must match the whole name
    folder = tmp_path / ".tmp-abe.x"
    folder.mkdir()
    os.utime(folder, (now - 7200, now - 7200))
    assert remove_stale_temporaries(tmp_path, pattern, max_age_s=3600, now=now) == [old]
    assert not old.exists() and young.exists() and longer.exists() and folder.is_dir()
    assert remove_stale_temporaries(tmp_path / "missing", pattern) == []
