"""COCO instance segmentation: export a project to one JSON file, import one back.

Pure functions on the document model (``samdesk.core.document``); no Qt, no torch.

Coordinate convention. COCO's polygon coordinates and bboxes live on the same continuous
plane as ours: x right, y down, origin at the top-left *corner* of the top-left pixel. No
shift is needed either way. This was checked against the consumer's rasteriser rather
than assumed: pycocotools' ``frPyObjects`` + ``decode`` (which ``COCO.annToMask`` uses)
reproduces ``region_to_mask`` pixel for pixel for outlines traced along pixel edges
(including holes, diagonal contacts and the image border), while a shift of +0.5 loses
the last row/column and -0.5 moves diagonal edges; for arbitrary (non pixel-edge)
polygons a zero shift also gives the fewest differing pixels (pycocotools samples a
5x upsampled outline, so boundary pixels of slanted edges may differ). The tests keep
this honest (``tests/io/test_coco.py``).

Segmentation encodings written:
    * "polygon": one flat ``[x0, y0, x1, y1, ...]`` list per part. COCO polygons cannot
      have holes, so a part with holes is written as one ring joined to its holes by
      zero-width bridges (see ``_formats.join_rings``); pycocotools fills it even-odd, so
      the mask keeps the holes, but tools that read polygons as simple shapes will not.
      Each such object is listed in the report's warnings.
    * "rle": compressed RLE of ``region_to_mask`` (``counts`` as a utf-8 string).
    * "auto" (default): polygons for objects without holes, RLE for objects with holes.
Crowd objects (``AnnotationObject.crowd``, read from ``iscrowd: 1``) are always written as
RLE with ``iscrowd: 1``. Images that the viewer cannot open (missing, truncated) are
skipped with the reason, as in every format.

Import fills each polygon the way pycocotools does (``_formats.evenodd_region``): a valid
simple polygon keeps its vertices, a self-intersecting or bridged one is rasterised
even-odd and traced back into parts and holes, so bridged holes come back pixel for pixel.
A zero-area polygon is dropped with a warning naming the annotation and polygon.

``area`` is the pixel count of the mask for RLE and the polygon area (holes subtracted)
otherwise; for pixel-edge outlines the two are equal and equal to pycocotools'
``maskUtils.area`` of the rasterised annotation.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, Literal

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
    mask_to_region,
    region_area,
    region_bbox,
    region_from_shapely,
    region_to_mask,
    region_to_shapely,
    ring_to_flat,
)
from samdesk.io._formats import (
    ExportReport,
    FormatError,
    ImportResult,
    WarningLog,
    evenodd_region,
    image_problem,
    join_rings,
    object_label,
    palette_color,
    polygons_of,
    unknown_class_reason,
)
from samdesk.io.atomic import atomic_write_bytes
from samdesk.io.entry_limits import coordinate_problem, geometry_errors, rle_problem
from samdesk.io.safe_paths import UnsafePathError, dataset_path

__all__ = ["ExportReport", "FormatError", "ImportResult", "export_coco", "import_coco"]

Segmentation = Literal["auto", "polygon", "rle"]
# Polygon coordinates are rounded to this many decimals (1e-4 px): compact files, and
# rounding is idempotent, so re-exporting an exported file changes nothing.
_DECIMALS = 4


# --------------------------------------------------------------------------- export


def export_coco(
    project: Project,
    images: Iterable[ImageRecord],
    out_path: str | os.PathLike[str],
    *,
    segmentation: Segmentation = "auto",
    project_dir: str | os.PathLike[str] | None = None,
    image_root: str | os.PathLike[str] | None = None,
) -> ExportReport:
    """Write ``images`` (with their objects loaded) as a COCO instance-segmentation file.

    ``project_dir``: the folder that ``ImageRecord.path`` is relative to; used to read the
    size of images whose record does not know it yet, and with ``image_root``.
    ``image_root``: the folder the JSON's ``file_name`` values are made relative to
    (default: the project folder, i.e. ``file_name`` is ``ImageRecord.path``); names are
    POSIX paths and keep sub-folders (``"day1/img_003.jpg"``).

    Categories are the project's classes with their ids unchanged (stable across
    exports); image ids and annotation ids are 1, 2, ... in export order. Widths and
    heights are of the upright image. Objects whose class is unknown, whose geometry is
    empty or entirely outside the image are skipped (see the report). The file is
    written atomically: on failure a previous file at ``out_path`` is left intact.
    """
    if segmentation not in ("auto", "polygon", "rle"):
        raise ValueError(f"segmentation must be 'auto', 'polygon' or 'rle', not {segmentation!r}")
    report = ExportReport()
    class_ids = {c.id for c in project.classes}
    categories = [
        {"id": c.id, "name": c.name, "supercategory": "", "color": c.color}
        for c in sorted(project.classes, key=lambda c: c.id)
    ]
    coco_images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for record in images:
        if project_dir is not None:
            problem = image_problem(Path(project_dir) / record.path)
            if problem is not None:
                report.skip(record.path, None, problem)
                continue
        width, height = _known_size(record, project_dir)
        if width <= 0 or height <= 0:
            report.skip(record.path, None, "image size unknown (image file not found)")
            continue
        image_id = len(coco_images) + 1
        coco_images.append(
            {
                "id": image_id,
                "file_name": _file_name(record.path, project_dir, image_root),
                "width": width,
                "height": height,
            }
        )
        report.images += 1
        for obj in record.objects:
            label = object_label(record, obj, project.classes)
            if obj.class_id not in class_ids:
                report.skip(record.path, obj.id, unknown_class_reason(obj.class_id), label)
                continue
            ann = _annotation(obj, width, height, segmentation, record.path, label, report)
            if ann is None:
                continue
            ann.update(id=len(annotations) + 1, image_id=image_id, category_id=obj.class_id)
            annotations.append(ann)
            report.objects += 1
    dataset = {
        "info": {"description": project.name or "samdesk export", "version": "1.0"},
        "licenses": [],
        "images": coco_images,
        "annotations": annotations,
        "categories": categories,
    }
    text = json.dumps(dataset, ensure_ascii=False, separators=(",", ":"))
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_path, text.encode("utf-8"))
    return report


def _known_size(record: ImageRecord, project_dir: str | os.PathLike[str] | None) -> tuple[int, int]:
    """(width, height) of the upright image, from the record or else from the file."""
    if record.width > 0 and record.height > 0:
        return record.width, record.height
    if project_dir is None:
        return 0, 0
    from samdesk.core.images import ImageReadError, image_size  # lazy: pillow

    try:
        return image_size(Path(project_dir) / record.path)
    except (OSError, ValueError, ImageReadError):
        return 0, 0


def _file_name(
    path: str,
    project_dir: str | os.PathLike[str] | None,
    image_root: str | os.PathLike[str] | None,
) -> str:
    if image_root is None or project_dir is None:
        return PurePosixPath(path).as_posix()
    absolute = os.path.abspath(os.path.join(project_dir, path))
    return Path(os.path.relpath(absolute, os.path.abspath(image_root))).as_posix()


def _annotation(
    obj: AnnotationObject,
    width: int,
    height: int,
    segmentation: Segmentation,
    image: str,
    label: str,
    report: ExportReport,
) -> dict[str, Any] | None:
    """The COCO annotation of one object (without ids), or None if it is skipped.

    ``label``: the object as the user sees it (``"truck.jpg #2 (dog)"``), for the report.
    A crowd object (``iscrowd: 1``) is always written as RLE, as COCO's crowd regions are.
    """
    from pycocotools import mask as mask_utils  # lazy: C extension, only needed here

    if obj.region.is_empty:
        report.skip(image, obj.id, "empty geometry", label)
        return None
    region = clip_region(obj.region, width, height)
    if region.is_empty or region_area(region) <= 0:
        report.skip(image, obj.id, "geometry entirely outside the image", label)
        return None
    if region is not obj.region:
        report.change(label, "clipped to the image")
    has_holes = any(part.holes for part in region.parts)
    if segmentation == "rle" or (segmentation == "auto" and has_holes) or obj.crowd:
        mask = region_to_mask(region, height, width)
        if not mask.any():
            report.skip(image, obj.id, "too small: covers no pixel centre", label)
            return None
        rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
        x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
        return {
            "segmentation": {"size": [height, width], "counts": rle["counts"].decode("utf-8")},
            "area": float(mask_utils.area(rle)),
            "bbox": [x, y, w, h],
            "iscrowd": 1 if obj.crowd else 0,
        }
    polygons = []
    for part in region.parts:
        ring = join_rings([part.exterior, *part.holes]) if part.holes else part.exterior
        polygons.append(ring_to_flat(ring, decimals=_DECIMALS))
    if has_holes:
        report.change(label, "holes written as zero-width bridges in its polygon")
    x0, y0, x1, y1 = region_bbox(region)
    return {
        "segmentation": polygons,
        "area": region_area(region),
        "bbox": [x0, y0, x1 - x0, y1 - y0],
        "iscrowd": 0,
    }


# --------------------------------------------------------------------------- import


def import_coco(
    json_path: str | os.PathLike[str], *, image_root: str | os.PathLike[str] | None = None
) -> ImportResult:
    """Read a COCO instance-segmentation (or detection) file.

    ``image_root``: the folder ``file_name`` is relative to (default: the JSON's folder).
    Returns classes (COCO category ids kept as class ids, whatever they start at), image
    records (``path`` = ``file_name`` as POSIX, relative to ``image_root``) with their
    objects, and warnings. Reads polygons (several per annotation: parts, unioned the way
    pycocotools does; self-intersecting ones filled even-odd), compressed and uncompressed
    RLE, and box-only annotations (as rectangles).

    Raises ``FormatError`` (one line, with line/column for broken JSON) only when nothing
    can be read; every problem with single entries (unknown image or category, missing
    image file, coordinates outside the image, malformed segmentation) is one warning and
    the rest is imported.
    """
    path = Path(json_path)
    root = Path(image_root) if image_root is not None else path.parent
    data = _load_json(path)
    log = WarningLog()
    classes = _read_categories(data, path, log)
    known_classes = {c.id for c in classes}

    records: dict[int, ImageRecord] = {}
    # (width, height) read from the image files' headers: the only size an entry may
    # claim memory by (the JSON's width/height are the file's word).
    real_sizes: dict[str, tuple[int, int]] = {}
    for index, entry in enumerate(_list_field(data, "images", path, required=True)):
        record = _read_image(entry, index, root, log, path.name, real_sizes)
        if record is None:
            continue
        image_id, image = record
        if image_id in records:
            log.add("dup-image", f"{path.name}: images[{index}]: duplicate image id {image_id}")
            continue
        records[image_id] = image

    for index, ann in enumerate(_list_field(data, "annotations", path, required=False)):
        where = f"{path.name}: annotations[{index}]"
        if not isinstance(ann, dict):
            log.add("bad-ann", f"{where}: not an object, skipped")
            continue
        image_id = ann.get("image_id")
        image = records.get(image_id) if _is_int(image_id) else None
        if image is None:
            log.add("unknown-image", f"{where}: unknown image id {ann.get('image_id')!r}, skipped")
            continue
        category = ann.get("category_id")
        if not _is_int(category) or category not in known_classes:
            log.add("unknown-cat", f"{where}: unknown category id {category!r}, skipped")
            continue
        try:
            region = _read_segmentation(ann, image, where, log, real_sizes.get(image.path))
        except geometry_errors() as e:  # hostile values the checks did not foresee
            log.add("bad-geom", f"{where}: geometry cannot be read ({e}), skipped")
            continue
        if region is None or region.is_empty:
            continue
        crowd = ann.get("iscrowd") == 1
        image.objects.append(
            AnnotationObject(
                class_id=int(category), region=region, source=ObjectSource.IMPORT, crowd=crowd
            )
        )
    return ImportResult(classes, list(records.values()), root, log.lines())


def _load_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise FormatError(f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise FormatError(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise FormatError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise FormatError(f"{path}: not a COCO file: the top level is not a JSON object")
    return data


def _list_field(data: dict[str, Any], key: str, path: Path, *, required: bool) -> list[Any]:
    value = data.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise FormatError(f"{path}: not a COCO file: {key!r} must be a list")
    return value


def _read_categories(data: dict[str, Any], path: Path, log: WarningLog) -> list[LabelClass]:
    classes: dict[int, LabelClass] = {}
    for index, cat in enumerate(_list_field(data, "categories", path, required=False)):
        where = f"{path.name}: categories[{index}]"
        if not isinstance(cat, dict) or not _is_int(cat.get("id")):
            log.add("bad-cat", f"{where}: needs an integer 'id', skipped")
            continue
        cat_id = int(cat["id"])
        if cat_id in classes:
            log.add("dup-cat", f"{where}: duplicate category id {cat_id}, skipped")
            continue
        name = cat.get("name")
        name = name if isinstance(name, str) and name else f"class_{cat_id}"
        color = cat.get("color")
        if not (isinstance(color, str) and len(color) == 7 and color.startswith("#")):
            color = palette_color(len(classes))
        classes[cat_id] = LabelClass(id=cat_id, name=name, color=color)
    return list(classes.values())


def _read_image(
    entry: Any,
    index: int,
    root: Path,
    log: WarningLog,
    source: str,
    real_sizes: dict[str, tuple[int, int]] | None = None,
) -> tuple[int, ImageRecord] | None:
    where = f"{source}: images[{index}]"
    if not isinstance(entry, dict) or not _is_int(entry.get("id")):
        log.add("bad-image", f"{where}: needs an integer 'id', skipped")
        return None
    file_name = entry.get("file_name")
    if not isinstance(file_name, str) or not file_name:
        log.add("bad-image", f"{where}: needs a 'file_name', skipped")
        return None
    try:
        # Absolute names, "..", and symlinks leading out of the image root are refused:
        # an import must not read (and later copy) files the dataset does not contain.
        on_disk = dataset_path(root, file_name)
    except UnsafePathError as e:
        hint = "; give an image root that contains it" if ".." in file_name else ""
        log.add("unsafe-path", f"{where}: {e}, skipped{hint}")
        return None
    posix = on_disk.relative_to(root.resolve()).as_posix()
    width, height = entry.get("width"), entry.get("height")
    width = round(width) if _is_number(width) and width > 0 else 0
    height = round(height) if _is_number(height) and height > 0 else 0
    if on_disk.is_file():
        from samdesk.core.images import ImageReadError, image_size  # lazy: pillow

        try:
            actual = image_size(on_disk)
        except (OSError, ValueError, ImageReadError) as e:
            log.add("unreadable", f"{where}: {posix}: cannot read the image ({e})")
        else:
            if (width, height) not in ((0, 0), actual):
                log.add(
                    "size",
                    f"{where}: {posix}: size {width}x{height} in the file, but the (upright) "
                    f"image is {actual[0]}x{actual[1]}; using the image's size",
                )
            width, height = actual
            if real_sizes is not None:
                real_sizes[posix] = actual
    else:
        log.add("missing", f"{where}: image file not found: {on_disk}")
    return int(entry["id"]), ImageRecord(path=posix, width=width, height=height)


def _read_segmentation(
    ann: dict[str, Any],
    image: ImageRecord,
    where: str,
    log: WarningLog,
    real_size: tuple[int, int] | None = None,
) -> Region | None:
    """The region of one annotation, clipped to the image; None (with a warning) if bad.

    ``real_size``: (width, height) from the image file's header, None if unknown.
    """
    seg = ann.get("segmentation")
    if isinstance(seg, dict):
        return _read_rle(seg, image, where, log, real_size)
    geom: shapely.Geometry
    outside = False
    if isinstance(seg, list) and seg:
        if all(isinstance(v, int | float) for v in seg):
            seg = [seg]  # a single polygon without the outer list
        polygons = []
        for k, flat in enumerate(seg):
            if (
                not isinstance(flat, list)
                or len(flat) < 6
                or len(flat) % 2
                or not all(isinstance(v, int | float) for v in flat)
            ):
                log.add("bad-poly", f"{where}: polygon {k} is not a flat list of >= 3 x,y pairs")
                continue
            points = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
            problem = coordinate_problem(points)
            if problem is not None:
                log.add("bad-poly", f"{where}: polygon {k}: {problem}, skipped")
                continue
            if image.width > 0:
                # The raster below is clipped to the image: note here that it was.
                low, high = points.min(axis=0), points.max(axis=0)
                outside |= bool(low.min() < 0 or high[0] > image.width or high[1] > image.height)
            part, _ = evenodd_region([points], image.width, image.height)
            if part.is_empty:
                log.add("zero-area", f"{where}: polygon {k} has zero area, dropped")
                continue
            polygons += polygons_of(region_to_shapely(part))
        if not polygons:
            return None  # each polygon's problem is already a warning
        # pycocotools rasterises each polygon separately and unions the masks. Parts that
        # do not overlap are kept as they are (a union would re-start their rings), so
        # that an exported file imports back to identical vertices.
        geom = shapely.MultiPolygon(polygons)
        if not geom.is_valid:
            geom = shapely.union_all(polygons)
    elif _is_box(ann.get("bbox")):
        x, y, w, h = (float(v) for v in ann["bbox"])
        problem = coordinate_problem([x, y, x + w, y + h])
        if problem is not None:
            log.add("bad-box", f"{where}: bbox: {problem}, skipped")
            return None
        log.add("box-only", f"{where}: no segmentation; its bbox is imported as a rectangle")
        geom = shapely.box(x, y, x + w, y + h)
    else:
        log.add("no-seg", f"{where}: neither a segmentation nor a bbox, skipped")
        return None
    region = region_from_shapely(geom)
    if image.width > 0 and image.height > 0:
        x0, y0, x1, y1 = region_bbox(region)
        if x0 < 0 or y0 < 0 or x1 > image.width or y1 > image.height:
            outside = True
            region = clip_region(region, image.width, image.height)
        if outside:
            log.add("clipped", f"{where}: coordinates outside the image, clipped")
    if region.is_empty:
        log.add("empty", f"{where}: empty geometry, skipped")
    return region


def _read_rle(
    seg: dict[str, Any],
    image: ImageRecord,
    where: str,
    log: WarningLog,
    real_size: tuple[int, int] | None = None,
) -> Region | None:
    from pycocotools import mask as mask_utils  # lazy: C extension, only needed here

    size, counts = seg.get("size"), seg.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) and v > 0 for v in size)):
        log.add("bad-rle", f"{where}: RLE needs 'size': [height, width], skipped")
        return None
    height, width = int(size[0]), int(size[1])
    try:  # the structure first (cheap, in Python), the decode only once it is sound
        if isinstance(counts, list):  # uncompressed: run lengths, column-major
            if any(not _is_int(v) or v < 0 for v in counts) or sum(counts) != height * width:
                raise ValueError("run lengths must be non-negative and sum to height*width")
            runs = counts
        elif isinstance(counts, str):
            # Decoded here first: pycocotools reads garbage for truncated strings.
            runs = _runs_from_string(counts)
            if sum(runs) != height * width:
                raise ValueError("run lengths do not add up to height*width")
        else:
            raise ValueError("'counts' must be a string or a list of integers")
    except (ValueError, TypeError) as e:
        log.add("bad-rle", f"{where}: malformed RLE ({e}), skipped")
        return None
    # Memory is bounded by the image's real size (its header), not by the RLE's word.
    problem = rle_problem(height, width, real_size, runs)
    if problem is not None:
        log.add("rle-size", f"{where}: {problem}, skipped")
        return None
    try:
        if isinstance(counts, list):
            rle = mask_utils.frPyObjects(seg, height, width)
        else:
            rle = {"size": [height, width], "counts": counts.encode("ascii")}
        mask = mask_utils.decode(rle).astype(bool)
    except (ValueError, TypeError, OverflowError) as e:
        log.add("bad-rle", f"{where}: malformed RLE ({e}), skipped")
        return None
    return mask_to_region(mask)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_box(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 4
        and all(_is_number(v) for v in value)
        and value[2] > 0
        and value[3] > 0
    )


def _runs_from_string(counts: str) -> list[int]:
    """Run lengths of a compressed COCO RLE string (pycocotools' ``rleFrString``).

    Each run is a little-endian sequence of 5-bit groups in characters offset by 48, bit
    0x20 meaning "more groups follow", bit 0x10 of the last group the sign; from the
    third run on, values are deltas to the run two before. Raises ValueError if broken.
    """
    runs: list[int] = []
    p = 0
    while p < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if p >= len(counts):
                raise ValueError("string ends inside a run length")
            c = ord(counts[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"invalid character {counts[p]!r}")
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            p += 1
            shift += 5
            if shift > 40:  # pycocotools writes at most 7 groups (uint32 runs)
                raise ValueError("a run length is too large")
            if not more and c & 0x10:
                value -= 1 << shift
        if len(runs) > 2:
            value += runs[-2]
        if value < 0:
            raise ValueError("negative run length")
        runs.append(value)
    return runs
