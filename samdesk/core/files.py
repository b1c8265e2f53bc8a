"""Reading only regular files: a FIFO, socket, device or folder is refused, never waited on.

A named pipe called ``x.png`` (or an annotation "file" that is a folder) must not hang the
image loader or refuse a whole project: ``open()`` on a FIFO blocks until a writer appears,
and reading a device may never end. So every file samdesk reads from a project is opened
non-blocking, checked with ``fstat`` on the open descriptor (no race between the check and
the read), and refused with :class:`NotRegularFileError` unless it is a regular file.
Symbolic links are followed (a link to a regular file is a regular file).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "STALE_AFTER_S",
    "NotRegularFileError",
    "file_kind",
    "is_regular_file",
    "open_regular",
    "read_regular",
    "remove_stale_temporaries",
]

_log = logging.getLogger(__name__)

STALE_AFTER_S = 3600.0
"""A temporary file untouched this long (seconds) belongs to a writer that died: a real
write (an annotation file, one embedding) takes well under a second."""

# Opening a FIFO for reading blocks until a writer opens it, unless non-blocking (POSIX).
# Windows has no such flag, nor FIFOs in the file system.
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)


class NotRegularFileError(OSError):
    """The path exists but is not a regular file (``kind`` says what it is, in words)."""

    def __init__(self, path: str | os.PathLike[str], kind: str) -> None:
        self.kind = kind
        self.path = os.fspath(path)
        super().__init__(f"not a regular file (it is {kind})")


def file_kind(mode: int) -> str:
    """What a ``st_mode`` describes, in words ("a folder", "a FIFO (named pipe)", …)."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a file"


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is (or links to) a regular file; False if missing or anything else.

    Never opens the file, so it cannot block.
    """
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for binary reading; the caller closes it.

    Raises NotRegularFileError (an OSError) at once for a FIFO, socket, device or folder,
    and the usual OSError (FileNotFoundError, PermissionError…) otherwise.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_BINARY)
    except (IsADirectoryError, PermissionError) as exc:
        # Windows refuses to open a folder at all, with "permission denied".
        if os.path.isdir(path):
            raise NotRegularFileError(path, "a folder") from exc
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(path, file_kind(mode))
        if _O_NONBLOCK:
            # Regular files ignore the flag, but clear it: what reads the file next need
            # never meet EAGAIN.
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str]) -> bytes:
    """The whole content of a regular file (``open_regular``'s errors otherwise)."""
    with open_regular(path) as handle:
        return handle.read()


def remove_stale_temporaries(
    folder: str | os.PathLike[str],
    pattern: re.Pattern[str],
    *,
    max_age_s: float = STALE_AFTER_S,
    now: float | None = None,
) -> list[Path]:
    """Delete the leftovers of samdesk's own interrupted writes in ``folder``; their paths.

    Only entries of ``folder`` itself (no recursion) whose whole name matches ``pattern``
    (the exact naming of one of samdesk's temporary files), that are regular files (not
    links, folders or anything else) and whose modification time is more than
    ``max_age_s`` before ``now`` (default: the current time): a temporary file still being
    written by another samdesk process is younger than that. Errors (a missing folder, a
    file that vanished or cannot be deleted) are ignored: this is housekeeping.
    """
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        with os.scandir(folder) as entries:
            candidates = [entry for entry in entries if pattern.fullmatch(entry.name)]
    except OSError:
        return removed
    for entry in candidates:
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or now - info.st_mtime <= max_age_s:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    if removed:
        _log.info("removed %d stale temporary file(s) in %s", len(removed), folder)
    return removed
