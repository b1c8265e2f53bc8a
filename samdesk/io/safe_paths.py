"""Paths read from datasets, and image files copied into a project, made safe.

A dataset is somebody else's file: a COCO ``file_name`` of ``/home/u/.ssh/id_rsa`` or
``../../x``, a YOLO list line or a ``data.yaml`` ``path: /`` must not make an import read,
scan or copy files outside the dataset. Every path a dataset names is therefore resolved
against the dataset's root folder (symlinks followed, as the operating system would) and
refused if it leaves that folder. A file is copied into a project only if it *is* an image
(suffix and content agree, checked by Pillow from the header) and is not a samdesk file;
the copy never writes through a symlink and never replaces an existing file.

Used by the COCO and YOLO importers and by ``samdesk.io.cli.merge_import``; new formats
(labelme, VOC, mask folders) call the same functions:

    dataset_path(root, name)         -> Path inside root (resolved), or UnsafePathError
    is_inside(path, folder)          -> bool, after resolving both
    not_an_image(path)               -> None if path is an image to import, else the reason
    is_samdesk_file(path)            -> project file, annotation/cache under .samdesk/, manifest
    copy_image_into(source, root, relative) -> the new file (never overwrites, no symlinks)
"""

from __future__ import annotations

import contextlib
import ntpath
import os
import shutil
from pathlib import Path, PurePosixPath

__all__ = [
    "UnsafePathError",
    "copy_image_into",
    "dataset_path",
    "is_inside",
    "is_samdesk_file",
    "not_an_image",
]

# Names samdesk itself writes; importing or exporting over them would damage a project.
PROJECT_SUFFIX = ".samdesk.yaml"  # same value as samdesk.io.project.PROJECT_SUFFIX
DATA_DIR = ".samdesk"
EXPORT_MANIFEST = ".samdesk-export.json"

# Pillow format names accepted for each suffix: the suffix says what the file claims to
# be, the header what it is. An ``id_rsa`` renamed ``a.jpg`` passes the first test only.
_FORMATS_BY_SUFFIX = {
    ".jpg": {"JPEG", "MPO"},
    ".jpeg": {"JPEG", "MPO"},
    ".jpe": {"JPEG", "MPO"},
    ".jfif": {"JPEG", "MPO"},
    ".mpo": {"JPEG", "MPO"},
    ".png": {"PNG"},
    ".bmp": {"BMP", "DIB"},
    ".dib": {"BMP", "DIB"},
    ".tif": {"TIFF"},
    ".tiff": {"TIFF"},
    ".webp": {"WEBP"},
    ".gif": {"GIF"},
    ".tga": {"TGA"},
    ".ppm": {"PPM"},
    ".pgm": {"PPM"},
    ".pbm": {"PPM"},
    ".pnm": {"PPM"},
    ".pfm": {"PFM"},
    ".heic": {"HEIF"},
    ".heif": {"HEIF"},
    ".dng": {"TIFF"},
}


class UnsafePathError(ValueError):
    """A path named by a dataset that is refused; the message says which and why."""


def is_inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``folder`` or inside it, after resolving symlinks of both."""
    resolved = Path(path).resolve()
    base = Path(folder).resolve()
    return resolved == base or base in resolved.parents


def dataset_path(root: str | os.PathLike[str], name: str) -> Path:
    """The file or folder that the dataset's ``name`` denotes, resolved, inside ``root``.

    ``name``: as written in the dataset (POSIX or Windows separators). Refused with
    UnsafePathError: absolute paths (``/x``, ``C:\\x``, ``\\\\server\\x``), and any path
    that, once ``..`` and symlinks are resolved, is not inside ``root``. The returned path
    may not exist.
    """
    text = str(name)
    if not text.strip():
        raise UnsafePathError("empty path")
    if "\x00" in text:
        raise UnsafePathError(f"{text!r}: contains a NUL character")
    # Windows forms are refused on every platform: the dataset may come from anywhere.
    posix = text.replace("\\", "/")
    if PurePosixPath(posix).is_absolute() or ntpath.splitdrive(text)[0] or ntpath.isabs(text):
        raise UnsafePathError(f"{text}: absolute paths are not read (only paths inside {root})")
    base = Path(root).resolve()
    candidate = (base / posix).resolve()
    if candidate != base and base not in candidate.parents:
        raise UnsafePathError(f"{text}: points outside the dataset folder {base}")
    return candidate


def is_samdesk_file(path: str | os.PathLike[str]) -> bool:
    """A project file, anything under a ``.samdesk`` folder, or an export manifest."""
    p = Path(path)
    return (
        p.name.lower().endswith(PROJECT_SUFFIX) or p.name == EXPORT_MANIFEST or DATA_DIR in p.parts
    )


def not_an_image(path: str | os.PathLike[str]) -> str | None:
    """None if ``path`` is a regular image file worth importing, else why not (one phrase).

    Checks: not a samdesk file, a regular file (after symlinks), an image suffix, and a
    header that Pillow identifies as that kind of image (only the header is read).
    """
    from PIL import Image, UnidentifiedImageError  # lazy: pillow

    p = Path(path)
    if is_samdesk_file(p):
        return "a samdesk project file, not an image"
    if not p.is_file():
        return "not a regular file"
    expected = _FORMATS_BY_SUFFIX.get(p.suffix.lower())
    if expected is None:
        return f"'{p.suffix}' is not an image suffix"
    try:
        with Image.open(p) as image:
            found = image.format or ""
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return "not an image (its content is not a known image format)"
    if found not in expected:
        return f"its content is {found}, not what '{p.suffix}' says"
    return None


def copy_image_into(
    source: str | os.PathLike[str], root: str | os.PathLike[str], relative: str
) -> Path:
    """Copy the image ``source`` to ``root/relative``; returns the new file's path.

    Refused with UnsafePathError: ``relative`` leaving ``root``, a folder on the way that
    is a symlink, a target that is a samdesk file, a source that is not an image
    (``not_an_image``). FileExistsError if the target exists (nothing is replaced). The
    target is created with O_EXCL | O_NOFOLLOW, so it is never written through a symlink
    planted there; a failed copy removes the partial file it created.
    """
    base = Path(root).resolve()
    reason = not_an_image(source)
    if reason is not None:
        raise UnsafePathError(f"{source}: {reason}")
    parts = [p for p in PurePosixPath(relative.replace("\\", "/")).parts if p not in ("", ".")]
    if not parts or ".." in parts or PurePosixPath(relative.replace("\\", "/")).is_absolute():
        raise UnsafePathError(f"{relative}: not a relative path inside the project")
    if is_samdesk_file(PurePosixPath(*parts).as_posix()):
        raise UnsafePathError(f"{relative}: a samdesk file name, not copied")
    folder = base
    for part in parts[:-1]:
        folder = folder / part
        if folder.is_symlink():
            raise UnsafePathError(f"{relative}: {folder} is a symbolic link, not written through")
        folder.mkdir(exist_ok=True)
    target = folder / parts[-1]
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0)
    fd = os.open(target, flags, 0o644)
    try:
        with os.fdopen(fd, "wb") as dst, open(source, "rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        shutil.copystat(source, target)  # target: the regular file created above
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()  # ours: created above with O_EXCL
        raise
    return target
