"""LabelMe JSON (labelme 5.x, X-AnyLabeling, AnyLabeling): one ``.json`` beside each image.

Pure functions on the document model; no Qt, no torch, and labelme is not needed: the
schema follows labelme's ``label_file.py`` (keys ``version``, ``flags``, ``shapes``,
``imagePath``, ``imageData``, ``imageHeight``, ``imageWidth``; each shape ``label``,
``points``, ``group_id``, ``description``, ``shape_type``, ``flags``, ``mask``).

Export layout: ``OUT/<sub/dirs>/a.jpg`` (a copy of the image) and ``OUT/<sub/dirs>/a.json``
beside it, ``imagePath`` the image's file name, ``imageData`` null (labelme loads the image
from ``imagePath`` then). Each part of an object is one ``polygon`` shape labelled with the
class name; the parts of a multi-part object share a ``group_id`` (labelme's way of saying
"one instance"), a single-part object has ``group_id`` null.

What LabelMe cannot keep, stated in the report object by object: **holes** (labelme has
no holes, and neither X-AnyLabeling nor AnyLabeling documents a way to write them: the
hole is filled), and crowd flags. Coordinates are written as they are: labelme's own
converters (labelme2coco, X-AnyLabeling's COCO export) pass points to COCO unchanged, so
its plane is COCO's and ours (origin at the top-left pixel's corner).

Import reads ``polygon`` (filled even-odd like every consumer, see
``_formats.evenodd_region``), ``rectangle`` (two corners), ``circle`` (centre and a point
on the circle; a 64-gon) shapes; ``group_id`` joins shapes of one label into one object.
Shapes without an area (``point``, ``line``, ``linestrip``, ``points``) and ``mask``
shapes are skipped with a warning naming file and shape.
"""

from __future__ import annotations

import json
import math
import ntpath
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import shapely

from samdesk.core.document import (
    AnnotationObject,
    ImageRecord,
    LabelClass,
    ObjectSource,
    Project,
    Region,
)
from samdesk.core.geometry import (
    clip_region,
    region_from_shapely,
    region_to_shapely,
)
from samdesk.io._dataset_copy import exportable_images, safe_relative, unique_relative
from samdesk.io._formats import (
    ExportReport,
    FormatError,
    ImportResult,
    WarningLog,
    evenodd_region,
    imported_image_size,
    object_label,
    palette_color,
    unknown_class_reason,
)
from samdesk.io.export_target import StagedDataset, check_folder_target

__all__ = ["LABELME_VERSION", "export_labelme", "import_labelme"]

LABELME_VERSION = "5.5.0"
_DECIMALS = 4
_NO_AREA = ("point", "points", "line", "linestrip")


def export_labelme(
    project: Project,
    images: Iterable[ImageRecord],
    out_dir: str | os.PathLike[str],
    *,
    project_dir: str | os.PathLike[str],
    overwrite: bool = False,
) -> ExportReport:
    """Write ``images`` (objects loaded) as LabelMe JSON files with image copies in ``out_dir``.

    Without ``overwrite`` an existing file at any target is a FormatError (nothing is
    written); with it, only the files this export writes are replaced.
    """
    out = Path(out_dir)
    check_folder_target(out, project_dir)
    report = ExportReport(format="labelme")
    names = {c.id: c.name for c in project.classes}
    entries = exportable_images(images, Path(project_dir), report)
    used: set[str] = set()
    targets = [unique_relative(safe_relative(r.path), used) for r, _, _ in entries]
    # The dataset is the images' top-level names: staged beside the previous export and
    # swapped in at the end (export_target); only files a samdesk export wrote are replaced.
    owned = tuple(
        sorted({t.parts[0] for t in targets} | {t.with_suffix(".json").parts[0] for t in targets})
    )
    with StagedDataset(out, owned, overwrite=overwrite) as staged:
        for (record, source, size), rel in zip(entries, targets, strict=True):
            data = _labelme_json(record, rel.name, size, names, project, report)
            staged.copy_file(source, rel.as_posix())
            staged.write_bytes(rel.with_suffix(".json").as_posix(), data)
            report.written += [f"{out}/{rel.with_suffix('.json')}", f"{out}/{rel}"]
            report.images += 1
        staged.commit()
    report.warnings += staged.warnings
    return report


