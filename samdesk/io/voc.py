"""Pascal VOC detection XML: export a project's boxes, import a folder of them.

Pure functions on the document model; no Qt, no torch. Layout written by ``export_voc``::

    OUT/Annotations/<sub/dirs>/a.xml    one file per image (images without objects too)
    OUT/JPEGImages/<sub/dirs>/a.jpg     copies of the project's images
    OUT/ImageSets/Main/<split>.txt      image ids (paths without suffix) per split;
                                        "trainval.txt" when no image has a split

Each ``<object>`` has ``name`` (the class), ``pose`` Unspecified, ``truncated`` (1 when the
object was clipped at the image border, else 0), ``difficult`` 0 and ``bndbox``.

Coordinates. VOC boxes are 1-based, inclusive pixel indices: a box over pixel columns
c0..c1-1 (ours: x from c0 to c1, pixel edges) is ``xmin = c0 + 1``, ``xmax = c1``. A box
with fractional edges is widened to the pixels it touches. Import inverts this exactly.
VOC keeps boxes only: the report says so once per export (outlines, holes and parts are
not written); ``segmented`` is 0.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import shapely

from samdesk.core.document import AnnotationObject, ImageRecord, LabelClass, ObjectSource, Project
from samdesk.core.geometry import clip_region, region_bbox, region_from_shapely
from samdesk.io._dataset_copy import exportable_images, safe_relative, unique_relative
from samdesk.io._formats import (
    ExportReport,
    FormatError,
    ImportResult,
    WarningLog,
    imported_image_size,
    object_label,
    palette_color,
    unknown_class_reason,
)
from samdesk.io.export_target import StagedDataset, check_folder_target

__all__ = ["export_voc", "import_voc"]

_OWNED = ("Annotations", "JPEGImages", "ImageSets")


def export_voc(
    project: Project,
    images: Iterable[ImageRecord],
    out_dir: str | os.PathLike[str],
    *,
    project_dir: str | os.PathLike[str],
    overwrite: bool = False,
) -> ExportReport:
    """Write ``images`` (objects loaded) as a Pascal VOC detection dataset in ``out_dir``.

    Objects of unknown classes, empty ones and ones entirely outside the image are skipped
    (see the report). ``overwrite``: replace a previous samdesk export in ``out_dir`` (only
    the files its manifest lists, once the new export is complete: ``StagedDataset``).
    """
    out = Path(out_dir)
    check_folder_target(out, project_dir)
    report = ExportReport(format="voc")
    names = {c.id: c.name for c in project.classes}
    splits: dict[str, list[str]] = {}
    entries = exportable_images(images, Path(project_dir), report)
    used: set[str] = set()
    # Written beside the previous export and swapped in at the end (export_target): a
    # failed export changes nothing, and only files a samdesk export wrote are replaced.
    with StagedDataset(out, _OWNED, overwrite=overwrite) as staged:
        for record, source, size in entries:
            rel = unique_relative(safe_relative(record.path), used)
            xml = _annotation_xml(record, rel.name, size, names, project, report)
            staged.write_bytes(f"Annotations/{rel.with_suffix('.xml')}", xml)
            staged.copy_file(source, f"JPEGImages/{rel}")
            splits.setdefault(record.split or "trainval", []).append(rel.with_suffix("").as_posix())
            report.images += 1
        for split, ids in splits.items():
            text = "".join(i + "\n" for i in ids)
            staged.write_bytes(f"ImageSets/Main/{split}.txt", text.encode("utf-8"))
        staged.commit()
    report.warnings += staged.warnings
    report.warnings.append("Pascal VOC keeps boxes only: outlines, holes and parts are not kept")
    report.written += [f"{out}/{name}" for name in _OWNED]
    return report


def _annotation_xml(
    record: ImageRecord,
    filename: str,
    size: tuple[int, int],
    names: dict[int, str],
    project: Project,
    report: ExportReport,
) -> bytes:
    """The VOC XML of one image; skipped and changed objects go into ``report``."""
    width, height = size
    root = ET.Element("annotation")
    _text(root, "folder", "JPEGImages")
    _text(root, "filename", filename)
    _text(ET.SubElement(root, "source"), "database", "samdesk")
    size_element = ET.SubElement(root, "size")
    _text(size_element, "width", str(width))
    _text(size_element, "height", str(height))
    _text(size_element, "depth", "3")
    _text(root, "segmented", "0")
    for obj in record.objects:
        label = object_label(record, obj, project.classes)
        if obj.class_id not in names:
            report.skip(record.path, obj.id, unknown_class_reason(obj.class_id), label)
            continue
        region = clip_region(obj.region, width, height) if not obj.region.is_empty else None
        if region is None or region.is_empty:
            report.skip(record.path, obj.id, "empty or entirely outside the image", label)
            continue
        x0, y0, x1, y1 = region_bbox(region)
        box = (math.floor(x0) + 1, math.floor(y0) + 1, math.ceil(x1), math.ceil(y1))
        element = ET.SubElement(root, "object")
        _text(element, "name", names[obj.class_id])
        _text(element, "pose", "Unspecified")
        _text(element, "truncated", "1" if region is not obj.region else "0")
        _text(element, "difficult", "0")
        bndbox = ET.SubElement(element, "bndbox")
        for tag, value in zip(_BOX, box, strict=True):
            _text(bndbox, tag, str(value))
        report.objects += 1
        if region is not obj.region:
            report.change(label, "clipped to the image (truncated 1)")
        if obj.crowd:
            report.change(label, "crowd region written as an ordinary box (VOC has no flag)")
        if len(region.parts) > 1 or any(p.holes for p in region.parts):
            report.change(label, "written as one box around its parts/holes")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


# --------------------------------------------------------------------------- import


def import_voc(path: str | os.PathLike[str]) -> ImportResult:
    """Read a Pascal VOC dataset: ``path`` is its folder (with ``Annotations/``) or a folder
    of XML files. The image of an XML is ``JPEGImages/<same sub-path>/<filename>``, else
    ``<filename>`` beside the XML. Boxes become rectangles; classes are named by ``name``
    in order of appearance. Each unreadable file or object is one warning, and so is each
    ``difficult`` flag (the project has no such field; ``truncated`` is derived on export).
    """
    given = Path(path)
    if not given.is_dir():
        raise FormatError(f"{given}: not a folder")
    xml_root = given / "Annotations" if (given / "Annotations").is_dir() else given
    log = WarningLog()
    classes: dict[str, LabelClass] = {}
    records: list[ImageRecord] = []
    splits = _read_splits(given)
    # Image paths are relative to JPEGImages/ when there is one, so that the project (and a
    # re-export) does not carry the layout's folder name in every path.
    image_root = given / "JPEGImages" if (given / "JPEGImages").is_dir() else given
    xml_files = sorted(xml_root.rglob("*.xml"))
    if not xml_files:
        raise FormatError(f"{given}: no VOC .xml files found")
    for xml_path in xml_files:
        record = _read_file(xml_path, xml_root, given, image_root, classes, log)
        if record is not None:
            record.split = splits.get(PurePosixPath(record.path).with_suffix("").as_posix(), "")
            records.append(record)
    return ImportResult(list(classes.values()), records, image_root, log.lines())


def _read_splits(root: Path) -> dict[str, str]:
    """image id → split from ImageSets/Main/{train,val,test}.txt (trainval means none)."""
    found: dict[str, str] = {}
    for split in ("train", "val", "test"):
        list_file = root / "ImageSets" / "Main" / f"{split}.txt"
        if list_file.is_file():
            for line in list_file.read_text(encoding="utf-8-sig").splitlines():
                if line.strip():
                    found.setdefault(line.split()[0], split)
    return found


def _read_file(
    xml_path: Path,
    xml_root: Path,
    root: Path,
    image_root: Path,
    classes: dict[str, LabelClass],
    log: WarningLog,
) -> ImageRecord | None:
    where = xml_path.relative_to(root).as_posix()
    try:
        data = xml_path.read_bytes()
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            raise ValueError("DTDs and entities are not allowed in VOC files")
        tree = ET.fromstring(data)
    except (OSError, ET.ParseError, ValueError) as e:
        log.add("xml", f"{where}: cannot read ({e}), skipped")
        return None
    filename = (tree.findtext("filename") or "").strip()
    if not filename:
        log.add("xml", f"{where}: no <filename>, skipped")
        return None
    from samdesk.io.safe_paths import UnsafePathError, dataset_path

    sub = xml_path.parent.relative_to(xml_root).as_posix()
    beside = xml_path.parent.relative_to(root).as_posix()
    candidates = []
    for folder in (f"JPEGImages/{sub}", beside):
        try:  # a <filename> may not lead out of the dataset folder
            candidates.append(dataset_path(root, f"{folder}/{filename}"))
        except UnsafePathError as e:
            log.add("unsafe-path", f"{where}: <filename> {e}, skipped")
            return None
    image = next((c for c in candidates if c.is_file()), None)
    if image is None:
        log.add("missing", f"{where}: image {filename} not found, skipped")
        return None
    size = imported_image_size(image, log, f"{where}: {filename}")
    if size is None:
        return None
    width, height = size
    rel = Path(os.path.relpath(image, image_root)).as_posix()
    record = ImageRecord(path=rel, width=width, height=height)
    for k, element in enumerate(tree.findall("object")):
        name = (element.findtext("name") or "").strip()
        box = element.find("bndbox")
        try:
            if not name or box is None:
                raise ValueError("needs <name> and <bndbox>")
            xmin, ymin, xmax, ymax = (_number(box.findtext(t)) for t in _BOX)
        except ValueError as e:
            log.add("object", f"{where}: object {k + 1}: {e}, skipped")
            continue
        # 1-based inclusive pixel indices → pixel edges (see the module docstring).
        region = region_from_shapely(shapely.box(xmin - 1, ymin - 1, xmax, ymax))
        if region.is_empty:
            log.add("object", f"{where}: object {k + 1}: zero-area box, skipped")
            continue
        region = clip_region(region, width, height)
        if region.is_empty:
            log.add("object", f"{where}: object {k + 1}: box outside the image, skipped")
            continue
        if (element.findtext("difficult") or "0").strip() not in ("", "0"):
            log.add("difficult", f"{where}: object {k + 1}: 'difficult' flag not kept")
        if name not in classes:
            classes[name] = LabelClass(len(classes) + 1, name, palette_color(len(classes)))
        record.objects.append(
            AnnotationObject(classes[name].id, region, source=ObjectSource.IMPORT)
        )
    return record


_BOX = ("xmin", "ymin", "xmax", "ymax")


def _number(text: str | None) -> float:
    """A finite number from an XML text; ValueError with a readable message otherwise."""
    try:
        value = float(text or "nan")
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError("box coordinates must be numbers")
    return value
