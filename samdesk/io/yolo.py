"""YOLO (Ultralytics) datasets: export segmentation or detection labels, import either.

Pure functions on the document model; no Qt, no torch, and Ultralytics is *not* needed:
the layout and line rules below follow its documented dataset format and the checks of
``ultralytics.data.utils.verify_image_label`` / ``check_det_dataset`` / ``img2label_paths``.

Layout written by ``export_yolo``::

    OUT/data.yaml                    train: images/train, val: images/val (images/train
                                     without a split), names: {0: first class, 1: ...};
                                     no "path:": the yaml's folder is the dataset root
    OUT/images/train/<sub/dirs>/a.jpg   copies of the project's images
    OUT/labels/train/<sub/dirs>/a.txt   one line per object; empty file = background image

* Label paths are what Ultralytics derives: the last ``/images/`` of the image path
  replaced by ``/labels/`` and the suffix by ``.txt``. A project sub-folder named
  ``images`` would be that last occurrence, so such folders are renamed ``images_``.
  Images with the same stem in one folder (``a.jpg``, ``a.png``) get ``a_1.png``.
* Images are *copied*, not linked: Ultralytics re-saves corrupt JPEGs in place while
  checking a dataset, which through a hard or symbolic link would rewrite the user's
  original; a copy also keeps the dataset folder self-contained (zip it, move it).
  data.yaml has no ``path`` key: Ultralytics then uses the yaml's own folder as the root
  (``check_det_dataset``), so the dataset still works after the folder is moved.
* An image's ``split`` (kept from an imported dataset) decides its split folder; images
  without one are split by ``val_fraction``. Split folders of the imported path
  (``images/train/``) are dropped so a re-export does not nest them.
* Class ids are remapped to 0..N-1 in the order of our class ids (all project classes,
  used or not, so the mapping is stable across exports).
* Coordinates are normalised by the upright image size (Ultralytics reads images with
  EXIF orientation applied), in our continuous convention (0 = left edge of the image,
  1 = right edge), six decimals.

Segmentation lines: ``class x1 y1 x2 y2 ...`` (>= 3 points). An object with several
parts, or with holes, is written as one polygon whose rings are joined by zero-width
bridges the way Ultralytics' ``merge_multi_segment`` joins the parts of a COCO object;
since the bridges are walked both ways, OpenCV's ``fillPoly`` (which Ultralytics uses to
build training masks) fills it even-odd and the holes stay holes. Each object written
that way is named in the report's warnings. Detection lines: ``class xc yc w h``.
"""

from __future__ import annotations

import os
import random
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
from samdesk.core.geometry import clip_region, region_bbox, region_from_shapely
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
    unknown_class_reason,
)
from samdesk.io.entry_limits import coordinate_problem, geometry_errors
from samdesk.io.export_target import StagedDataset, check_folder_target
from samdesk.io.safe_paths import UnsafePathError, dataset_path, is_inside

__all__ = ["IMG_FORMATS", "ExportReport", "FormatError", "ImportResult", "export_yolo"]
__all__ += ["import_yolo", "label_path_for"]

