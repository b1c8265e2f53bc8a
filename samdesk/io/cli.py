"""The ``samdesk export`` and ``samdesk import`` subcommands.

Registered by ``samdesk.cli``; this module imports nothing heavy at top level (the format
modules, numpy and shapely load inside ``run_*``), so ``samdesk --help`` stays fast.

    samdesk export PROJECT --format coco|yolo-seg|yolo-det|labelme|masks-png|voc --out PATH
                   [--segmentation auto|polygon|rle] [--val-fraction F] [--seed N]
                   [--only-done] [--overwrite]
    samdesk import PROJECT_OR_NEW_FOLDER --format coco|yolo|labelme|masks-png|voc --from PATH
                   [--image-root DIR]

Both print a summary (images, objects, what was skipped and why, warnings) on stdout and
return 0; an error is one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: importing them at run time would be heavy
    from samdesk.core.document import AnnotationObject, LabelClass
    from samdesk.io._formats import ImportResult
    from samdesk.io.project import ProjectStore

__all__ = ["add_export_arguments", "add_import_arguments", "run_export", "run_import"]


class _CliError(Exception):
    """An error to print as one line (no traceback)."""


# --------------------------------------------------------------------------- export


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``samdesk export``."""
    parser.add_argument(
        "export_project", metavar="PROJECT", help="project file or folder to export"
    )
    parser.add_argument(
        "--format",
        dest="export_format",
        required=True,
        choices=("coco", "yolo-seg", "yolo-det", "labelme", "masks-png", "voc"),
        help="COCO instance segmentation JSON, an Ultralytics YOLO dataset (segmentation "
        "polygons or detection boxes), LabelMe JSON per image, semantic + instance PNG "
        "masks, or Pascal VOC detection XML",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="the JSON file (coco) or the folder (other formats) to write",
    )
    parser.add_argument(
        "--segmentation",
        choices=("auto", "polygon", "rle"),
        default="auto",
        help="COCO only: polygons, RLE masks, or polygons except for objects with holes "
        "(default: auto)",
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="YOLO only: share of images in the val split, 0 <= F < 1 (default: 0, one split)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="YOLO only: seed of the train/val split (default: 0)"
    )
    parser.add_argument(
        "--only-done", action="store_true", help="export only the images marked done"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="folder formats: replace a previous samdesk export in --out (only the files "
        "its .samdesk-export.json lists; anything else there is kept)",
    )


def run_export(args: argparse.Namespace) -> int:
    """Run ``samdesk export``; returns the exit code."""
    from samdesk.core.images import ImageReadError
    from samdesk.io.project import ProjectFileError

    try:
        return _export(args)
    # FormatError is a ValueError; anything else (a bug) keeps its traceback.
    except (_CliError, ValueError, OSError, ProjectFileError, ImageReadError) as e:
        return _fail("export", _describe(e))


def _export(args: argparse.Namespace) -> int:
    from samdesk.io.export import ExportOptions, export_project
    from samdesk.io.project import ProjectStore

    if not 0.0 <= args.val_fraction < 1.0:
        raise _CliError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    store = ProjectStore.open(args.export_project)
    options = ExportOptions(
        format=args.export_format,
        out=Path(args.out),
        segmentation=args.segmentation,
        val_fraction=args.val_fraction,
        seed=args.seed,
        only_done=args.only_done,
        overwrite=args.overwrite,
    )
    from samdesk.io.export import report_path

    report = export_project(store, options)
    print(report.summary())
    print(f"report: {report_path(options)}")
    for warning in store.warnings:
        print(f"  warning: {warning}")
    print(f"written: {args.out}")
    return 0


