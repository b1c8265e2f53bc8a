"""The YAML shapes of the project files: document ↔ plain data, and YAML with line numbers.

Pure functions, no file-system state (``samdesk.io.project`` owns the folder layout).

Project file (``<name>.samdesk.yaml``)::

    schema_version: 1
    name: Street scenes
    classes:
    - {id: 1, name: vehicle, color: '#e6194b', key: 1}
    settings: {}
    images:            # project-relative POSIX paths, in the user's order
    - truck.jpg

Annotation file (one per image, ``.samdesk/annotations/<key>.yaml``)::

    schema_version: 1
    image: truck.jpg
    width: 1800
    height: 1200
    state: done
    object_count: 1                # lets the index be rebuilt from headers alone
    objects:
    - id: "6f1c..."
      class_id: 1
      source: sam
      parts:                       # one per connected part
      - exterior: [x0, y0, x1, y1, ...]   # flat, integers for pixel-edge outlines,
        holes: [[x0, y0, ...]]            # otherwise rounded to 0.01 px
      prompt: {points: [[x, y]], labels: [1]}   # optional provenance
      hidden: true                 # only when hidden
      crowd: true                  # only for COCO iscrowd regions
    split: train                   # only when the image belongs to a dataset split
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from samdesk.core.document import (
    AnnotationObject,
    ImageRecord,
    LabelClass,
    ObjectSource,
    PolygonPart,
    Project,
    Region,
    ReviewState,
)
from samdesk.core.files import NotRegularFileError, read_regular
from samdesk.core.geometry import ring_from_flat, ring_to_flat
from samdesk.io.migrations import CURRENT_VERSION, Kind, MigrationError, migrate
from samdesk.io.safe_yaml import safe_load

__all__ = [
    "COORDINATE_DECIMALS",
    "ProjectFileError",
    "annotation_file_name",
    "dump_yaml",
    "load_yaml_bytes",
    "load_yaml_file",
    "object_to_data",
    "project_from_data",
    "project_to_data",
    "read_annotations",
    "read_summary",
    "record_from_data",
    "record_to_data",
    "record_to_yaml",
]

COORDINATE_DECIMALS = 2
"""Non-integer vertices are stored rounded to 0.01 px: far below what anyone can click or
see, and it keeps files short. Pixel-edge outlines (integers) are stored exactly."""

_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class ProjectFileError(Exception):
    """A project or annotation file that cannot be used, with where the problem is.

    ``line``/``column`` are 1-based, or None when the problem is not at one place (e.g. a
    wrong value type found after parsing).
    """

    def __init__(
        self, path: str | Path, reason: str, line: int | None = None, column: int | None = None
    ) -> None:
        self.path, self.reason, self.line, self.column = str(path), reason, line, column
        where = self.path if line is None else f"{self.path}:{line}:{column or 1}"
        super().__init__(f"{where}: {reason}")


# --------------------------------------------------------------------------- YAML


def load_yaml_file(path: Path, kind: Kind) -> tuple[dict[str, Any], int]:
    """Parse and migrate one file; returns (current-version data, version on disk).

    Raises ProjectFileError with the line and column for YAML syntax errors, without a
    line for files that parse but are not a samdesk file of the right kind.
    """
    return load_yaml_bytes(read_file_bytes(path), path, kind)


def read_file_bytes(path: Path) -> bytes:
    """The file's bytes; ProjectFileError (not OSError) when it cannot be read or is not a
    regular file (a folder or a FIFO named like a samdesk file is reported, never waited on).
    """
    try:
        return read_regular(path)
    except NotRegularFileError as exc:
        raise ProjectFileError(path, str(exc)) from exc
    except OSError as exc:
        raise ProjectFileError(path, f"cannot read the file ({exc.strerror or exc})") from exc


def _parse(text: bytes, path: Path) -> Any:
    """YAML → data with samdesk's safe loader (no aliases); ProjectFileError with marks."""
    try:
        return safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = " ".join(str(s) for s in (exc.context, exc.problem) if s) or "invalid YAML"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ProjectFileError(path, f"invalid YAML: {reason}", line, column) from exc
    except yaml.YAMLError as exc:  # e.g. undecodable bytes: no position
        raise ProjectFileError(path, f"invalid YAML: {exc}") from exc


def load_yaml_bytes(text: bytes, path: Path, kind: Kind) -> tuple[dict[str, Any], int]:
    """``load_yaml_file`` for bytes already read (``path`` names them in errors)."""
    data = _parse(text, path)
    if not isinstance(data, dict):
        raise ProjectFileError(path, f"expected a mapping at the top, found {type(data).__name__}")
    try:
        return migrate(data, kind)
    except MigrationError as exc:
        raise ProjectFileError(path, str(exc)) from exc


