"""The project on disk: one small project file, one annotation file per image, an index.

Layout (``<folder>`` is the project folder; every image lives under it)::

    <folder>/<name>.samdesk.yaml           schema_version, name, classes, settings, images
    <folder>/.samdesk/annotations/<key>.yaml   one per annotated image: state, size, objects
    <folder>/.samdesk/index.jsonl          cache: per image state, size, object count

Why this shape:

* **Saving one image writes one small file** (plus one appended index line), never the
  whole project, so it costs the same in a 10-image and a 100,000-image project.
  The project file changes only when classes, settings or the image list change.
* **Opening is fast**: the image list needs each image's path, state and object count. They
  come from the project file and the index, not from parsing thousands of annotation
  files; objects load lazily (``load_image_annotations``).
* **Annotation files are the truth, the index is a cache.** Each index line records the
  annotation file's size and mtime; at open, one ``scandir`` of the annotations folder
  finds files whose stat no longer matches (a crash between writing the file and appending
  its index line, a hand edit, a copied project), and only those are parsed. A torn last
  index line (crash during the append) is ignored. So the project opens consistently
  after a crash at any point.
* Every file is written atomically (``samdesk.io.atomic``): a crash or failed save leaves
  the previous version intact. Paths are POSIX and relative to the folder, which can be
  moved or shared.
* A file that does not parse is reported with its path and line and never overwritten. A
  damaged annotation file (syntax error, cut short, objects with NaN/huge coordinates)
  keeps every object that can be read, and the image is reported (``damaged_images``,
  ``image_problems``). Saving it is refused (``DamagedAnnotationsError``) until the user
  agrees (``allow_overwrite``); the damaged file is then first *copied* to
  ``<file>.damaged-<time>`` and nothing is ever moved or deleted.
* Several processes may save one project (two annotators on a shared folder): every
  save takes a short lock file (``samdesk.io.locking``), compares the file on disk with
  the version this process read (a content hash) and, if another writer changed it,
  merges (``samdesk.io.merge``) before writing. ``changed_on_disk`` tells the UI which
  images another annotator changed; ``load_image_annotations(reload=True)`` reloads one.
"""

from __future__ import annotations

import copy
import errno
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from samdesk.core.document import ImageRecord, LabelClass, Project, ReviewState
from samdesk.core.files import read_regular, remove_stale_temporaries
from samdesk.core.images import ImageReadError, image_size, scan_images
from samdesk.io.atomic import append_line, atomic_write_text, temp_name_pattern
from samdesk.io.locking import file_lock
from samdesk.io.migrations import CURRENT_VERSION
from samdesk.io.project_format import (
    MAX_IMAGE_SIDE,
    ProjectFileError,
    annotation_file_name,
    dump_yaml,
    load_yaml_bytes,
    project_from_data,
    project_to_data,
    read_annotations,
    read_file_bytes,
    read_summary,
    record_to_yaml,
)
from samdesk.io.project_sync import SharedFolderMixin, read_or_none, stamp, stat_key
from samdesk.io.save_errors import DamagedAnnotationsError, describe_save_error, write_problem

__all__ = [
    "PROJECT_SUFFIX",
    "DamagedAnnotationsError",
    "ProjectFileError",
    "ProjectStore",
    "describe_save_error",
]

_log = logging.getLogger(__name__)

PROJECT_SUFFIX = ".samdesk.yaml"
DATA_DIR = ".samdesk"
ANNOTATIONS_DIR = "annotations"
INDEX_FILE = "index.jsonl"


@dataclass
class _ImageInfo:
    """What the store knows about one image beyond its ImageRecord."""

    object_count: int = 0
    loaded: bool = False
    unreadable: str | None = None  # the error message while its annotation file is broken
    damage: list[str] = field(default_factory=list)  # what the loaded record lacks of the file
    notes: list[str] = field(default_factory=list)  # problems that lose nothing (size mismatch)
    overwrite_ok: bool = False  # the user agreed to replace the damaged file
    stamp: str | None = None  # content stamp of the file as last read/written here
    stat: tuple[int, int, int] | None = None  # its stat then (a cheap first check)
    base_text: bytes | None = None  # the file's content then: the merge base, parsed only
    # when another writer's version has to be merged (saves stay as cheap as before)


