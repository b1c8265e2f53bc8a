"""Masks as PNG images, the way mmsegmentation and VOC-style pipelines read them.

Pure functions on the document model; no Qt, no torch. Layout written by
``export_masks_png``::

    OUT/JPEGImages/<sub/dirs>/a.jpg            copies of the project's images
    OUT/SegmentationClass/<sub/dirs>/a.png     semantic: 8-bit palette PNG, one class index
                                               per pixel
    OUT/SegmentationObject/<sub/dirs>/a.png    instance: 16-bit greyscale PNG, one object
                                               number per pixel (1, 2, ... in the image's
                                               object order; 0 = no object)
    OUT/classes.txt                            line i: the name of class index i
                                               (line 0 "background")
    OUT/palette.txt                            line i: "i name #rrggbb" (the legend)

Semantic values: 0 is background, 1..N the project's classes in order of their ids,
**255 is "ignore"** (mmsegmentation's ``ignore_index``, VOC's object border): samdesk
writes 255 for crowd objects (COCO ``iscrowd``), which trainers must not count either
way. Palette colours are the classes' colours.

Pixels are our rasterisation (``region_to_mask``: pixel centre inside, even-odd), the same
as the COCO and YOLO exports. Where objects overlap, the one on top (later in the list)
wins, in both PNGs: an object's hidden pixels are lost and the report says how many,
object by object; an object with no visible pixel left is reported as skipped.

Import (``import_masks_png``): with SegmentationObject PNGs, one object per object
number, its class the most common class index under it in the SegmentationClass PNG
(class "object" when there is none); with only SegmentationClass PNGs, one object per
class index present (all its regions: a semantic mask does not separate instances).
Value 255 and 0 are not objects. Outlines are traced along pixel edges, so an exported
mask imports back pixel for pixel.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import numpy as np
import numpy.typing as npt

from samdesk.core.document import (
    AnnotationObject,
    ImageRecord,
    LabelClass,
    ObjectSource,
    Project,
)
from samdesk.core.geometry import mask_to_region, region_to_mask
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

__all__ = ["IGNORE", "export_masks_png", "import_masks_png"]

IGNORE = 255
"""Semantic value of pixels to ignore (crowd regions); mmsegmentation's default."""
_OWNED = ("JPEGImages", "SegmentationClass", "SegmentationObject", "classes.txt", "palette.txt")
_MAX_CLASSES = 254  # 1..254; 0 background, 255 ignore
_MAX_OBJECTS = 65535


def export_masks_png(
    project: Project,
    images: Iterable[ImageRecord],
    out_dir: str | os.PathLike[str],
    *,
    project_dir: str | os.PathLike[str],
    overwrite: bool = False,
) -> ExportReport:
    """Write semantic and instance PNG masks (and image copies) for ``images`` in ``out_dir``.

    Raises FormatError for more than 254 classes (an 8-bit PNG holds 1..254 besides
    background and ignore) or when a previous export is there and ``overwrite`` is off.
    """
    classes = sorted(project.classes, key=lambda c: c.id)
    if len(classes) > _MAX_CLASSES:
        raise FormatError(f"masks PNG holds at most {_MAX_CLASSES} classes, not {len(classes)}")
    out = Path(out_dir)
    check_folder_target(out, project_dir)
    report = ExportReport(format="masks-png")
    index_of = {c.id: i for i, c in enumerate(classes, 1)}
    palette = _palette(classes)
    entries = exportable_images(images, Path(project_dir), report)
    used: set[str] = set()
    # Written beside the previous export and swapped in at the end (export_target): a
    # failed export changes nothing, and only files a samdesk export wrote are replaced.
    with StagedDataset(out, _OWNED, overwrite=overwrite) as staged:
        for record, source, size in entries:
            rel = unique_relative(safe_relative(record.path), used)
            semantic, instance = _rasterise(record, size, index_of, project.classes, report)
            png = rel.with_suffix(".png")
            staged.write_bytes(f"SegmentationClass/{png}", _png_bytes(semantic, palette))
            staged.write_bytes(f"SegmentationObject/{png}", _png_bytes(instance, None))
            staged.copy_file(source, f"JPEGImages/{rel}")
            report.images += 1
        names = ["background", *(c.name for c in classes)]
        staged.write_bytes("classes.txt", "".join(n + "\n" for n in names).encode("utf-8"))
        legend = ["0 background #000000"]
        legend += [f"{i} {c.name} {c.color}" for i, c in enumerate(classes, 1)]
        legend.append(f"{IGNORE} ignore #ffffff")
        staged.write_bytes("palette.txt", "".join(s + "\n" for s in legend).encode("utf-8"))
        staged.commit()
    report.warnings += staged.warnings
    report.written += [f"{out}/{name}" for name in _OWNED]
    return report