def _labelme_json(
    record: ImageRecord,
    image_name: str,
    size: tuple[int, int],
    names: dict[int, str],
    project: Project,
    report: ExportReport,
) -> bytes:
    """The LabelMe JSON of one image; skipped and changed objects go into ``report``."""
    width, height = size
    shapes: list[dict[str, Any]] = []
    group = 0
    for obj in record.objects:
        label = object_label(record, obj, project.classes)
        if obj.class_id not in names:
            report.skip(record.path, obj.id, unknown_class_reason(obj.class_id), label)
            continue
        region = clip_region(obj.region, width, height) if not obj.region.is_empty else None
        if region is None or region.is_empty:
            report.skip(record.path, obj.id, "empty or entirely outside the image", label)
            continue
        if region is not obj.region:
            report.change(label, "clipped to the image")
        holes = sum(len(p.holes) for p in region.parts)
        if holes:
            report.change(label, f"{holes} hole(s) filled: LabelMe has no holes")
        if obj.crowd:
            report.change(label, "crowd flag not kept: LabelMe has none")
        group_id = None
        if len(region.parts) > 1:
            group += 1
            group_id = group
        for part in region.parts:
            points = np.round(part.exterior, _DECIMALS)
            shapes.append(
                {
                    "label": names[obj.class_id],
                    "points": [[_num(x), _num(y)] for x, y in points],
                    "group_id": group_id,
                    "description": "",
                    "shape_type": "polygon",
                    "flags": {},
                    "mask": None,
                }
            )
        report.objects += 1
    data = {
        "version": LABELME_VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": image_name,
        "imageData": None,
        "imageHeight": height,
        "imageWidth": width,
    }
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _num(value: float) -> float | int:
    return int(value) if value == int(value) else float(value)


# --------------------------------------------------------------------------- import


def import_labelme(path: str | os.PathLike[str]) -> ImportResult:
    """Read every LabelMe ``.json`` under the folder ``path`` (or one file).

    Image paths in the result are relative to ``path`` (the folder). Classes are the shape
    labels in order of appearance. Raises FormatError only when ``path`` holds no JSON.
    """
    given = Path(path)
    if given.is_file():
        files, root = [given], given.parent
    elif given.is_dir():
        files, root = sorted(given.rglob("*.json")), given
    else:
        raise FormatError(f"{given}: no such file or folder")
    if not files:
        raise FormatError(f"{given}: no LabelMe .json files found")
    log = WarningLog()
    classes: dict[str, LabelClass] = {}
    records: list[ImageRecord] = []
    for file in files:
        record = _read_file(file, root, classes, log)
        if record is not None:
            records.append(record)
    return ImportResult(list(classes.values()), records, root, log.lines())