# --------------------------------------------------------------------------- import


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``samdesk import``."""
    parser.add_argument(
        "import_project",
        metavar="PROJECT_OR_NEW_FOLDER",
        help="project to merge into, or a folder where a new project is created",
    )
    parser.add_argument(
        "--format",
        dest="import_format",
        required=True,
        choices=("coco", "yolo", "labelme", "masks-png", "voc"),
        help="COCO JSON file, YOLO dataset (data.yaml or its folder), folder of LabelMe "
        "JSON, masks PNG export folder, or Pascal VOC folder",
    )
    parser.add_argument(
        "--from", dest="source", required=True, metavar="PATH", help="the file/folder to read"
    )
    parser.add_argument(
        "--image-root",
        metavar="DIR",
        help="COCO only: the folder file_name is relative to (default: the JSON's folder)",
    )


def run_import(args: argparse.Namespace) -> int:
    """Run ``samdesk import``; returns the exit code."""
    from samdesk.core.images import ImageReadError
    from samdesk.io.project import ProjectFileError

    try:
        return _import(args)
    # FormatError is a ValueError; anything else (a bug) keeps its traceback.
    except (_CliError, ValueError, OSError, ProjectFileError, ImageReadError) as e:
        return _fail("import", _describe(e))


def _import(args: argparse.Namespace) -> int:
    from samdesk.io.importers import import_dataset

    if args.image_root and args.import_format != "coco":
        raise _CliError("--image-root applies to --format coco only")
    result = import_dataset(args.import_format, args.source, image_root=args.image_root)
    store = _open_or_create(Path(args.import_project))
    images, objects, skipped = merge_import(store, result)
    print(
        f"imported {images} images, {objects} objects into {store.path}; "
        f"skipped {len(skipped)} images"
    )
    for line in [*skipped, *result.warnings, *store.warnings]:
        print(f"  warning: {line}")
    return 0


def _open_or_create(target: Path) -> ProjectStore:
    """The project at ``target`` (file or folder), or a new one in the folder ``target``."""
    from samdesk.io.project import PROJECT_SUFFIX, ProjectStore

    if target.is_file() or (target.is_dir() and any(target.glob(f"*{PROJECT_SUFFIX}"))):
        return ProjectStore.open(target)
    if target.suffix == ".yaml":
        raise _CliError(f"no project file {target}")
    target.mkdir(parents=True, exist_ok=True)
    return ProjectStore.create(target)


def merge_import(store: ProjectStore, result: ImportResult) -> tuple[int, int, list[str]]:
    """Add the imported images and objects to the project and save it.

    Images outside the project folder are copied in, keeping their path relative to the
    dataset's image root (a different file already there is not overwritten: that image
    is skipped). Only files inside the dataset's image root that are images by content
    are added or copied (``samdesk.io.safe_paths``); the rest are skipped with the reason.
    Classes are matched by name; new ones keep their id when it is free.
    Objects equal to one the image already has (same class and geometry) are not added
    again, so importing the same file twice changes nothing.
    Returns (images, objects added, skipped-image messages).
    """
    from samdesk.io.safe_paths import UnsafePathError, is_inside, not_an_image

    known = list(store.project.classes)
    class_map = _merge_classes(store, result.classes)
    if len(store.project.classes) != len(known):
        # Classes first: an image file written below never names a class the project
        # file lacks, even when the import stops midway.
        try:
            store.save_project()
        except BaseException:
            store.project.classes[:] = known  # nothing written: nothing changed in memory
            raise
    root = store.root
    images = objects = 0
    skipped: list[str] = []
    try:
        for imported in result.images:
            source = (result.image_root / imported.path).resolve()
            if not source.is_file():
                skipped.append(f"{imported.path}: image file not found, not added")
                continue
            # The formats already refuse such paths; checked again here because this is
            # where files are read and copied (a format added later may forget).
            if not is_inside(source, result.image_root):
                skipped.append(f"{imported.path}: outside the dataset folder, not added")
                continue
            reason = not_an_image(source)
            if reason is not None:
                skipped.append(f"{imported.path}: {reason}, not added")
                continue
            try:
                relative = source.relative_to(root).as_posix()
            except ValueError:
                try:
                    relative = _copy_in(source, root, imported.path)
                except UnsafePathError as e:
                    skipped.append(f"{imported.path}: {e}, not added")
                    continue
                if relative is None:
                    skipped.append(f"{imported.path}: a different file exists in the project")
                    continue
            store.add_images([root / relative])
            record = store.load_image_annotations(relative)
            if imported.width and imported.height and not (record.width and record.height):
                record.width, record.height = imported.width, imported.height
            added, duplicates = _new_objects(record.objects, imported.objects, class_map)
            for number in duplicates:
                result.warnings.append(
                    f"{imported.path}: object {number} of the file covers the same pixels as "
                    "an object of the same class already on the image, not added again"
                )
            before, split = record.objects, record.split
            if imported.split and not record.split:
                record.split = imported.split
            record.objects = [*before, *added]
            try:
                store.save_image(record)
            except BaseException:
                # In memory as on disk (a window's store lives on after a failed import).
                record.objects, record.split = before, split
                raise
            images += 1
            objects += len(added)
    finally:
        # The images added so far are listed even when a later one fails.
        store.save_project()
    return images, objects, skipped


def _merge_classes(store: ProjectStore, classes: list[LabelClass]) -> dict[int, int]:
    """Map imported class ids to project class ids, adding the missing classes."""
    from samdesk.core.document import LabelClass, free_class_key

    project_classes = store.project.classes
    by_name = {c.name: c.id for c in project_classes}
    used = {c.id for c in project_classes}
    mapping: dict[int, int] = {}
    for cls in classes:
        if cls.name in by_name:
            mapping[cls.id] = by_name[cls.name]
            continue
        new_id = cls.id if cls.id not in used and cls.id >= 0 else max(used, default=-1) + 1
        # A digit key like the classes made in the app (1–9, 0): imported ones had none.
        key = free_class_key(project_classes)
        project_classes.append(LabelClass(id=new_id, name=cls.name, color=cls.color, key=key))
        used.add(new_id)
        by_name[cls.name] = mapping[cls.id] = new_id
    return mapping


def _new_objects(
    existing: list[AnnotationObject], imported: list[AnnotationObject], class_map: dict[int, int]
) -> tuple[list[AnnotationObject], list[int]]:
    """The imported objects not yet on the image, and the 1-based numbers of the others.

    "Same" means same class and same pixels (``region_to_mask``), not same vertices: an
    object exported as an RLE mask or a bridged polygon comes back traced along pixel
    edges, with other vertices than the simplified outline it was drawn with.
    """
    from samdesk.io.import_dedupe import same_pixels

    added: list[AnnotationObject] = []
    duplicates: list[int] = []
    for number, obj in enumerate(imported, 1):
        obj.class_id = class_map[obj.class_id]
        if any(o.class_id == obj.class_id and same_pixels(o.region, obj.region) for o in existing):
            duplicates.append(number)
            continue
        added.append(obj)
    return added, duplicates


def _copy_in(source: Path, root: Path, dataset_path: str) -> str | None:
    """Copy an image from outside into the project; its new relative path, or None.

    UnsafePathError if the target is a symlink or lies behind one (never written through).
    """
    from samdesk.io.safe_paths import UnsafePathError, copy_image_into, is_inside

    parts = [p for p in Path(dataset_path).parts if p not in ("..", ".", "/", "\\")]
    parts = [p for p in parts if not Path(p).anchor] or [source.name]
    relative = Path(*parts).as_posix()
    dest = root / relative
    if dest.is_symlink() or not is_inside(dest, root):
        raise UnsafePathError(f"{relative} in the project is (behind) a symbolic link")
    if dest.exists():
        same = dest.stat().st_size == source.stat().st_size and (
            dest.read_bytes() == source.read_bytes()
        )
        return relative if same else None
    try:
        copy_image_into(source, root, relative)
    except FileExistsError:  # appeared meanwhile: not ours to replace
        return None
    return relative


# --------------------------------------------------------------------------- messages


def _describe(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror}"
    return str(error) or type(error).__name__


def _fail(command: str, message: str) -> int:
    first_line = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"samdesk {command}: error: {first_line}", file=sys.stderr)
    return 1