def _rasterise(
    record: ImageRecord,
    size: tuple[int, int],
    index_of: dict[int, int],
    classes: list[LabelClass],
    report: ExportReport,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint16]]:
    """(semantic H×W uint8, instance H×W uint16) of one image, objects drawn in order (the
    one on top wins); skipped objects and hidden pixels go into ``report``."""
    width, height = size
    semantic = np.zeros((height, width), dtype=np.uint8)
    instance = np.zeros((height, width), dtype=np.uint16)
    drawn: list[tuple[AnnotationObject, str, int, int]] = []  # obj, label, number, pixels
    for obj in record.objects:
        label = object_label(record, obj, classes)
        if obj.class_id not in index_of:
            report.skip(record.path, obj.id, unknown_class_reason(obj.class_id), label)
            continue
        mask = region_to_mask(obj.region, height, width)
        if not mask.any():
            report.skip(record.path, obj.id, "covers no pixel centre in the image", label)
            continue
        if len(drawn) >= _MAX_OBJECTS:
            report.skip(record.path, obj.id, "more than 65,535 objects on the image", label)
            continue
        number = len(drawn) + 1
        semantic[mask] = IGNORE if obj.crowd else index_of[obj.class_id]
        instance[mask] = number
        drawn.append((obj, label, number, int(mask.sum())))
    for obj, label, number, pixels in drawn:
        visible = int(np.count_nonzero(instance == number))
        if visible == 0:
            report.skip(record.path, obj.id, "entirely hidden by objects on top", label)
            continue
        report.objects += 1
        if visible < pixels:
            report.change(label, f"{pixels - visible} of {pixels} pixels hidden by objects on top")
        if obj.crowd:
            report.change(label, f"crowd region written as ignore ({IGNORE})")
    return semantic, instance


def _palette(classes: list[LabelClass]) -> list[int]:
    colours = [(0, 0, 0)] * 256
    for i, c in enumerate(classes, 1):
        try:
            colours[i] = tuple(int(c.color[k : k + 2], 16) for k in (1, 3, 5))  # type: ignore[assignment]
        except (ValueError, IndexError):
            colours[i] = (128, 128, 128)
    colours[IGNORE] = (255, 255, 255)
    return [v for rgb in colours for v in rgb]


def _png_bytes(array: npt.NDArray[np.integer], palette: list[int] | None) -> bytes:
    """A PNG of ``array``: 8-bit with ``palette``, else 16-bit greyscale."""
    import io

    from PIL import Image  # lazy: pillow

    if palette is not None:
        image = Image.fromarray(array, mode="P")
        image.putpalette(palette)
    else:
        image = Image.fromarray(array.astype(np.uint16))  # mode I;16: 16-bit greyscale PNG
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------- import


def import_masks_png(path: str | os.PathLike[str]) -> ImportResult:
    """Read a masks PNG export (see the module docstring) from the folder ``path``.

    Images are found in ``JPEGImages/`` under the mask's sub-path with any image suffix.
    Classes come from ``classes.txt`` (index i → line i) when present, else ``class_<i>``.
    """
    root = Path(path)
    semantic_dir, instance_dir = root / "SegmentationClass", root / "SegmentationObject"
    if not semantic_dir.is_dir() and not instance_dir.is_dir():
        raise FormatError(f"{root}: no SegmentationClass/ or SegmentationObject/ folder")
    log = WarningLog()
    names = _read_names(root / "classes.txt")
    image_root = root / "JPEGImages" if (root / "JPEGImages").is_dir() else root
    stems = sorted(
        {
            p.relative_to(d).with_suffix("").as_posix()
            for d in (semantic_dir, instance_dir)
            if d.is_dir()
            for p in d.rglob("*.png")
        }
    )
    classes: dict[int, LabelClass] = {}
    records: list[ImageRecord] = []
    for stem in stems:
        record = _read_image(stem, root, image_root, names, classes, log)
        if record is not None:
            records.append(record)
    ordered = [classes[i] for i in sorted(classes)]
    return ImportResult(ordered, records, image_root, log.lines())


