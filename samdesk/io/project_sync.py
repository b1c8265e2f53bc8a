"""Saving a project that other processes save too (two annotators, one shared folder).

``SharedFolderMixin`` is the part of ``ProjectStore`` that notices another writer: each
file's content stamp as this process last read or wrote it, the merge of another
writer's version before a save (under a lock file, ``samdesk.io.locking``; rules in
``samdesk.io.merge``), and the queries the window uses to mark and reload images another
annotator changed. It uses the store's ``project``, ``_info``, paths and loaders.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from samdesk.core.document import ImageRecord, ReviewState
from samdesk.core.files import read_regular
from samdesk.io.merge import merge_classes, merge_objects, merge_settings, object_key, three_way
from samdesk.io.project_format import (
    ProjectFileError,
    load_yaml_bytes,
    project_from_data,
    read_annotations,
)
from samdesk.io.save_errors import DamagedAnnotationsError

__all__ = ["SharedFolderMixin", "read_or_none", "stamp", "stat_key"]

LOCKS_DIR = "locks"


def stamp(data: bytes | None) -> str | None:
    """A file's content stamp (None: no file). Content, not mtime: shared folders round
    mtimes and copies keep them."""
    return None if data is None else hashlib.sha1(data).hexdigest()


def read_or_none(path: Path) -> bytes | None:
    try:
        # Only a regular file: a FIFO in its place raises at once instead of blocking.
        return read_regular(path)
    except FileNotFoundError:
        return None


def stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class SharedFolderMixin:
    """Another writer's changes: noticed, merged, never overwritten (see the module)."""

    # Provided by ProjectStore.
    project: Any
    path: Path
    root: Path
    read_only: bool
    warnings: list[str]
    merge_notes: list[str]
    merged_images: list[str]
    _info: dict[str, Any]
    _base: tuple[str, list, dict, list[str]]
    _project_stamp: str | None
    _project_stat: tuple[int, int, int] | None

    def changed_on_disk(self) -> list[str]:
        """Images whose annotation file another writer changed since this process read or
        wrote it (for the image list's "changed elsewhere" mark; reload them with
        ``load_image_annotations(path, reload=True)``). Cheap: a stat per known file."""
        return [path for path, info in self._info.items() if self._changed(path, info)]

    def changed_elsewhere(self, index_or_path: int | str) -> bool:
        """True if another writer changed this image's annotation file since we synced."""
        path = self.record(index_or_path).path
        return self._changed(path, self._info[path])

    def _changed(self, path: str, info: Any) -> bool:
        if not info.loaded:
            return False  # nothing shown from it yet: it is read fresh when loaded
        file = self.annotation_path(path)
        now = stat_key(file)
        if now == info.stat:
            return False
        return stamp(read_or_none(file)) != info.stamp

    def project_changed_on_disk(self) -> bool:
        """True if another writer changed the project file (classes, images) since we synced."""
        if stat_key(self.path) == self._project_stat:
            return False
        return stamp(read_or_none(self.path)) != self._project_stamp

    def _learn_classes(self, record: ImageRecord) -> None:
        """Objects of classes this process has not seen: another annotator added them;
        take their project file's classes now, so the objects show with their class."""
        known = {c.id for c in self.project.classes}
        if any(o.class_id not in known for o in record.objects):
            try:
                self.reload_project()
            except (ProjectFileError, OSError) as exc:
                self.warnings.append(f"could not read the project file again: {exc}")

    def _base_objects(self, info: Any, file: Path) -> tuple[dict[str, str], ReviewState]:
        """The merge base: object id → ``object_key`` and the state, of the file as this
        process last read or wrote it (empty when there was no file)."""
        if info.base_text is None:
            return {}, ReviewState.NEW
        try:
            record, _ = read_annotations(info.base_text, file, "")
        except ProjectFileError:
            return {}, ReviewState.NEW
        return {o.id: object_key(o) for o in record.objects}, record.state

    def _lock_path(self, file: Path) -> Path:
        return self.root / ".samdesk" / LOCKS_DIR / f"{file.name}.lock"

    def _uses_unsaved_class(self, record: ImageRecord) -> bool:
        synced = {c.id for c in self._base[1]}
        return any(o.class_id not in synced for o in record.objects) and any(
            c.id not in synced for c in self.project.classes
        )

    def _merge_image(self, record: ImageRecord, info: Any, file: Path, disk: bytes) -> None:
        """Another writer changed the file: take their changes into ``record``."""
        try:
            theirs, damage = read_annotations(disk, file, record.path)
        except ProjectFileError as exc:
            damage, theirs = [str(exc)], None
        if damage or theirs is None:
            # Never write over what another writer left and we cannot read whole.
            info.damage = damage
            raise DamagedAnnotationsError(record.path, "; ".join(damage))
        base, base_state = self._base_objects(info, file)
        merged = merge_objects(
            base, base_state, record.objects, record.state, theirs.objects, theirs.state
        )
        record.objects[:] = merged.objects
        record.state = merged.state
        self.merged_images.append(record.path)
        self._learn_classes(record)
        for note in merged.notes:
            self.merge_notes.append(f"{record.path}: {note}")
            self.warnings.append(f"{record.path}: {note}")

    def reload_project(self) -> dict[int, int]:
        """Take another writer's changes of the project file (classes, images) without
        writing anything; returns class id changes like ``save_project``."""
        disk = read_or_none(self.path)
        if disk is None or stamp(disk) == self._project_stamp:
            return {}
        remap = self._merge_project(disk)
        if remap and not self.read_only:
            self.save_project()  # our new classes moved: the file says so at once
            return remap
        # The new base is the file as it is on disk (theirs), not our merged project: our
        # own unsaved changes must still count as ours at the next save.
        theirs = project_from_data(load_yaml_bytes(disk, self.path, "project")[0], self.path)
        self._project_stamp, self._project_stat = stamp(disk), stat_key(self.path)
        self._base = self._snapshot(theirs)
        return remap

    def _relabel_unsaved(self, remap: dict[int, int]) -> None:
        """Our new classes moved to other ids: relabel the objects that use them.

        Only objects not yet on disk as they are (new or edited since the last sync) can
        use one of our unsaved classes (``save_image`` saves the project file first); an
        object as it is on disk with the same number is another annotator's, of their
        class, and must keep it.
        """
        for record in self.project.images:
            info = self._info[record.path]
            if not info.loaded:
                continue
            if not any(o.class_id in remap for o in record.objects):
                continue
            base, _ = self._base_objects(info, self.annotation_path(record.path))
            record.objects[:] = [
                replace(o, class_id=remap[o.class_id])
                if o.class_id in remap and base.get(o.id) != object_key(o)
                else o
                for o in record.objects
            ]

    def _merge_project(self, disk: bytes) -> dict[int, int]:
        theirs = project_from_data(load_yaml_bytes(disk, self.path, "project")[0], self.path)
        project = self.project
        base_name, base_classes, base_settings, base_images = self._base
        classes = merge_classes(base_classes, project.classes, theirs.classes)
        project.classes[:] = classes.classes
        project.name = three_way(base_name, project.name, theirs.name)
        merged_settings = merge_settings(base_settings, project.settings, theirs.settings)
        project.settings.clear()
        project.settings.update(merged_settings)
        # Images another writer added are added here too (with what they annotated).
        known = {r.path for r in project.images} | set(base_images)
        for record in self.add_images(r.path for r in theirs.images if r.path not in known):
            if self.annotation_path(record.path).exists():
                self._read_summary(record)
        if classes.remap:
            self._relabel_unsaved(classes.remap)
        for note in classes.notes:
            self.merge_notes.append(note)
            self.warnings.append(note)
        return classes.remap
