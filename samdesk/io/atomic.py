"""Crash-safe file writes: a file is either entirely the old or entirely the new version.

``atomic_write_bytes`` writes a temporary file in the *same* folder (so that the final
rename stays on one file system), flushes and fsyncs it, then ``os.replace``s it over the
target and fsyncs the folder (POSIX) so that the rename itself survives a power cut. If
anything fails before the rename, the temporary file is removed and the previous file is
untouched.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

__all__ = [
    "append_line",
    "atomic_write_bytes",
    "atomic_write_text",
    "fsync_dir",
    "temp_name_pattern",
]

TEMP_SUFFIX = ".tmp"
"""Temporary files are named ``.<target name>.<random>.tmp``; stale ones (left by a crash
between creation and rename) are harmless and may be deleted."""

_TOKEN_HEX = 8  # secrets.token_hex(4): 8 hex digits


def temp_name_pattern(target: str = r".+") -> re.Pattern[str]:
    """The names ``atomic_write_bytes`` gives its temporary files for targets matching
    ``target`` (a regular expression for the final file's name)."""
    return re.compile(rf"\.(?:{target})\.[0-9a-f]{{{_TOKEN_HEX}}}{re.escape(TEMP_SUFFIX)}")


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """fsync a folder so that renames/creations in it are durable (no-op on Windows)."""
    if os.name == "nt":  # Windows cannot open a directory; NTFS journals the rename.
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably (see the module docstring)."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(_TOKEN_HEX // 2)}{TEMP_SUFFIX}")
    try:
        with open(temp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        # The previous version of the file is intact; only our temporary file goes.
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(target.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """``atomic_write_bytes`` for UTF-8 text (newlines written as given, "\\n")."""
    atomic_write_bytes(path, text.encode("utf-8"))


def append_line(path: str | os.PathLike[str], line: str, *, durable: bool = False) -> None:
    """Append one "\\n"-terminated line (fsync'd if ``durable``).

    Not atomic: a crash can leave a torn last line, so readers of such logs must ignore a
    last line that does not parse (``samdesk.io.project``'s index does).
    """
    with open(path, "ab") as handle:
        handle.write(line.encode("utf-8") + (b"" if line.endswith("\n") else b"\n"))
        handle.flush()
        if durable:
            os.fsync(handle.fileno())
