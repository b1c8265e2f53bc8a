"""Why a save did not happen, in words a user understands, and the errors that say so.

No file names of temporary files, no errno numbers: "The disk is full", "The folder …
is read-only". Used by the store (read-only detection at open) and by the window's save
state (``samdesk.ui.save_state``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

from samdesk.io.locking import LockTimeout

__all__ = ["DamagedAnnotationsError", "describe_save_error", "write_problem"]


class DamagedAnnotationsError(Exception):
    """Saving would overwrite a damaged annotation file whose lost parts the user has not
    agreed to give up (``ProjectStore.allow_overwrite``)."""

    def __init__(self, image_path: str, problems: str) -> None:
        self.image_path, self.problems = image_path, problems
        super().__init__(
            f"The annotation file of {image_path} is damaged ({problems}). Saving would "
            "replace it; nothing was written."
        )


def probe_write(folder: Path) -> None:
    """Create and delete a tiny file of our own in ``folder``; OSError if that fails."""
    probe = folder / f".samdesk-write-test-{secrets.token_hex(4)}"
    fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.close(fd)
    with contextlib.suppress(OSError):
        probe.unlink()


def write_problem(project_file: Path) -> str | None:
    """Why samdesk cannot save into this project, in words, or None if it can.

    ``os.access`` answers from the permission bits, which network shares (SMB, NFS with
    ACLs) do not always tell truthfully; when it says "no", one real write of a probe
    file (ours, deleted at once) decides, so a writable share never opens view-only. A
    root process passes both everywhere; a save that fails anyway is reported when it
    happens (``describe_save_error``).
    """
    folder = project_file.parent
    data = folder / ".samdesk"
    target = data if data.is_dir() else folder
    if os.access(folder, os.W_OK) and os.access(target, os.W_OK):
        return None
    try:
        probe_write(target)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"The folder {folder} is read-only"  # the project's, as the user knows it
    return None


def describe_save_error(exc: BaseException, folder: Path | None = None) -> str:
    """A failed save's reason in words for the user (never a temporary file's name)."""
    if isinstance(exc, DamagedAnnotationsError):
        return str(exc)
    if isinstance(exc, LockTimeout):
        return "Another annotator is saving this project right now; try again"
    if isinstance(exc, OSError):
        code = exc.errno
        if exc.filename and folder is None:
            folder = Path(exc.filename).parent
        where = f" ({folder})" if folder is not None else ""
        if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return f"The disk is full{where}"
        if code in (errno.EACCES, errno.EPERM, errno.EROFS):
            if not exc.filename and exc.strerror and exc.strerror.startswith("The folder"):
                return exc.strerror  # our own read-only message
            return f"The folder {folder} is read-only" if folder else "The folder is read-only"
        return f"{exc.strerror or exc}{where}"
    if isinstance(exc, ValueError | TypeError):
        return f"An object could not be written: {exc}"
    return str(exc)