Task = Literal["segment", "detect"]
# Image suffixes Ultralytics accepts (ultralytics.data.utils.IMG_FORMATS), lower case.
IMG_FORMATS = frozenset(
    {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"}
)
_OWNED = ("images", "labels", "data.yaml")


# --------------------------------------------------------------------------- export


def export_yolo(
    project: Project,
    images: Iterable[ImageRecord],
    out_dir: str | os.PathLike[str],
    *,
    project_dir: str | os.PathLike[str],
    task: Task = "segment",
    val_fraction: float = 0.0,
    seed: int = 0,
    overwrite: bool = False,
) -> ExportReport:
    """Write ``images`` (objects loaded) as an Ultralytics YOLO dataset in ``out_dir``.

    ``project_dir``: the folder ``ImageRecord.path`` is relative to (images are copied
    from there). ``task``: "segment" (polygons) or "detect" (boxes). ``val_fraction`` in
    [0, 1): share of images put in the val split, chosen by a shuffle seeded with
    ``seed`` over the images sorted by path (same input, same split); with 0 there is
    one split and data.yaml's ``val`` points at the train images. ``overwrite``: replace
    a previous samdesk export in ``out_dir``: only files its manifest
    (``.samdesk-export.json``) lists are replaced, and only once the new dataset is
    complete (``samdesk.io.export_target.StagedDataset``); without it, the presence of
    ``images/``, ``labels/`` or ``data.yaml`` is a FormatError. ``out_dir`` may not be the
    project folder or inside it (``check_folder_target``).
    """
    if task not in ("segment", "detect"):
        raise ValueError(f"task must be 'segment' or 'detect', not {task!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    out = Path(out_dir)
    check_folder_target(out, project_dir)
    report = ExportReport()
    index_of = {c.id: i for i, c in enumerate(sorted(project.classes, key=lambda c: c.id))}
    names = {i: c.name for i, c in enumerate(sorted(project.classes, key=lambda c: c.id))}

    # First pass: which images can be exported, their sizes and their label lines.
    entries: list[tuple[ImageRecord, Path, list[str]]] = []
    for record in images:
        source = Path(project_dir) / record.path
        suffix = source.suffix.lower().lstrip(".")
        if suffix not in IMG_FORMATS:
            report.skip(record.path, None, f"image format '.{suffix}' not supported by YOLO")
            continue
        problem = image_problem(source)
        if problem is not None:
            report.skip(record.path, None, problem)
            continue
        size = _size(record, source)
        if size is None:
            report.skip(record.path, None, "image cannot be read")
            continue
        if min(size) < 10:
            report.warnings.append(f"{record.path}: smaller than 10 px, Ultralytics ignores it")
        lines = _label_lines(record, size, index_of, task, report, project.classes)
        entries.append((record, source, lines))

    # An image's own split (imported with it) wins; the others are shuffled by val_fraction.
    val = _val_set([e[0].path for e in entries if not e[0].split], val_fraction, seed)
    used: set[str] = set()
    splits: set[str] = set()
    # Written beside the previous export and swapped in at the end: a failed or killed
    # export leaves the previous dataset as it was.
    with StagedDataset(out, _OWNED, overwrite=overwrite) as staged:
        for record, source, lines in entries:
            split = record.split or ("val" if record.path in val else "train")
            splits.add(split)
            rel = _dataset_path(_without_split_folders(record.path, record.split), split, used)
            image_rel = f"images/{split}/{rel}"
            staged.copy_file(source, image_rel)
            label_rel = label_path_for(f"/{image_rel}")[1:]
            staged.write_bytes(label_rel, "".join(line + "\n" for line in lines).encode())
            report.images += 1
            report.objects += len(lines)
        # No "path:" key: without it Ultralytics (check_det_dataset) takes the yaml's own
        # folder as the dataset root, in every version, so the folder can be moved or zipped.
        # A relative "path:" is resolved against the working directory or Ultralytics'
        # datasets_dir by versions before 8.3.x; an absolute one breaks when the folder moves.
        data: dict[str, Any] = {
            "train": "images/train" if "train" in splits or not splits else None
        }
        data["val"] = "images/val" if "val" in splits else data["train"] or "images/train"
        if "test" in splits:
            data["test"] = "images/test"
        for split in sorted(splits - {"train", "val", "test"}):
            data[split] = f"images/{split}"
        if data["train"] is None:  # Ultralytics requires train; the val images stand in
            data["train"] = data["val"]
        data["names"] = names
        staged.write_bytes("data.yaml", _dump_yaml(data).encode("utf-8"))
        staged.commit()
    report.warnings += staged.warnings
    if task == "detect":
        report.warnings.append(
            "YOLO detection keeps boxes only: outlines, holes, parts are not kept"
        )
    report.written += [f"{out}/{name}" for name in _OWNED]
    return report


def label_path_for(image_path: str) -> str:
    """The label file Ultralytics reads for an image (``img2label_paths``, POSIX).

    The last ``/images/`` becomes ``/labels/`` and the suffix becomes ``.txt``.
    """
    head, sep, tail = image_path.rpartition("/images/")
    path = f"{head}/labels/{tail}" if sep else image_path
    return path.rsplit(".", 1)[0] + ".txt"


def _size(record: ImageRecord, source: Path) -> tuple[int, int] | None:
    if record.width > 0 and record.height > 0:
        return record.width, record.height
    from samdesk.core.images import ImageReadError, image_size  # lazy: pillow

    try:
        return image_size(source)
    except (OSError, ValueError, ImageReadError):
        return None


def _val_set(paths: list[str], val_fraction: float, seed: int) -> set[str]:
    """The paths put in the val split: a seeded shuffle of the sorted paths."""
    if val_fraction <= 0 or len(paths) < 2:
        return set()
    order = sorted(paths)
    random.Random(seed).shuffle(order)
    count = min(max(round(val_fraction * len(order)), 1), len(order) - 1)
    return set(order[:count])


def _dataset_path(path: str, split: str, used: set[str]) -> PurePosixPath:
    """Where an image goes under ``images/<split>/``: its project sub-path, made safe.

    ``used`` holds the (case-folded) label paths already taken, so that two images never
    share a label file (``a.jpg`` and ``a.png``; case-insensitive file systems).
    """
    rel = PurePosixPath(path.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        rel = PurePosixPath(rel.name)
    parts = [p + "_" if p in ("images", "labels") else p for p in rel.parts if p != "."]
    rel = PurePosixPath(*parts)
    candidate, n = rel, 0
    while f"{split}/{candidate.with_suffix('')}".casefold() in used:
        n += 1
        candidate = rel.with_name(f"{rel.stem}_{n}{rel.suffix}")
    used.add(f"{split}/{candidate.with_suffix('')}".casefold())
    return candidate


def _label_lines(
    record: ImageRecord,
    size: tuple[int, int],
    index_of: dict[int, int],
    task: Task,
    report: ExportReport,
    classes: list[LabelClass],
) -> list[str]:
    width, height = size
    scale = np.array([width, height], dtype=np.float64)
    lines: list[str] = []
    boxes: dict[tuple[np.float32, ...], str] = {}
    for obj in record.objects:
        label = object_label(record, obj, classes)
        if obj.class_id not in index_of:
            report.skip(record.path, obj.id, unknown_class_reason(obj.class_id), label)
            continue
        if obj.region.is_empty:
            report.skip(record.path, obj.id, "empty geometry", label)
            continue
        region = clip_region(obj.region, width, height)
        if region.is_empty:
            report.skip(record.path, obj.id, "geometry entirely outside the image", label)
            continue
        if region is not obj.region:
            report.change(label, "clipped to the image")
        if obj.crowd:
            report.change(label, "crowd region written as an ordinary object (YOLO has no flag)")
        cls = index_of[obj.class_id]
        x0, y0, x1, y1 = region_bbox(region)
        box = np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]) / np.tile(scale, 2)
        if task == "detect":
            values = np.clip(box, 0.0, 1.0)
        else:
            rings = [r for part in region.parts for r in (part.exterior, *part.holes)]
            if len(rings) > 1:
                report.change(
                    label,
                    f"{len(region.parts)} parts / {len(rings) - len(region.parts)} holes "
                    "joined into one polygon by zero-width bridges",
                )
            values = np.clip(join_rings(rings) / scale, 0.0, 1.0).reshape(-1)
        line = " ".join([str(cls), *(_fmt(v) for v in values)])
        # Ultralytics 8.4 drops only rows that repeat exactly; a distinct polygon with the
        # same class and box is kept there, so it is kept here (with a note for older
        # versions, which de-duplicate segments on their class and box).
        if line in lines:
            report.skip(record.path, obj.id, "exact duplicate of another object's line", label)
            continue
        key = tuple(np.float32(v) for v in (cls, *np.clip(box, 0, 1)))
        if key in boxes:
            report.change(
                label,
                f"same class and box as {boxes[key]}; kept (Ultralytics before 8.4 keeps "
                "only one of the two)",
            )
        boxes.setdefault(key, label)
        lines.append(line)
    return lines


def _without_split_folders(path: str, split: str) -> str:
    """``path`` without the split folders an imported dataset put in it.

    ``images/train/a.jpg`` and ``train/images/a.jpg`` (Roboflow) with split "train" become
    ``a.jpg``: the split is the image's ``split`` field, so keeping the folders would nest
    them again (``images/train/images_/train/a.jpg``) on every re-export.
    """
    if not split:
        return path
    parts = PurePosixPath(path.replace("\\", "/")).parts
    folders = [p for p in parts[:-1] if p not in ("images", "labels", split)]
    return PurePosixPath(*folders, parts[-1]).as_posix()


def _fmt(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _dump_yaml(data: dict[str, Any]) -> str:
    import yaml  # lazy: only the formats need it

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------- import


def import_yolo(path: str | os.PathLike[str]) -> ImportResult:
    """Read an Ultralytics YOLO dataset (detection and/or segmentation labels).

    ``path``: a data.yaml file, or a folder holding ``data.yaml`` (or a single ``*.yaml``),
    or a bare folder with ``images/`` and ``labels/`` (then classes are named
    ``class_<id>`` after the ids found, with a warning). ``names`` may be a list or a
    dict; ``train``/``val``/``test`` may be folders (searched recursively) or ``.txt``
    image lists, relative to the yaml's ``path`` (or to the yaml's folder when ``path``
    is missing or does not exist here).

    Detection lines become rectangles, segment lines polygons (self-intersecting or
    bridged ones filled even-odd, as OpenCV fills them). Image paths in the result are
    relative to ``ImportResult.image_root``. Each malformed line is one warning naming
    the label file and line number; the rest is imported. Raises FormatError only if the
    yaml itself cannot be read or there is no dataset at ``path``.
    """
    log = WarningLog()
    given = Path(path)
    yaml_path = _find_yaml(given)
    if yaml_path is None:
        if not (given / "images").is_dir():
            raise FormatError(f"{given}: no data.yaml and no images/ folder found")
        root, names = given, None
        log.add("no-yaml", f"{given}: no data.yaml; class names made up from the ids")
        image_files = dict.fromkeys(_scan(given / "images", root, log), "")
    else:
        data = _load_yaml(yaml_path)
        root = _dataset_root(yaml_path, data, log)
        names = _read_names(data, yaml_path)
        image_files = _split_images(data, root, yaml_path, log)

    records: list[ImageRecord] = []
    found_ids: set[int] = set()
    for image_file, split in image_files.items():
        record = _read_image(image_file, root, names, log, found_ids)
        if record is not None:
            record.split = split
            records.append(record)
    if names is None:
        names = {i: f"class_{i}" for i in sorted(found_ids)}
    classes = [
        LabelClass(id=i, name=name, color=palette_color(k))
        for k, (i, name) in enumerate(sorted(names.items()))
    ]
    return ImportResult(classes, records, root, log.lines())


def _find_yaml(given: Path) -> Path | None:
    if given.is_file():
        return given
    if not given.is_dir():
        raise FormatError(f"{given}: no such file or folder")
    if (given / "data.yaml").is_file():
        return given / "data.yaml"
    candidates = sorted(given.glob("*.yaml")) + sorted(given.glob("*.yml"))
    return candidates[0] if len(candidates) == 1 else None


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml  # lazy: only the formats need it

    from samdesk.io.safe_yaml import safe_load

    try:
        text = path.read_text(encoding="utf-8")
        # No anchors/aliases: a dataset's yaml may come from anyone ("billion laughs").
        data = safe_load(text)
    except (OSError, UnicodeDecodeError) as e:
        raise FormatError(f"{path}: cannot read: {e}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise FormatError(f"{where}: invalid YAML: {e.problem}") from None
    except yaml.YAMLError as e:
        raise FormatError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise FormatError(f"{path}: not a dataset file: the top level is not a mapping")
    return data


def _dataset_root(yaml_path: Path, data: dict[str, Any], log: WarningLog) -> Path:
    """The folder the splits are relative to: the yaml's ``path`` if it lies inside the
    yaml's folder (samdesk writes it absolute), else the yaml's folder itself."""
    folder = yaml_path.parent
    given = data.get("path")
    if not given:
        return folder
    candidate = Path(str(given))
    # "path: /" once scanned the whole file system: nothing outside the yaml's folder.
    if candidate.is_absolute() and not is_inside(candidate, folder):
        log.add(
            "path",
            f"{yaml_path.name}: 'path: {given}' is outside the dataset folder; using {folder}",
        )
        return folder
    try:
        candidate = candidate.resolve() if candidate.is_absolute() else dataset_path(folder, given)
    except UnsafePathError as e:
        log.add("path", f"{yaml_path.name}: 'path': {e}; using {folder}")
        return folder
    if candidate.is_dir():
        return candidate
    log.add("path", f"{yaml_path.name}: 'path: {given}' not found; using {folder}")
    return folder


def _read_names(data: dict[str, Any], yaml_path: Path) -> dict[int, str]:
    names = data.get("names")
    if isinstance(names, list):
        return {i: str(n) for i, n in enumerate(names)}
    if isinstance(names, dict):
        try:
            return {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            raise FormatError(f"{yaml_path}: 'names' keys must be class ids 0..N-1") from None
    raise FormatError(f"{yaml_path}: 'names' must be a list or a mapping of id: name")


def _split_images(
    data: dict[str, Any], root: Path, yaml_path: Path, log: WarningLog
) -> dict[Path, str]:
    """Image files of the splits, each with the first split that lists it."""
    files: dict[Path, str] = {}  # ordered: train and val may be the same folder
    for split in ("train", "val", "test"):
        entries = data.get(split)
        if entries is None:
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            location = Path(str(entry))
            try:  # absolute or relative, it must lie inside the dataset folder
                if location.is_absolute() and is_inside(location, root):
                    location = location.resolve()
                else:
                    location = dataset_path(root, str(entry))
            except UnsafePathError as e:
                log.add("split", f"{yaml_path.name}: {split}: {e}, not read")
                continue
            if location.is_dir():
                found = _scan(location, root, log)
            elif location.is_file() and location.suffix == ".txt":
                found = _read_list(location, root, log)
            else:
                log.add("split", f"{yaml_path.name}: {split}: {entry} not found")
                continue
            for p in found:
                files.setdefault(p.resolve(), split)
    return files


def _scan(folder: Path, root: Path, log: WarningLog) -> list[Path]:
    """Image files under ``folder``; symlinks that lead out of ``root`` are left out."""
    found = []
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower().lstrip(".") not in IMG_FORMATS or not p.is_file():
            continue
        if not is_inside(p, root):
            log.add("unsafe-path", f"{p}: a link to a file outside the dataset folder, skipped")
            continue
        found.append(p)
    return found


def _read_list(list_file: Path, root: Path, log: WarningLog) -> list[Path]:
    """Image paths from a .txt list: "./x" relative to the list's folder, else to root.

    Lines that lead outside ``root`` (absolute paths elsewhere, "..", symlinks) are
    refused with a warning naming the list file and the line.
    """
    found = []
    for number, line in enumerate(list_file.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        p = list_file.parent / line[2:] if line.startswith("./") else Path(line)
        p = p if p.is_absolute() else root / p
        if not is_inside(p, root):
            log.add("unsafe-path", f"{list_file}:{number}: {line} is outside the dataset, skipped")
            continue
        found.append(p)
    return found


def _read_image(
    image_file: Path,
    root: Path,
    names: dict[int, str] | None,
    log: WarningLog,
    found_ids: set[int],
) -> ImageRecord | None:
    from samdesk.core.images import ImageReadError, image_size  # lazy: pillow

    try:
        width, height = image_size(image_file)
    except (OSError, ValueError, ImageReadError) as e:
        log.add("unreadable", f"{image_file}: cannot read the image ({e}), skipped")
        return None
    rel = Path(os.path.relpath(image_file, root.resolve())).as_posix()
    record = ImageRecord(path=rel, width=width, height=height)
    label_file = Path(label_path_for(image_file.as_posix()))
    if not label_file.is_file():
        return record  # an image without labels is a background image
    if not is_inside(label_file, root):
        log.add("unsafe-path", f"{label_file}: a link outside the dataset folder, not read")
        return record
    try:
        # utf-8-sig: a byte-order mark (Windows editors) must not eat the first line's class.
        text = label_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        log.add("label", f"{label_file}: cannot read ({e}), skipped")
        return record
    seen: set[tuple[str, ...]] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = tuple(line.split())
        if not tokens:
            continue
        where = f"{label_file}:{number}"
        if tokens in seen:
            log.add("dup", f"{where}: duplicate line, skipped")
            continue
        seen.add(tokens)
        try:
            obj = _read_line(tokens, width, height, names, where, log)
        except geometry_errors() as e:  # hostile values the checks did not foresee
            log.add("geometry", f"{where}: geometry cannot be read ({e}), skipped")
            continue
        if obj is not None:
            found_ids.add(obj.class_id)
            record.objects.append(obj)
    return record


def _read_line(
    tokens: tuple[str, ...],
    width: int,
    height: int,
    names: dict[int, str] | None,
    where: str,
    log: WarningLog,
) -> AnnotationObject | None:
    count = len(tokens)
    if count != 5 and (count < 7 or count % 2 == 0):
        log.add(
            "columns",
            f"{where}: expected 5 values (class xc yc w h) or a class and >= 3 x y pairs, "
            f"got {count} values",
        )
        return None
    try:
        values = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        log.add("number", f"{where}: not a number: {next(t for t in tokens if not _num(t))!r}")
        return None
    cls = values[0]
    if not np.isfinite(cls) or cls < 0 or cls != int(cls):
        log.add("class", f"{where}: class must be a non-negative integer, got {tokens[0]!r}")
        return None
    if not np.isfinite(values).all():
        log.add("number", f"{where}: coordinates must be finite numbers")
        return None
    if names is not None and int(cls) not in names:
        log.add("class", f"{where}: class {int(cls)} not in data.yaml names, skipped")
        return None
    coords = values[1:]
    scale = np.array([width, height], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported just below
        pixels = coords * np.tile(scale, len(coords) // 2)
    problem = coordinate_problem(pixels)
    if problem is not None:
        largest = float(np.abs(coords).max())
        log.add("number", f"{where}: coordinate {largest:.6g} is out of range ({problem}), skipped")
        return None
    if coords.min() < 0 or coords.max() > 1:
        log.add("range", f"{where}: coordinates outside [0, 1], clipped")
    if count == 5:
        xc, yc, w, h = pixels
        region = region_from_shapely(shapely.box(xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2))
    else:
        # Filled even-odd as Ultralytics' cv2.fillPoly fills it: parts and holes joined by
        # merge_multi_segment's bridges come back as parts and holes.
        region, _ = evenodd_region([pixels.reshape(-1, 2)], width, height)
    region = _clip(region, width, height)
    if region.is_empty:
        log.add("empty", f"{where}: zero-area object (covers no pixel), skipped")
        return None
    return AnnotationObject(class_id=int(cls), region=region, source=ObjectSource.IMPORT)


def _clip(region: Region, width: int, height: int) -> Region:
    return clip_region(region, width, height) if not region.is_empty else region


def _num(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
