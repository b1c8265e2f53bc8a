"""Helpers shared by the folder exporters (VOC, masks PNG, LabelMe): where each image goes
in the export and which images can be exported at all.

Private to ``samdesk.io``. Paths are POSIX and relative to the export folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from samdesk.core.document import ImageRecord
from samdesk.io._formats import ExportReport, image_problem

__all__ = ["copy_image", "exportable_images", "prepare_out_dir", "safe_relative", "write_file"]
__all__ += ["written_by_samdesk"]


def safe_relative(path: str) -> PurePosixPath:
    """The project path of an image as a relative POSIX path that stays inside a folder
    (an absolute path or ``..`` keeps only the file name)."""
    rel = PurePosixPath(path.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        return PurePosixPath(rel.name)
    return PurePosixPath(*[p for p in rel.parts if p != "."])


def exportable_images(
    images: Iterable[ImageRecord], project_dir: Path, report: ExportReport
) -> list[tuple[ImageRecord, Path, tuple[int, int]]]:
    """(record, image file, (width, height)) of the images that decode like the viewer
    decodes them; the others are skipped in ``report`` with the reason."""
    from samdesk.core.images import ImageReadError, image_size  # lazy: pillow

    found = []
    for record in images:
        source = project_dir / record.path
        problem = image_problem(source)
        if problem is not None:
            report.skip(record.path, None, problem)
            continue
        try:
            size = image_size(source)
        except (OSError, ValueError, ImageReadError) as e:
            report.skip(record.path, None, f"image cannot be read: {e}")
            continue
        found.append((record, source, size))
    return found


def copy_image(source: Path, dest: Path) -> None:
    """Copy an image into the export (a copy, never a link: the export is self-contained
    and no tool reading it can rewrite the user's original through it)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, dest)


def prepare_out_dir(out: Path, owned: tuple[str, ...], overwrite: bool) -> None:
    """Make ``out`` ready for an export that writes the entries ``owned`` (names directly
    in ``out``). Existing ones are a FormatError unless ``overwrite``; then only they are
    removed, nothing else in ``out`` is touched."""
    from samdesk.io._formats import FormatError

    present = [name for name in owned if (out / name).exists() or (out / name).is_symlink()]
    if present and not overwrite:
        raise FormatError(
            f"{out}: already holds an export ({', '.join(present)}); "
            "choose an empty folder or allow overwriting"
        )
    if present and not written_by_samdesk(out):
        # "Overwrite" means "replace my previous export", never "delete a dataset that
        # happens to use the same folder names" (a VOC download has JPEGImages/ too).
        raise FormatError(
            f"{out}: {', '.join(present)} were not written by a samdesk export "
            "(no samdesk export-report.txt there); choose an empty folder"
        )
    for name in present:
        target = out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating its folder first."""
    from samdesk.io.atomic import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def written_by_samdesk(out: Path) -> bool:
    """True if ``out`` holds the report of a samdesk export (so its files are ours)."""
    from samdesk.io._formats import REPORT_HEADER

    report = out / "export-report.txt"
    try:
        with report.open("rb") as f:
            return f.read(len(REPORT_HEADER)) == REPORT_HEADER.encode()
    except OSError:
        return False