class BlockList(list):
    """A list that ``dump_yaml`` writes one item per line even if its items are scalars
    (the image list: diffable and readable, unlike one 10,000-path flow line)."""


class _Dumper(_BaseDumper):  # a subclass, so the representer below stays ours alone
    pass


_Dumper.add_representer(
    BlockList,
    lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=False),
)


def dump_yaml(data: dict[str, Any]) -> str:
    """YAML text: keys in the given order, coordinate lists in flow style ([x, y, ...])."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=None,  # leaf lists/mappings inline, structure as blocks
        width=100,
    )


def _plain(value: Any) -> Any:
    """Numpy scalars/arrays and tuples → plain YAML-able Python values (for prompts)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------- project file


def project_to_data(project: Project) -> dict[str, Any]:
    """The project file's content (classes, settings, image list; no annotations)."""
    classes = []
    for c in project.classes:
        entry: dict[str, Any] = {"id": c.id, "name": c.name, "color": c.color}
        if c.key is not None:
            entry["key"] = c.key
        classes.append(entry)
    return {
        "schema_version": CURRENT_VERSION,
        "name": project.name,
        "classes": classes,
        "settings": _plain(project.settings),
        "images": BlockList(image.path for image in project.images),
    }


def _require(path: Path, ok: bool, message: str) -> None:
    if not ok:
        raise ProjectFileError(path, message)


