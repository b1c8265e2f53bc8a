"""Export a whole project: choose its images, write one format, then the report file.

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

FORMATS = ("coco", "yolo-seg", "yolo-det", "labelme", "masks-png", "voc")
REPORT_NAME = "export-report.txt"
"""The report's name: inside a folder export, or ``<json stem>-export-report.txt`` beside
a COCO file."""


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
    from samdesk.io.export_target import check_file_target, check_folder_target

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
    report = _write(store, options, images)
    report.format = options.format
    if not report.written:
        report.written.append(str(options.out))
    write_report_file(report, report_path(options))
    return report


def _write(store: ProjectStore, options: ExportOptions, images: list) -> ExportReport:
    from samdesk.io.coco import export_coco
    from samdesk.io.yolo import export_yolo

    if options.format == "coco":
        return export_coco(
            store.project,
            images,
            options.out,
            segmentation=options.segmentation,  # type: ignore[arg-type]
            project_dir=store.root,
        )
    if options.format in ("yolo-seg", "yolo-det"):
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
    from samdesk.io.labelme import export_labelme
    from samdesk.io.masks_png import export_masks_png
    from samdesk.io.voc import export_voc

    exporter = {"labelme": export_labelme, "masks-png": export_masks_png, "voc": export_voc}
    return exporter[options.format](
        store.project, images, options.out, project_dir=store.root, overwrite=options.overwrite
    )


def report_path(options: ExportOptions) -> Path:
    """Where the export's report file goes: beside a COCO file, inside a folder export."""
    if options.format == "coco":
        return options.out.with_name(f"{options.out.stem}-{REPORT_NAME}")
    return options.out / REPORT_NAME


def write_report_file(report: ExportReport, path: Path) -> None:
    """Write ``report.text()`` to ``path`` atomically, unless a file that samdesk did not
    write is there (it is left alone and the report says so)."""
    from samdesk.io._formats import REPORT_HEADER
    from samdesk.io.atomic import atomic_write_bytes

    if path.exists():
        try:
            ours = path.read_bytes().startswith(REPORT_HEADER.encode())
        except OSError:
            ours = False
        if not ours:
            report.warnings.append(f"{path} exists and is not a samdesk report: not replaced")
            return
    report.written.append(str(path))
    atomic_write_bytes(path, report.text().encode("utf-8"))
