"""One entry point for every import format (``samdesk import`` and the Import dialog).

Each format module reads its files into an ``ImportResult``; this picks the module.
"""

from __future__ import annotations

import os

from samdesk.io._formats import ImportResult

__all__ = ["IMPORT_FORMATS", "import_dataset"]

IMPORT_FORMATS = ("coco", "yolo", "labelme", "masks-png", "voc")


def import_dataset(
    fmt: str, source: str | os.PathLike[str], *, image_root: str | os.PathLike[str] | None = None
) -> ImportResult:
    """Read ``source`` as format ``fmt`` (one of IMPORT_FORMATS). ``image_root`` is COCO's
    only (the folder ``file_name`` is relative to); ValueError for it with another format."""
    if fmt not in IMPORT_FORMATS:
        raise ValueError(f"unknown import format {fmt!r} (expected {IMPORT_FORMATS})")
    if image_root and fmt != "coco":
        raise ValueError("--image-root applies to --format coco only")
    if fmt == "coco":
        from samdesk.io.coco import import_coco

        return import_coco(source, image_root=image_root)
    if fmt == "yolo":
        from samdesk.io.yolo import import_yolo

        return import_yolo(source)
    if fmt == "labelme":
        from samdesk.io.labelme import import_labelme

        return import_labelme(source)
    if fmt == "masks-png":
        from samdesk.io.masks_png import import_masks_png

        return import_masks_png(source)
    from samdesk.io.voc import import_voc

    return import_voc(source)