class ProjectStore(SharedFolderMixin):
    """A project opened from (or created in) a folder. Not thread-safe: one owner.

    ``project`` is the document; its ``images`` are ImageRecords whose ``path``, ``state``
    and size are known at open and whose ``objects`` are filled by
    ``load_image_annotations``. ``warnings`` collects problems met while opening/saving
    (unreadable files, images that vanished), as messages for the user.
    """

    def __init__(self, path: Path, project: Project) -> None:
        self.path = path.resolve()
        self.root = self.path.parent
        self.project = project
        self.warnings: list[str] = []
        self._info: dict[str, _ImageInfo] = {r.path: _ImageInfo() for r in project.images}
        self._loaded_version = CURRENT_VERSION
        self._index_lines = 0  # lines in the index file, to know when to compact it
        self.read_only = False
        self.read_only_reason: str | None = None  # why, in words, when detected at open
        self._project_stamp: str | None = None  # the project file as last read/written
        self._project_stat: tuple[int, int, int] | None = None
        self._base = self._snapshot()  # the project file's content at last sync, for merges
        self.merge_notes: list[str] = []  # what merges with other writers could not settle
        self.merged_images: list[str] = []  # each save that took in another writer's objects

    def _snapshot(self, project: Project | None = None) -> tuple[str, list, dict, list[str]]:
        """(name, classes, settings, image paths) of ``project`` (default: ours), copied:
        the merge base of the project file."""
        p = self.project if project is None else project
        return (
            p.name,
            [replace(c) for c in p.classes],
            copy.deepcopy(p.settings),
            [r.path for r in p.images],
        )

    # ------------------------------------------------------------------ paths

    @property
    def annotations_dir(self) -> Path:
        return self.root / DATA_DIR / ANNOTATIONS_DIR

    @property
    def index_path(self) -> Path:
        return self.root / DATA_DIR / INDEX_FILE

    def annotation_path(self, image_path: str) -> Path:
        """Where the annotations of the image with project-relative ``image_path`` live."""
        return self.annotations_dir / annotation_file_name(image_path)

    def image_abspath(self, record: ImageRecord | str) -> Path:
        """Absolute path of an image (record or project-relative POSIX path)."""
        return self.root / (record.path if isinstance(record, ImageRecord) else record)

    def relative_image_path(self, path: str | os.PathLike[str]) -> str:
        """Project-relative POSIX path of an image file; ValueError if outside the folder."""
        absolute = Path(path) if Path(path).is_absolute() else self.root / path
        try:
            return absolute.resolve().relative_to(self.root).as_posix()
        except ValueError:
            raise ValueError(f"{path} is not inside the project folder {self.root}") from None

    # ------------------------------------------------------------------ create / open

    @classmethod
    def create(
        cls,
        folder: str | os.PathLike[str],
        name: str | None = None,
        *,
        recursive: bool = True,
        classes: Iterable[LabelClass] = (),
    ) -> ProjectStore:
        """Create a project in an existing ``folder``, listing the images found in it.

        The project file is ``<folder>/<name>.samdesk.yaml`` (``name`` defaults to the
        folder's name). Raises FileExistsError if that file exists already.
        """
        root = Path(folder).resolve()
        if not root.is_dir():
            raise NotADirectoryError(f"not a folder: {root}")
        name = name or root.name or "project"
        file_stem = "".join(ch if ch.isalnum() or ch in "-_ ." else "_" for ch in name).strip()
        path = root / f"{file_stem or 'project'}{PROJECT_SUFFIX}"
        if path.exists():
            raise FileExistsError(f"a project file already exists: {path}")
        skipped: list[str] = []
        images = [ImageRecord(path=p) for p in scan_images(root, recursive, skipped)]
        store = cls(path, Project(classes=list(classes), images=images, name=name))
        store.warnings.extend(skipped)
        store.annotations_dir.mkdir(parents=True, exist_ok=True)
        store.save_project()
        return store

    @classmethod
    def find_project_file(cls, path: str | os.PathLike[str]) -> Path:
        """The project file itself, or the single ``*.samdesk.yaml`` in a folder."""
        path = Path(path)
        if path.is_dir():
            found = sorted(path.glob(f"*{PROJECT_SUFFIX}"))
            if len(found) != 1:
                what = "no" if not found else "more than one"
                raise FileNotFoundError(f"{what} *{PROJECT_SUFFIX} file in {path}")
            return found[0]
        if not path.exists():
            raise FileNotFoundError(f"no project file {path}")
        return path

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False) -> ProjectStore:
        """Open a project file (or a folder holding one).

        Raises ProjectFileError (with line and column) if the project file itself is
        broken; broken annotation files only produce ``warnings``. ``read_only`` writes
        nothing, not even the index cache (for the bundled sample project, previews);
        saving then raises PermissionError. A project in a folder this process may not
        write is opened read-only by itself, ``read_only_reason`` saying why in words
        ("The folder … is read-only").
        """
        path = cls.find_project_file(path)
        text = read_file_bytes(path)
        data, version = load_yaml_bytes(text, path, "project")
        store = cls(path, project_from_data(data, path))
        store._project_stamp, store._project_stat = stamp(text), stat_key(path)
        store.read_only_reason = None if read_only else write_problem(store.path)
        store.read_only = read_only or store.read_only_reason is not None
        store._loaded_version = version
        if not store.read_only:
            store._remove_stale_temporaries()
        store._read_summaries()
        return store

    def _remove_stale_temporaries(self) -> None:
        """Delete what crashed atomic writes of this project left (``.<name>.<hex>.tmp``,
        untouched for an hour): only names of files samdesk writes, in its own folders."""
        data_dir = self.root / DATA_DIR
        for folder, target in (
            (self.root, re.escape(self.path.name)),  # the project file
            (data_dir, re.escape(INDEX_FILE)),
            (self.annotations_dir, r".+\.yaml"),
        ):
            remove_stale_temporaries(folder, temp_name_pattern(target))

    def _read_summaries(self) -> None:
        """Fill state/size/object count of every image from the index, checked by stat."""
        index = self._read_index()
        on_disk: dict[str, os.stat_result] = {}
        if self.annotations_dir.is_dir():
            with os.scandir(self.annotations_dir) as entries:
                on_disk = {e.name: e.stat() for e in entries if e.name.endswith(".yaml")}
        stale = False
        for record in self.project.images:
            file_name = annotation_file_name(record.path)
            stat = on_disk.get(file_name)
            if stat is None:
                continue  # never saved: a new, empty image
            entry = index.get(record.path)
            if self._use_index_entry(record, entry, file_name, stat):
                continue
            stale = True  # the index missed a save (crash) or the file was edited
            self._read_summary(record)
        if stale or self._index_too_long():
            self._write_index()

    def _use_index_entry(
        self, record: ImageRecord, entry: dict | None, file_name: str, stat: os.stat_result
    ) -> bool:
        """Take the summary from the index entry if it describes the file as it is now."""
        if (
            entry is None
            or entry.get("file") != file_name
            or entry.get("mtime_ns") != stat.st_mtime_ns
            or entry.get("size") != stat.st_size
        ):
            return False
        try:
            state = ReviewState(entry["state"])
            width, height, count = int(entry["width"]), int(entry["height"]), int(entry["objects"])
        except (KeyError, TypeError, ValueError):
            return False
        if not (0 <= width <= MAX_IMAGE_SIDE and 0 <= height <= MAX_IMAGE_SIDE):
            return False  # not a size samdesk wrote: read the file's header instead
        record.state, record.width, record.height = state, width, height
        self._info[record.path].object_count = count
        return True

    def _index_too_long(self) -> bool:
        return self._index_lines > 2 * len(self.project.images) + 100

    # ------------------------------------------------------------------ the index

    def _read_index(self) -> dict[str, dict]:
        index: dict[str, dict] = {}
        try:
            lines = read_regular(self.index_path).splitlines()
        except OSError:
            return index
        self._index_lines = len(lines)
        for line in lines:
            try:
                entry = json.loads(line)
                index[entry["path"]] = entry
            except (ValueError, KeyError, TypeError):
                continue  # a torn line from a crash mid-append: the stat check covers it
        return index

    def _index_entry(self, record: ImageRecord) -> str | None:
        try:
            stat = self.annotation_path(record.path).stat()
        except OSError:
            return None
        entry = {
            "path": record.path,
            "file": annotation_file_name(record.path),
            "state": record.state.value,
            "objects": self._info[record.path].object_count,
            "width": record.width,
            "height": record.height,
            "mtime_ns": stat.st_mtime_ns,
            "size": stat.st_size,
        }
        return json.dumps(entry, ensure_ascii=False)

    def _write_index(self) -> None:
        """Rewrite the index compactly from what is known now (atomic)."""
        if self.read_only:
            return
        lines = [
            line
            for record in self.project.images
            if self._info[record.path].unreadable is None
            and (line := self._index_entry(record)) is not None
        ]
        try:
            self.index_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.index_path, "".join(line + "\n" for line in lines))
            self._index_lines = len(lines)
        except OSError as exc:
            # A read-only project (a bundled sample, a shared drive) still opens: the index
            # is only a cache, so this is not worth a warning to the user.
            _log.info("could not update the index %s: %s", self.index_path, exc)

    # ------------------------------------------------------------------ queries

    def record(self, index_or_path: int | str) -> ImageRecord:
        """The ImageRecord at a list position or with a project-relative path."""
        if isinstance(index_or_path, int):
            return self.project.images[index_or_path]
        return self.project.images[self.project.image_index(index_or_path)]

    def object_count(self, index_or_path: int | str) -> int:
        """Number of objects of an image (known without loading it)."""
        record = self.record(index_or_path)
        info = self._info[record.path]
        return len(record.objects) if info.loaded else info.object_count

    def is_loaded(self, index_or_path: int | str) -> bool:
        """True once the image's objects were loaded (or it was saved in this session)."""
        return self._info[self.record(index_or_path).path].loaded

    def unreadable(self, index_or_path: int | str) -> str | None:
        """What is wrong with the image's annotation file (damaged, unreadable), or None."""
        path = index_or_path if isinstance(index_or_path, str) else None
        info = self._info[path if path in self._info else self.record(index_or_path).path]
        if info.unreadable is not None:
            return info.unreadable
        return "; ".join(info.damage) if info.damage else None

    def damaged_images(self) -> dict[str, str]:
        """Images whose annotation file could not be read whole: path → problem in words.

        The images' records hold what could be read; saving one is refused until
        ``allow_overwrite``. Images not loaded yet are known only from their header.
        """
        return {path: text for path in self._info if (text := self.unreadable(path)) is not None}

    def image_problems(self) -> dict[str, list[str]]:
        """Every image with a known problem: path → sentences (damage, a size mismatch).

        For exports and the image list: an exporter should report these images (their
        records lack what could not be read).
        """
        problems: dict[str, list[str]] = {}
        for path, info in self._info.items():
            found = ([info.unreadable] if info.unreadable else []) + info.damage + info.notes
            if found:
                problems[path] = found
        return problems

    def allow_overwrite(self, index_or_path: int | str) -> Path | None:
        """The user agreed to save a damaged image: the damaged file is copied first.

        Returns the backup copy (``<file>.damaged-<time>``), or None if there was no file.
        The original stays where it is until the next save replaces it.
        """
        self._check_writable()
        record = self.record(index_or_path)
        info = self._info[record.path]
        file = self.annotation_path(record.path)
        backup = None
        if file.exists():
            backup = file.with_name(f"{file.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
            n = 1
            while backup.exists():
                backup, n = backup.with_name(f"{backup.name}-{n}"), n + 1
            shutil.copy2(file, backup)
            self.warnings.append(f"the damaged annotations of {record.path} copied to {backup}")
        # The consent is for the file as it is now: if another writer replaces it before
        # our save, that version is merged (or refused again), not overwritten.
        data = read_or_none(file)
        info.stamp, info.base_text = stamp(data), data
        info.overwrite_ok = True
        return backup

    # ------------------------------------------------------------------ images

    def _read_summary(self, record: ImageRecord) -> None:
        """State, size and object count from the file header (objects stay on disk)."""
        file = self.annotation_path(record.path)
        try:
            state, width, height, count = read_summary(file)
        except ProjectFileError as exc:
            self._mark_unreadable(record, exc)
            return
        record.state, record.width, record.height = state, width, height
        self._info[record.path].object_count = count

    def _mark_unreadable(self, record: ImageRecord, exc: ProjectFileError) -> None:
        self._info[record.path].unreadable = str(exc)
        warning = f"annotations of {record.path} are unreadable and kept: {exc}"
        if warning not in self.warnings:  # met again when the image is shown: said once
            self.warnings.append(warning)
        record.objects = []

    def _load_from_disk(self, record: ImageRecord) -> None:
        info = self._info[record.path]
        file = self.annotation_path(record.path)
        try:
            text = read_file_bytes(file)
            loaded, damage = read_annotations(text, file, record.path)
        except ProjectFileError as exc:
            self._mark_unreadable(record, exc)
            return
        info.unreadable, info.notes = None, []
        self._check_size(record, loaded)
        # Objects were checked against the file's size; re-check against the real one.
        kept = []
        for obj in loaded.objects:
            try:
                loaded.check_object(obj)
            except ValueError as exc:
                damage.append(f"object {obj.id} was left out: {exc}")
                continue
            kept.append(obj)
        info.damage = damage
        if damage:
            self.warnings.append(f"annotations of {record.path} are damaged: {'; '.join(damage)}")
        self._sync(info, text, file)
        record.width, record.height = loaded.width, loaded.height
        record.state, record.objects = loaded.state, kept
        record.split = loaded.split
        info.object_count, info.loaded = len(kept), True
        self._learn_classes(record)

    def _sync(self, info: _ImageInfo, text: bytes | None, file: Path) -> None:
        """Remember the file as it is now on disk (stamp, stat) and as the merge base."""
        info.stamp, info.stat, info.base_text = stamp(text), stat_key(file), text

    def _check_size(self, record: ImageRecord, loaded: ImageRecord) -> None:
        """The image file's header wins over the annotation file's width/height."""
        try:
            real = image_size(self.image_abspath(record))
        except ImageReadError:
            # The image is missing or unreadable (the list says so): keep a plausible
            # claimed size, never an absurd one (a full-image mask would not fit in memory).
            if max(loaded.width, loaded.height) > MAX_IMAGE_SIDE:
                self._info[record.path].notes.append(
                    f"the annotation file's image size {loaded.width}×{loaded.height} was "
                    "ignored (not a plausible image size)"
                )
                loaded.width = loaded.height = 0
            return
        if (loaded.width, loaded.height) != real:
            if loaded.width or loaded.height:
                note = (
                    f"the annotation file says the image is {loaded.width}×{loaded.height} "
                    f"pixels but it is {real[0]}×{real[1]}; the image's size is used"
                )
                self._info[record.path].notes.append(note)
                self.warnings.append(f"{record.path}: {note}")
            loaded.width, loaded.height = real

    def load_image_annotations(
        self, index_or_path: int | str, *, reload: bool = False
    ) -> ImageRecord:
        """The image's record with its objects loaded (in place, the same ImageRecord).

        An image with no annotation file yet is returned empty. If the record has no size
        yet it is read from the image header. Already loaded records are returned as they
        are (with in-memory edits) unless ``reload``. A broken annotation file gives an
        empty record; ``unreadable()`` then says why.
        """
        record = self.record(index_or_path)
        info = self._info[record.path]
        if not info.loaded or reload:
            file = self.annotation_path(record.path)
            if file.exists():
                self._load_from_disk(record)
            else:
                record.objects = []
                info.object_count, info.unreadable, info.damage = 0, None, []
                self._sync(info, None, file)
            info.loaded = info.unreadable is None
        if not (record.width and record.height):
            self._fill_size(record)
        return record

    def _fill_size(self, record: ImageRecord) -> None:
        try:
            record.width, record.height = image_size(self.image_abspath(record))
        except ImageReadError as exc:
            self.warnings.append(str(exc))

    def ensure_sizes(self) -> None:
        """Read the size of every image whose size is still unknown (header reads only)."""
        for record in self.project.images:
            if not (record.width and record.height):
                self._fill_size(record)

    def save_image(self, record: ImageRecord) -> None:
        """Write one image's annotations (atomic) and note it in the index.

        ``record`` must be an image of the project whose annotations were loaded (or are
        new): saving an unloaded record would wipe its objects on disk, so it raises.
        A damaged file is not replaced before ``allow_overwrite`` (DamagedAnnotationsError).
        If another process changed the file since this one read it, both sides' objects
        are merged into ``record`` (see ``samdesk.io.merge``; ``merge_notes`` says what
        needed a decision). Raises OSError (disk full, read-only…; ``describe_save_error``
        words it), LockTimeout, or ValueError for objects that cannot be written; the file
        on disk is then unchanged and ``record`` keeps the edits.
        """
        self._check_writable()
        current = self.record(record.path)
        info = self._info[record.path]
        file = self.annotation_path(record.path)
        if not info.loaded and info.unreadable is None and file.exists() and not record.objects:
            raise ValueError(f"load_image_annotations({record.path!r}) before saving it")
        problems = self.unreadable(record.path)
        if problems is not None and not info.overwrite_ok:
            raise DamagedAnnotationsError(record.path, problems)
        if current is not record:  # the caller edited a copy: it becomes the project's
            self.project.images[self.project.image_index(record.path)] = record
        if self._uses_unsaved_class(record):
            # Objects on disk only ever name classes that are in the project file on disk:
            # another annotator may take the same new class id meanwhile (then ours moves).
            self.save_project()
        text = record_to_yaml(record)  # objects that cannot be written fail before any file
        file.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self._lock_path(file)):
            disk = read_or_none(file)
            if stamp(disk) != info.stamp and disk is not None:
                self._merge_image(record, info, file, disk)
                text = record_to_yaml(record)
            atomic_write_text(file, text)
            self._sync(info, text.encode("utf-8"), file)
        info.loaded, info.unreadable, info.object_count = True, None, len(record.objects)
        info.damage, info.overwrite_ok = [], False
        line = self._index_entry(record)
        if line is not None:
            # No fsync: a lost index line only makes the next open re-read this header.
            append_line(self.index_path, line)
            self._index_lines += 1

    def set_state(self, index_or_path: int | str, state: ReviewState) -> ImageRecord:
        """Change an image's review state and save it (loads its objects if needed)."""
        record = self.load_image_annotations(index_or_path)
        record.state = ReviewState(state)
        self.save_image(record)
        return record

    def add_images(self, paths: Iterable[str | os.PathLike[str]]) -> list[ImageRecord]:
        """Append images (files inside the project folder) not yet in the project.

        Returns the new records. The image list is saved with ``save_project``.
        """
        known = {r.path for r in self.project.images}
        added = []
        for path in paths:
            relative = self.relative_image_path(path)
            if relative in known:
                continue
            known.add(relative)
            record = ImageRecord(path=relative)
            self.project.images.append(record)
            self._info[relative] = _ImageInfo()
            added.append(record)
        return added

    def scan_new_images(self, recursive: bool = True) -> list[ImageRecord]:
        """Add the images that appeared in the project folder since it was scanned."""
        skipped: list[str] = []
        added = self.add_images(scan_images(self.root, recursive, skipped))
        self.warnings.extend(skipped)
        return added

    def missing_images(self) -> list[str]:
        """Paths of listed images whose file no longer exists."""
        return [r.path for r in self.project.images if not self.image_abspath(r).is_file()]

    # ------------------------------------------------------------------ project file

    def _check_writable(self) -> None:
        if self.read_only:
            why = self.read_only_reason or f"the project {self.path} was opened read-only"
            raise PermissionError(errno.EROFS, why)

    def save_project(self) -> dict[int, int]:
        """Write the project file (name, classes, settings, image list), atomically.

        A project file read in an older schema version is first copied to
        ``<file>.v<version>.bak``, so an upgrade can be undone by hand. If another process
        changed the file since this one read it, its changes are merged in first (classes
        both added are all kept, images both added too). Returns the class ids of ours
        that moved because another annotator took them meanwhile (old → new; the objects
        of loaded images are relabelled here, the UI must follow), usually ``{}``.
        """
        self._check_writable()
        dump_yaml(project_to_data(self.project))  # fails before touching any file
        remap: dict[int, int] = {}
        with file_lock(self._lock_path(self.path)):
            disk = read_or_none(self.path)
            if disk is not None and stamp(disk) != self._project_stamp:
                remap = self._merge_project(disk)
            text = dump_yaml(project_to_data(self.project))
            if self._loaded_version < CURRENT_VERSION:
                backup = self.path.with_name(f"{self.path.name}.v{self._loaded_version}.bak")
                if self.path.exists() and not backup.exists():
                    shutil.copy2(self.path, backup)
                self._loaded_version = CURRENT_VERSION
            atomic_write_text(self.path, text)
            self._project_stamp, self._project_stat = stamp(text.encode()), stat_key(self.path)
            self._base = self._snapshot()
        if self._index_too_long():
            self._write_index()
        return remap
