"""Installing a checkpoint file the user already has (downloaded on another machine).

``install_local_file(source, checkpoint)`` checks the file against the catalog's published
size and SHA-256 and *copies* it into ``models_dir()`` under the catalog's file name. The
user's file is never moved or changed; the copy goes to a temporary name in the models
folder and is renamed into place only once complete, so an interrupted copy never looks
installed. A different file already lying at the destination is never overwritten.

``not_installed_reason(checkpoint)`` says why a file in the models folder does not count
as installed (wrong size, i.e. incomplete or another file); ``checksum_problem`` checks a
file of the right size against the published SHA-256 (slow for big files: a worker's job).
Digests already computed are remembered in ``models_dir()/.samdesk-verified.json`` by
file name, size and modification time, so each file is read in full only once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from samdesk.models.download import DownloadCancelled

_CHUNK = 4 * 1024 * 1024
VERIFIED_FILE = ".samdesk-verified.json"


class LocalFileError(Exception):
    """The chosen file cannot be installed; the message says why, for the user."""


def _human(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} B"


def file_sha256(
    path: Path,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> str:
    """SHA-256 of ``path`` in hex, read in chunks (``progress(done, total)`` per chunk)."""
    total = path.stat().st_size
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled("cancelled")
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    return digest.hexdigest()


def install_local_file(
    source: str | os.PathLike[str],
    checkpoint: Any,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Verify ``source`` against ``checkpoint`` (an ``OfficialCheckpoint``) and copy it into
    place; returns the installed path. Raises LocalFileError with the reason otherwise."""
    source = Path(source)
    dest = Path(checkpoint.local_path())
    if not source.is_file():
        raise LocalFileError(f"{source} is not a file")
    size = source.stat().st_size
    if checkpoint.size and size != checkpoint.size:
        raise LocalFileError(
            f"{source.name} is {_human(size)} ({size:,} bytes); {checkpoint.display_name} is "
            f"{checkpoint.size:,} bytes. It is incomplete or another file; nothing was copied."
        )
    actual = file_sha256(source, progress, cancel)
    if checkpoint.sha256 is not None and actual != checkpoint.sha256:
        raise LocalFileError(
            f"Checksum mismatch: {source.name} has SHA-256 {actual}, the published "
            f"{checkpoint.display_name} has {checkpoint.sha256}. It is another file or a "
            "damaged copy; nothing was copied."
        )
    with contextlib.suppress(OSError):
        if source.resolve() == dest.resolve():
            remember_sha256(dest, actual)
            return dest  # it is the installed file itself
    if dest.exists():
        if dest.stat().st_size == size and file_sha256(dest) == actual:
            return dest  # the same file is installed already
        raise LocalFileError(
            f"Another file named {dest.name} is already in {dest.parent}. Move it away "
            "(Open models folder) and try again; samdesk does not overwrite it."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".copy", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)  # a copy: the user's file stays where it is
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    remember_sha256(dest, actual)
    return dest


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def _verified(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / VERIFIED_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remember_sha256(path: Path, sha256: str) -> None:
    """Record ``path``'s digest (with its size and mtime) so it is not computed again."""
    from samdesk.io.atomic import atomic_write_text

    try:
        known = _verified(path.parent)
        known[path.name] = {"stamp": _stamp(path), "sha256": sha256}
        atomic_write_text(path.parent / VERIFIED_FILE, json.dumps(known, indent=1))
    except OSError:
        pass  # only a cache: the next check computes it again


def known_sha256(path: Path) -> str | None:
    """The remembered digest of ``path`` if the file is unchanged since, else None."""
    entry = _verified(path.parent).get(path.name)
    try:
        if isinstance(entry, dict) and entry.get("stamp") == _stamp(path):
            return str(entry.get("sha256"))
    except OSError:
        return None
    return None


def checksum_problem(checkpoint: Any, cancel: threading.Event | None = None) -> str | None:
    """For a file of the published size in the models folder: why its SHA-256 disqualifies
    it, or None (it matches, no digest is published, or there is no such file)."""
    path = Path(checkpoint.local_path())
    if checkpoint.sha256 is None or not path.is_file():
        return None
    if checkpoint.size and path.stat().st_size != checkpoint.size:
        return None  # not_installed_reason's case
    actual = known_sha256(path)
    if actual is None:
        actual = file_sha256(path, cancel=cancel)
        remember_sha256(path, actual)
    if actual == checkpoint.sha256:
        return None
    return (
        "Not installed: checksum mismatch (the file in the models folder is another file "
        "or damaged)"
    )


def not_installed_reason(checkpoint: Any) -> str | None:
    """Why the file at ``checkpoint.local_path()`` is not installed, or None (no file, or
    it is installed)."""
    path = Path(checkpoint.local_path())
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if not path.is_file() or not checkpoint.size or size == checkpoint.size:
        return None
    kind = "incomplete" if size < checkpoint.size else "another file"
    return (
        f"Not installed: the file in the models folder is {_human(size)}, expected "
        f"{_human(checkpoint.size)} (wrong size: {kind})"
    )