def _read_names(path: Path) -> dict[int, str]:
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    return {i: line.strip() for i, line in enumerate(lines) if line.strip()}


def _load(path: Path, size: tuple[int, int], log: WarningLog) -> npt.NDArray[np.integer] | None:
    """The mask PNG at ``path`` as H×W int64, or None (with a warning) if it is not a
    single-channel PNG of ``size`` (width, height). The size is checked from the header,
    before decoding: a hostile PNG cannot make the import allocate more than the photo."""
    from PIL import Image, UnidentifiedImageError  # lazy: pillow

    where = path.parent.name + "/" + path.name
    try:
        with Image.open(path) as image:
            if image.size != size:
                log.add(
                    "size",
                    f"{where}: mask is {image.size[0]}x{image.size[1]}, the image "
                    f"{size[0]}x{size[1]}; mask skipped",
                )
                return None
            if image.mode not in ("P", "L", "I", "I;16", "I;16B", "I;16L"):
                raise ValueError(f"mode {image.mode} is not a single-channel index image")
            image.load()
            return np.asarray(image).astype(np.int64)
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as e:
        log.add("png", f"{where}: cannot read the mask ({e}), skipped")
        return None


def _read_image(
    stem: str,
    root: Path,
    image_root: Path,
    names: dict[int, str],
    classes: dict[int, LabelClass],
    log: WarningLog,
) -> ImageRecord | None:
    from samdesk.io.yolo import IMG_FORMATS

    candidates = [image_root / f"{stem}.{s}" for s in sorted(IMG_FORMATS)]
    candidates += [image_root / f"{stem}.{s.upper()}" for s in sorted(IMG_FORMATS)]
    image = next((c for c in candidates if c.is_file()), None)
    if image is None:
        log.add("missing", f"{stem}: no image {stem}.* in {image_root}, skipped")
        return None
    size = imported_image_size(image, log, stem)
    if size is None:
        return None
    width, height = size
    semantic = instance = None
    if (root / "SegmentationClass" / f"{stem}.png").is_file():
        semantic = _load(root / "SegmentationClass" / f"{stem}.png", (width, height), log)
    if (root / "SegmentationObject" / f"{stem}.png").is_file():
        instance = _load(root / "SegmentationObject" / f"{stem}.png", (width, height), log)
    rel = PurePosixPath(Path(os.path.relpath(image, image_root)).as_posix()).as_posix()
    record = ImageRecord(rel, width, height)
    if instance is not None:
        for number in np.unique(instance):
            if number == 0:
                continue
            mask = instance == number
            index = 0
            if semantic is not None:
                values = semantic[mask]
                values = values[(values != 0) & (values != IGNORE)]
                crowd = bool(np.count_nonzero(semantic[mask] == IGNORE) * 2 > mask.sum())
                if values.size:
                    index = int(np.bincount(values).argmax())
            else:
                crowd = False
            cls = _class(index if index else -1, names, classes)
            record.objects.append(
                AnnotationObject(cls, mask_to_region(mask), ObjectSource.IMPORT, crowd=crowd)
            )
    elif semantic is not None:
        for index in np.unique(semantic):
            if index in (0, IGNORE):
                continue
            cls = _class(int(index), names, classes)
            record.objects.append(
                AnnotationObject(cls, mask_to_region(semantic == index), ObjectSource.IMPORT)
            )
    return record


def _class(index: int, names: dict[int, str], classes: dict[int, LabelClass]) -> int:
    """The class id for semantic ``index`` (-1: unknown, class "object"), created once."""
    if index not in classes:
        name = "object" if index < 0 else names.get(index, f"class_{index}")
        classes[index] = LabelClass(index if index > 0 else 0, name, palette_color(len(classes)))
    return classes[index].id
