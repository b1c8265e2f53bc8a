"""Export a whole project: choose its images, then write COCO or YOLO.

The one place that turns export options into files, used by ``samdesk export`` and by the
window's Export dialog (which runs it on a worker thread with progress and cancel).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from samdesk.io._formats import ExportReport
    from samdesk.io.project import ProjectStore

FORMATS = ("coco", "yolo-seg", "yolo-det")


class ExportCancelled(Exception):
    """The user cancelled the export before anything was written."""


@dataclass(frozen=True)
class ExportOptions:
    """What to export where; the fields mirror ``samdesk export``'s options.

    ``format``: one of ``FORMATS``; ``segmentation``: COCO's "auto" / "polygon" / "rle";
    ``val_fraction`` and ``seed``: YOLO's train/val split; ``overwrite``: replace a previous
    YOLO export in ``out``; ``only_done``: only images marked done.
    """

    format: str
    out: Path
    segmentation: str = "auto"
    val_fraction: float = 0.0
    seed: int = 0
    only_done: bool = False
    overwrite: bool = False


def export_project(
    store: ProjectStore,
    options: ExportOptions,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> ExportReport:
    """Export ``store``'s project as ``options`` say; returns the format's report.

    ``progress(done, total)`` follows the reading of the images' annotations; ``cancel``
    set before the files are written raises ExportCancelled (nothing written).
    Outputs that would overwrite the project (its file, annotations, images, or a dataset
    folder inside it) raise ``export_target.ExportTargetError`` (a FormatError).
    """
    from samdesk.core.document import ReviewState
    from samdesk.io.coco import export_coco
    from samdesk.io.export_target import check_file_target, check_folder_target
    from samdesk.io.yolo import export_yolo

    if options.format not in FORMATS:
        raise ValueError(f"unknown export format {options.format!r} (expected {FORMATS})")
    if not 0.0 <= options.val_fraction < 1.0:
        raise ValueError(f"the validation share must be in [0, 1), got {options.val_fraction}")
    # Refused before anything is read: an export must never write over the project.
    if options.format == "coco":
        check_file_target(options.out)
    else:
        check_folder_target(options.out, store.root)
    records = store.project.images
    images = []
    for index, record in enumerate(records):
        if cancel is not None and cancel.is_set():
            raise ExportCancelled("Export cancelled; nothing was written.")
        if not options.only_done or record.state is ReviewState.DONE:
            images.append(store.load_image_annotations(index))
        if progress is not None:
            progress(index + 1, len(records))
    if options.format == "coco":
        return export_coco(
            store.project,
            images,
            options.out,
            segmentation=options.segmentation,  # type: ignore[arg-type]
            project_dir=store.root,
        )
    return export_yolo(
        store.project,
        images,
        options.out,
        project_dir=store.root,
        task="segment" if options.format == "yolo-seg" else "detect",
        val_fraction=options.val_fraction,
        seed=options.seed,
        overwrite=options.overwrite,
    )