def project_from_data(data: dict[str, Any], path: Path) -> Project:
    """A Project from (migrated) project-file data; images carry only their paths."""
    classes = []
    raw_classes = data.get("classes") or []
    _require(path, isinstance(raw_classes, list), "'classes' must be a list")
    for n, entry in enumerate(raw_classes):
        where = f"classes[{n}]"
        _require(path, isinstance(entry, dict), f"{where} must be a mapping")
        try:
            key = entry.get("key")
            classes.append(
                LabelClass(
                    id=int(entry["id"]),
                    name=str(entry["name"]),
                    color=str(entry.get("color", "#ff0000")),
                    key=None if key is None else int(key),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProjectFileError(path, f"{where}: {exc!r}") from exc
    ids = [c.id for c in classes]
    _require(path, len(set(ids)) == len(ids), "class ids must be unique")
    images = data.get("images") or []
    _require(path, isinstance(images, list), "'images' must be a list of paths")
    _require(path, all(isinstance(p, str) for p in images), "'images' must hold only paths")
    _require(path, len(set(images)) == len(images), "an image is listed twice")
    settings = data.get("settings") or {}
    _require(path, isinstance(settings, dict), "'settings' must be a mapping")
    return Project(
        classes=classes,
        images=[ImageRecord(path=p) for p in images],
        name=str(data.get("name") or ""),
        settings=settings,
    )


# --------------------------------------------------------------------------- annotations


def annotation_file_name(image_path: str) -> str:
    """Stable file name for an image's annotations: readable tail of the path + a hash.

    The hash keeps names unique (also on case-insensitive file systems) and short; the
    readable part helps a human find the file.
    """
    digest = hashlib.sha1(image_path.encode("utf-8")).hexdigest()[:12]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", image_path)[-48:].lstrip("._") or "image"
    return f"{readable}-{digest}.yaml"


def _region_to_data(region: Region) -> list[dict[str, Any]]:
    parts = []
    for part in region.parts:
        entry: dict[str, Any] = {
            "exterior": ring_to_flat(part.exterior, decimals=COORDINATE_DECIMALS)
        }
        if part.holes:
            entry["holes"] = [ring_to_flat(h, decimals=COORDINATE_DECIMALS) for h in part.holes]
        parts.append(entry)
    return parts


def object_to_data(obj: AnnotationObject) -> dict[str, Any]:
    """One object's entry in an annotation file (coordinates rounded as stored)."""
    entry: dict[str, Any] = {
        "id": obj.id,
        "class_id": obj.class_id,
        "source": obj.source.value,
        "parts": _region_to_data(obj.region),
    }
    if obj.prompt is not None:
        entry["prompt"] = _plain(obj.prompt)
    if obj.hidden:
        entry["hidden"] = True
    if obj.crowd:
        entry["crowd"] = True
    return entry


def record_to_data(record: ImageRecord) -> dict[str, Any]:
    """An image's annotation-file content."""
    data: dict[str, Any] = {
        "schema_version": CURRENT_VERSION,
        "image": record.path,
        "width": record.width,
        "height": record.height,
        "state": record.state.value,
    }
    if record.split:
        data["split"] = record.split
    data["objects"] = [object_to_data(obj) for obj in record.objects]
    return data


def _flow(values: list[int] | list[float], indent: str) -> str:
    """A flow sequence of numbers, 16 per line (continuation lines indented under it)."""
    if not all(np.isfinite(values)):
        raise ValueError("polygon coordinates must be finite")
    chunks = [", ".join(map(repr, values[i : i + 16])) for i in range(0, len(values), 16)]
    return "[" + f",\n{indent}".join(chunks) + "]"


def _scalar(value: Any) -> str:
    # JSON strings, numbers and flow collections are valid YAML, and json is fast and exact.
    return json.dumps(_plain(value), ensure_ascii=False)


def record_to_yaml(record: ImageRecord) -> str:
    """The annotation file's text: same content as ``dump_yaml(record_to_data(record))``.

    Written by hand because it is on the save path: PyYAML's emitter spends ~100 ms on an
    image with 20 SAM objects (4,000 vertices); this takes a few ms. The output is plain
    block YAML with JSON-style scalars, read back by any YAML parser.
    """
    lines = [
        f"schema_version: {CURRENT_VERSION}",
        f"image: {_scalar(record.path)}",
        f"width: {int(record.width)}",
        f"height: {int(record.height)}",
        f"state: {record.state.value}",
        *([f"split: {_scalar(record.split)}"] if record.split else []),
        f"object_count: {len(record.objects)}",
        "objects:" if record.objects else "objects: []",
    ]
    for obj in record.objects:
        lines += [
            f"- id: {_scalar(obj.id)}",
            f"  class_id: {int(obj.class_id)}",
            f"  source: {obj.source.value}",
            "  parts:" if obj.region.parts else "  parts: []",
        ]
        for part in obj.region.parts:
            flat = ring_to_flat(part.exterior, decimals=COORDINATE_DECIMALS)
            lines.append(f"  - exterior: {_flow(flat, ' ' * 15)}")
            if part.holes:
                lines.append("    holes:")
                for hole in part.holes:
                    flat = ring_to_flat(hole, decimals=COORDINATE_DECIMALS)
                    lines.append(f"    - {_flow(flat, ' ' * 7)}")
        if obj.prompt is not None:
            lines.append(f"  prompt: {_scalar(obj.prompt)}")
        if obj.hidden:
            lines.append("  hidden: true")
        if obj.crowd:
            lines.append("  crowd: true")
    return "\n".join(lines) + "\n"


def read_summary(path: Path) -> tuple[ReviewState, int, int, int]:
    """(state, width, height, object count) from an annotation file's header lines only.

    Used to rebuild the index without parsing thousands of polygons. The header's
    ``object_count`` is written by samdesk; for a file without it (hand-made, older) the
    objects are parsed. Raises ProjectFileError like ``load_yaml_file``.
    """
    text = read_file_bytes(path)
    cut = text.find(b"\nobjects:")
    header = text[: cut + 1] if cut >= 0 else text
    try:
        data = safe_load(header)
    except yaml.YAMLError:
        data = None  # let the full parse report the error with its line
    if not isinstance(data, dict) or not isinstance(data.get("object_count"), int):
        data, _ = load_yaml_bytes(text, path, "annotations")
        record = record_from_data(data, path, str(data.get("image", "")))
        return record.state, record.width, record.height, len(record.objects)
    try:
        data, _ = migrate(data, "annotations")
        state = ReviewState(data.get("state", "new"))
        return (
            state,
            _size(data.get("width"), MAX_IMAGE_SIDE + 1),
            _size(data.get("height"), MAX_IMAGE_SIDE + 1),
            data["object_count"],
        )
    except (MigrationError, ValueError, TypeError) as exc:
        raise ProjectFileError(path, str(exc)) from exc


def _object_from_data(entry: Any) -> AnnotationObject:
    if not isinstance(entry, dict):
        raise TypeError(f"expected a mapping, found {type(entry).__name__}")
    raw_parts = entry.get("parts")
    if not isinstance(raw_parts, list):
        # What a file cut short after an object's first lines leaves ("parts:" and no
        # list): a phantom. samdesk writes an emptied object as "parts: []".
        raise ValueError("the object has no outline (its 'parts' list is missing)")
    parts = tuple(
        PolygonPart(
            ring_from_flat(p["exterior"]),
            tuple(ring_from_flat(h) for h in p.get("holes") or ()),
        )
        for p in raw_parts
    )
    class_id = entry["class_id"]
    if isinstance(class_id, bool) or not isinstance(class_id, int):
        raise TypeError(f"class_id must be an integer, found {class_id!r}")
    return AnnotationObject(
        class_id=class_id,
        region=Region(parts),
        source=ObjectSource(entry.get("source", "polygon")),
        id=str(entry["id"]),
        prompt=entry.get("prompt"),
        hidden=bool(entry.get("hidden", False)),
        crowd=bool(entry.get("crowd", False)),
    )


def _size(value: Any, limit: float = float("inf")) -> int:
    """A width/height from a file: a positive integer, or 0 (unknown) if not one or above
    ``limit``. The store replaces it with the image header's size before any use."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < limit:
        return 0  # also NaN (every comparison is False)
    return int(value)


MAX_IMAGE_SIDE = 1_000_000
"""A width or height above this in an annotation file is not believed (it would make any
full-image mask allocation absurd); the image file's header says the truth."""


def record_from_data(
    data: dict[str, Any],
    path: Path,
    image_path: str,
    problems: list[str] | None = None,
) -> ImageRecord:
    """An ImageRecord (with objects) from (migrated) annotation-file data.

    ``image_path`` is the project's path for the image (the file's own ``image`` field is
    informative only). Without ``problems``, raises ProjectFileError naming the first
    offending object; with a list, an object that cannot be used (bad values, no outline,
    NaN/infinite/huge or far-outside coordinates) is left out and a sentence saying why is
    appended, so every good object of a partly damaged file is kept.
    """
    raw = data.get("objects") or []
    if not isinstance(raw, list):
        raise ProjectFileError(path, "'objects' must be a list")
    try:
        width, height = _size(data.get("width")), _size(data.get("height"))
        state = ReviewState(data.get("state", "new"))
    except (TypeError, ValueError) as exc:
        raise ProjectFileError(path, f"the file: {type(exc).__name__}: {exc}") from exc
    record = ImageRecord(
        path=image_path,
        width=width,
        height=height,
        state=state,
        split=str(data.get("split") or ""),
    )
    for n, entry in enumerate(raw):
        try:
            obj = _object_from_data(entry)
            record.check_object(obj)
            if any(o.id == obj.id for o in record.objects):
                raise ValueError(f"a second object with id {obj.id!r}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if problems is None:
                raise ProjectFileError(path, f"objects[{n}]: {type(exc).__name__}: {exc}") from exc
            problems.append(f"object {n + 1} was left out: {exc}")
            continue
        record.objects.append(obj)
    return record


def _salvage(text: bytes, path: Path, error: ProjectFileError) -> tuple[dict[str, Any], int]:
    """The header and every object that parses on its own, from a file that does not parse
    as a whole; returns (data, number of objects lost). Raises ``error`` when not even the
    header can be read.

    samdesk writes one object per ``- id:`` block under a block ``objects:`` key, so a
    damaged file (a cut-off sync, a bad hand edit) is cut at those lines and each block is
    parsed alone: one bad object costs only that object.
    """
    lines = text.split(b"\n")
    try:
        cut = lines.index(b"objects:")
    except ValueError:
        raise error from None
    try:
        header = safe_load(b"\n".join(lines[:cut]))
        if not isinstance(header, dict):
            raise error
        header, _ = migrate(header, "annotations")
    except (yaml.YAMLError, MigrationError):
        raise error from None
    chunks: list[list[bytes]] = []
    for line in lines[cut + 1 :]:
        if line.startswith(b"- ") or not chunks:
            chunks.append([])
        chunks[-1].append(line)
    objects, lost = [], 0
    for chunk in chunks:
        body = b"\n".join(chunk)
        if not body.strip():
            continue
        try:
            items = safe_load(body)
        except yaml.YAMLError:
            lost += 1
            continue
        if isinstance(items, list) and len(items) == 1:
            objects.append(items[0])
        else:
            lost += 1
    return {**header, "objects": objects}, lost


def read_annotations(text: bytes, path: Path, image_path: str) -> tuple[ImageRecord, list[str]]:
    """An annotation file's record with every object that can be read, and what could not.

    The second value lists, in words, everything of the file that the record lacks: a
    syntax error (the objects that still parse are kept), objects left out (no outline,
    bad values, coordinates that are NaN, infinite, huge or far outside the image), or a
    header ``object_count`` that the objects do not match (a file cut short). An empty
    list means the record is the whole file. Raises ProjectFileError only when nothing
    can be used (not even the header, an unknown schema version).
    """
    problems: list[str] = []
    try:
        data, _ = load_yaml_bytes(text, path, "annotations")
        found = data.get("objects")
        found = len(found) if isinstance(found, list) else 0
    except ProjectFileError as error:
        if error.line is None:
            raise
        data, lost = _salvage(text, path, error)
        problems.append(str(error))
        if lost:
            problems.append(f"{lost} object(s) could not be read")
        found = len(data["objects"]) + lost
    record = record_from_data(data, path, image_path, problems)
    declared = data.get("object_count")
    if isinstance(declared, int) and not isinstance(declared, bool) and declared != found:
        problems.append(
            f"the file holds {found} object(s) but its header says {declared} "
            "(it may have been cut short)"
        )
    return record, problems
