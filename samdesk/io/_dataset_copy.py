"""Helpers shared by the folder exporters (VOC, masks PNG, LabelMe): where each image goes
in the export and which images can be exported at all. The writing itself goes through
``export_target.StagedDataset`` (staged, swapped in, manifest).

Private to ``samdesk.io``. Paths are POSIX and relative to the export folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from samdesk.core.document import ImageRecord
from samdesk.io._formats import ExportReport, image_problem

__all__ = ["exportable_images", "safe_relative", "unique_relative"]


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


def unique_relative(rel: PurePosixPath, used: set[str]) -> PurePosixPath:
    """``rel``, or ``stem_1.ext``, ``stem_2.ext``... if it (case-folded, without suffix, so
    ``a.jpg`` and ``a.PNG`` do not share ``a.xml``) is taken; ``used`` is updated."""
    candidate, n = rel, 0
    while candidate.with_suffix("").as_posix().casefold() in used:
        n += 1
        candidate = rel.with_name(f"{rel.stem}_{n}{rel.suffix}")
    used.add(candidate.with_suffix("").as_posix().casefold())
    return candidate
