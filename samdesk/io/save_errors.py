"""Why a save did not happen, in words a user understands, and the errors that say so.

No file names of temporary files, no errno numbers: "The disk is full", "The folder …
is read-only". Used by the store (read-only detection at open) and by the window's save
state (``samdesk.ui.save_state``).
"""

from __future__ import annotations

import errno
import os
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


def write_problem(project_file: Path) -> str | None:
    """Why samdesk cannot save into this project, in words, or None if it can.

    ``os.access`` asks the file system with the real permissions (read-only mounts,
    folders shared read-only); a root process passes it everywhere, and a save that fails
    anyway is reported when it happens (``describe_save_error``).
    """
    folder = project_file.parent
    data = folder / ".samdesk"
    if not os.access(folder, os.W_OK) or not os.access(project_file, os.W_OK):
        return f"The folder {folder} is read-only"
    if data.exists() and not os.access(data, os.W_OK):
        return f"The folder {data} is read-only"
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