def _read_file(
    file: Path, root: Path, classes: dict[str, LabelClass], log: WarningLog
) -> ImageRecord | None:
    where = file.relative_to(root).as_posix()
    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as e:
        log.add("read", f"{where}: cannot read ({e}), skipped")
        return None
    except json.JSONDecodeError as e:
        log.add("read", f"{where}:{e.lineno}:{e.colno}: invalid JSON ({e.msg}), skipped")
        return None
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        log.add("read", f"{where}: not a LabelMe file (no 'shapes' list), skipped")
        return None
    image = _image_file(file, root, data, log)
    if image is None:
        log.add(
            "missing",
            f"{where}: image {data.get('imagePath')!r} not found (embedded imageData is "
            "not used), skipped",
        )
        return None
    size = imported_image_size(image, log, where)
    if size is None:
        return None
    width, height = size
    if (data.get("imageWidth"), data.get("imageHeight")) not in ((None, None), (width, height)):
        log.add(
            "size",
            f"{where}: imageWidth/imageHeight {data.get('imageWidth')}x"
            f"{data.get('imageHeight')} differ from the image's {width}x{height}; "
            "using the image's size",
        )
    record = ImageRecord(Path(os.path.relpath(image, root)).as_posix(), width, height)
    groups: dict[tuple[str, Any], list[Region]] = {}
    for k, shape in enumerate(data["shapes"]):
        found = _read_shape(shape, width, height, f"{where}: shapes[{k}]", log)
        if found is None:
            continue
        label, region = found
        group_id = shape.get("group_id")
        key = (label, group_id if group_id is not None else ("single", k))
        groups.setdefault(key, []).append(region)
    for (label, _), regions in groups.items():
        region = regions[0]
        if len(regions) > 1:
            region = region_from_shapely(shapely.union_all([region_to_shapely(r) for r in regions]))
        if label not in classes:
            classes[label] = LabelClass(len(classes) + 1, label, palette_color(len(classes)))
        record.objects.append(AnnotationObject(classes[label].id, region, ObjectSource.IMPORT))
    return record


def _image_file(file: Path, root: Path, data: dict[str, Any], log: WarningLog) -> Path | None:
    """The image of a LabelMe file: ``imagePath`` (relative to the .json, and inside the
    imported folder: ``safe_paths.dataset_path``), else an image of the same stem beside it."""
    from samdesk.io.safe_paths import UnsafePathError, dataset_path
    from samdesk.io.yolo import IMG_FORMATS

    image_path = data.get("imagePath")
    candidates = []
    if isinstance(image_path, str) and image_path:
        text = image_path.replace("\\", "/")
        try:
            folder = file.parent.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:  # the .json itself is reached through a link out of the folder
            folder = "."
        # An absolute path is passed as written, for dataset_path to refuse in its words.
        absolute = PurePosixPath(text).is_absolute() or bool(ntpath.splitdrive(image_path)[0])
        name = text if folder == "." or absolute else f"{folder}/{text}"
        try:
            candidates.append(dataset_path(root, name))
        except UnsafePathError as e:
            where = file.relative_to(root).as_posix()
            log.add("unsafe-path", f"{where}: imagePath {e}; not read")

    candidates += [file.with_suffix("." + s) for s in sorted(IMG_FORMATS)]
    return next((c for c in candidates if c.is_file()), None)


def _read_shape(
    shape: Any, width: int, height: int, where: str, log: WarningLog
) -> tuple[str, Region] | None:
    if not isinstance(shape, dict):
        log.add("shape", f"{where}: not an object, skipped")
        return None
    label = shape.get("label")
    kind = shape.get("shape_type") or "polygon"
    if not isinstance(label, str) or not label:
        log.add("shape", f"{where}: no label, skipped")
        return None
    if kind in _NO_AREA:
        log.add("no-area", f"{where}: {kind} shape has no area, skipped")
        return None
    try:
        points = np.asarray(shape.get("points"), dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
            raise ValueError("points must be a list of finite [x, y] pairs")
    except (TypeError, ValueError) as e:
        log.add("shape", f"{where}: {e}, skipped")
        return None
    if kind == "rectangle" and len(points) == 2:
        (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
        region = region_from_shapely(shapely.box(x0, y0, x1, y1))
    elif kind == "circle" and len(points) == 2:
        radius = float(math.dist(points[0], points[1]))
        circle = shapely.Point(points[0]).buffer(radius, quad_segs=16)
        region = region_from_shapely(circle)
    elif kind == "polygon" and len(points) >= 3:
        region, _ = evenodd_region([points], width, height)
    else:
        log.add("shape", f"{where}: unsupported {kind} shape with {len(points)} points, skipped")
        return None
    if not region.is_empty:
        region = clip_region(region, width, height)
    if region.is_empty:
        log.add("zero-area", f"{where}: zero-area {kind} (or outside the image), skipped")
        return None
    return label, region
