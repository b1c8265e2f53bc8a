"""Counting the images in a folder the user is still typing: bounded in files and time.

``scan_images`` walks everything; typing "/" into a folder field would walk the whole file
system. ``count_images`` stops after ``max_files`` directory entries or ``max_seconds`` and
says so, so a background count always ends quickly and its answer can say "more than N".
No Qt, no torch: the New Project dialog runs it on a worker thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from samdesk.core.files import is_regular_file
from samdesk.core.images import IMAGE_EXTENSIONS

MAX_FILES = 10_000
MAX_SECONDS = 2.0


@dataclass(frozen=True)
class FolderCount:
    """``images`` found; ``complete`` False when the walk stopped at a limit first
    (then there are at least ``images``). ``visited``: directory entries looked at."""

    images: int
    complete: bool
    visited: int


def count_images(
    folder: str | os.PathLike[str],
    recursive: bool = True,
    *,
    max_files: int = MAX_FILES,
    max_seconds: float = MAX_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> FolderCount:
    """Images under ``folder`` as ``scan_images`` would list them, with limits.

    Same rules as ``scan_images``: suffix in ``IMAGE_EXTENSIONS`` (any case), hidden files
    and folders skipped, only regular files (or links to them) counted. Unreadable
    sub-folders are skipped (``os.walk`` ignores them).
    Raises NotADirectoryError when ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    deadline = clock() + max_seconds
    images = visited = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if recursive:
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        else:
            dirnames[:] = []
        for name in filenames:
            visited += 1
            if name.startswith(".") or Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            if is_regular_file(Path(dirpath) / name):  # a FIFO is never opened (it blocks)
                images += 1
            if visited >= max_files:
                return FolderCount(images, False, visited)
        visited += len(dirnames)
        if visited >= max_files or clock() > deadline:
            return FolderCount(images, False, visited)
    return FolderCount(images, True, visited)


def is_broad_folder(folder: str | os.PathLike[str]) -> str | None:
    """Why ``folder`` is too broad for a project without asking ("the root of the file
    system", "your home folder"), or None for an ordinary folder."""
    path = Path(folder).expanduser()
    try:
        path = path.resolve()
    except OSError:
        return None
    if path == Path(path.anchor) or path.parent == path:
        return "the root of the file system"
    try:
        if path == Path.home().resolve():
            return "your home folder"
    except (OSError, RuntimeError):
        pass
    return None
