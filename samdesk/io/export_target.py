"""Where an export may write, and how a dataset folder is replaced without losing data.

Two rules (issue #12):

* An export never writes over the project: a COCO file may not be the project file, an
  annotation file, a file under ``.samdesk/``, an image or any file that is not JSON; a
  dataset folder may not be the project folder, lie inside it, or hold the project under
  its ``images/`` or ``labels/`` (``check_file_target``, ``check_folder_target``).
* Replacing a previous export removes only what an earlier samdesk export wrote there.
  Each export leaves a manifest, ``.samdesk-export.json``, listing the files it wrote
  (POSIX path relative to the folder → size, mtime, sha256). ``StagedDataset`` writes the
  new dataset into a hidden folder inside the target (same file system, so renames are
  atomic), then swaps: previous files that still match the manifest are moved aside, the
  new ones renamed into place, the new manifest last, and only then are the old ones
  deleted. A file that is not in the old manifest (``notes.txt`` in ``images/``) or was
  changed since is never moved or deleted; if the new export would need its name, the
  export is refused before anything is touched.

Crash safety: a kill while writing leaves the previous dataset untouched (the new one is
only in the hidden staging folder, removed by the next export). The swap itself is a few
renames guarded by a journal, ``.samdesk-export.swap.json``: the next export into the
folder rolls an interrupted swap back (manifest not yet in place) or finishes it.

Layout inside ``out`` while an export runs::

    .samdesk-export.new-<hex>/    the new dataset being written (with .samdesk-stage)
    .samdesk-export.old-<hex>/    previous files moved aside during the swap
    .samdesk-export.swap.json     {"stage": ..., "aside": ...} while swapping
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from samdesk.io._formats import FormatError
from samdesk.io.atomic import atomic_write_bytes, fsync_dir
from samdesk.io.safe_paths import DATA_DIR, EXPORT_MANIFEST, PROJECT_SUFFIX, is_inside

__all__ = [
    "EXPORT_MANIFEST",
    "ExportTargetError",
    "StagedDataset",
    "check_file_target",
    "check_folder_target",
    "listed_files",
]

_STAGE_PREFIX = ".samdesk-export.new-"
_ASIDE_PREFIX = ".samdesk-export.old-"
_JOURNAL = ".samdesk-export.swap.json"
_STAGE_MARK = ".samdesk-stage"
_MANIFEST_KIND = "samdesk-export"
_CHUNK = 1 << 20


class ExportTargetError(FormatError):
    """The export's output is refused (would overwrite the project or files not ours)."""


# --------------------------------------------------------------------------- checks


def check_file_target(out: str | os.PathLike[str]) -> None:
    """Refuse a single-file output (COCO JSON) that would overwrite something not ours.

    Refused: a project file (``*.samdesk.yaml``), anything under a ``.samdesk`` folder,
    an export manifest, a folder, an image (by suffix, or by content if it exists), and
    an existing file that is not a JSON document (a previous export is replaced).
    """
    from samdesk.core.images import IMAGE_EXTENSIONS  # lazy: pillow
    from samdesk.io.safe_paths import not_an_image

    path = Path(out)
    resolved = path.resolve()
    if path.name.lower().endswith(PROJECT_SUFFIX) or resolved.name.endswith(PROJECT_SUFFIX):
        raise ExportTargetError(f"{out}: is a samdesk project file; choose another file name")
    if DATA_DIR in resolved.parts or DATA_DIR in path.parts:
        raise ExportTargetError(f"{out}: is inside a project's {DATA_DIR} folder")
    if resolved.name == EXPORT_MANIFEST:
        raise ExportTargetError(f"{out}: is a samdesk export manifest")
    if resolved.is_dir():
        raise ExportTargetError(f"{out}: is a folder; give the JSON file to write")
    if path.suffix.lower() in IMAGE_EXTENSIONS or (
        resolved.exists() and not_an_image(resolved) is None
    ):
        raise ExportTargetError(f"{out}: is an image; choose a .json file name")
    if resolved.exists() and not _is_json_document(resolved):
        raise ExportTargetError(
            f"{out}: exists and is not a JSON file; it is not replaced (choose another name)"
        )


def check_folder_target(out: str | os.PathLike[str], project_root: str | os.PathLike[str]) -> None:
    """Refuse a dataset folder that is, or is inside, the project folder, or that would
    hold the project under its ``images/`` or ``labels/`` ("over the images")."""
    path = Path(out)
    resolved = path.resolve()
    root = Path(project_root).resolve()
    if resolved.exists() and not resolved.is_dir():
        raise ExportTargetError(f"{out}: is a file; give a folder for the dataset")
    if is_inside(resolved, root):
        raise ExportTargetError(
            f"{out}: is inside the project folder {root}; export to a folder outside it"
        )
    if DATA_DIR in resolved.parts:
        raise ExportTargetError(f"{out}: is inside a project's {DATA_DIR} folder")
    for owned in ("images", "labels"):
        if is_inside(root, resolved / owned):
            raise ExportTargetError(
                f"{out}: its {owned}/ folder holds the project {root}; choose another folder"
            )


def _is_json_document(path: Path) -> bool:
    """Whether the file starts like a JSON object or array (a previous export)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head[:1] in (b"{", b"[") or path.stat().st_size == 0


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class _Entry:
    size: int
    mtime_ns: int
    sha256: str


def _stat_entry(path: Path, digest: str) -> _Entry:
    st = path.stat()
    return _Entry(st.st_size, st.st_mtime_ns, digest)


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _safe_relative(name: Any) -> str | None:
    """A manifest key, if it is a plain relative POSIX path (a hostile manifest must not
    make us move or delete files elsewhere)."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return None
    pure = PurePosixPath(name)
    if pure.is_absolute() or any(p in ("..", ".", "") for p in name.split("/")):
        return None
    return pure.as_posix()


def _read_manifest(path: Path) -> dict[str, _Entry] | None:
    """The files of a manifest, or None if there is none or it is not ours/unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("kind") != _MANIFEST_KIND:
        return None
    files = data.get("files")
    if not isinstance(files, dict):
        return None
    entries = {}
    for name, value in files.items():
        rel = _safe_relative(name)
        if rel is None or rel == EXPORT_MANIFEST or not isinstance(value, dict):
            continue
        try:
            entries[rel] = _Entry(int(value["size"]), int(value["mtime_ns"]), str(value["sha256"]))
        except (KeyError, TypeError, ValueError):
            continue
    return entries


def _manifest_bytes(entries: dict[str, _Entry]) -> bytes:
    files = {
        rel: {"size": e.size, "mtime_ns": e.mtime_ns, "sha256": e.sha256}
        for rel, e in sorted(entries.items())
    }
    return json.dumps({"kind": _MANIFEST_KIND, "version": 1, "files": files}, indent=1).encode()


def _unchanged(path: Path, entry: _Entry) -> bool:
    """Whether ``path`` is still the file the manifest describes (a regular file, not a
    link; same size and mtime, or else the same content)."""
    try:
        st = path.lstat()
    except OSError:
        return False
    if not path.is_file() or path.is_symlink() or st.st_size != entry.size:
        return False
    if st.st_mtime_ns == entry.mtime_ns:
        return True
    return _hash_file(path) == entry.sha256


# --------------------------------------------------------------------------- staged writer


@dataclass
class StagedDataset:
    """A dataset folder written beside the previous one and swapped in by ``commit``.

    ``out``: the dataset folder; ``owned``: the top-level names a dataset of this format
    consists of (e.g. ``("images", "labels", "data.yaml")``). Without ``overwrite`` their
    presence is refused; with it, they are replaced only as far as the previous export's
    manifest vouches for them (a folder holding them without a manifest is refused).
    Write with ``copy_file`` / ``write_bytes`` (paths relative to ``out``); ``path_of``
    gives the staging location of a relative path. ``commit`` swaps; ``abort`` (or an
    exception inside a ``with`` block) removes the staging folder and changes nothing else.
    """

    out: Path
    owned: tuple[str, ...]
    overwrite: bool = False
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.out.exists() and not self.out.is_dir():
            raise ExportTargetError(f"{self.out}: is a file; give a folder for the dataset")
        self.out.mkdir(parents=True, exist_ok=True)
        _recover(self.out)
        self._old = self._check_previous()
        self.stage = self.out / f"{_STAGE_PREFIX}{secrets.token_hex(4)}"
        self.stage.mkdir()
        (self.stage / _STAGE_MARK).write_bytes(b"")
        self._written: dict[str, _Entry] = {}

    def __enter__(self) -> StagedDataset:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is not None:
            self.abort()

    # ----- checks --------------------------------------------------------------------
    def _check_previous(self) -> dict[str, _Entry]:
        present = [name for name in self.owned if os.path.lexists(self.out / name)]
        manifest_path = self.out / EXPORT_MANIFEST
        if not present:
            return _read_manifest(manifest_path) or {}
        if not self.overwrite:
            raise ExportTargetError(
                f"{self.out}: already holds a dataset ({', '.join(present)}); "
                "choose an empty folder or allow overwriting"
            )
        old = _read_manifest(manifest_path)
        if old is None:
            raise ExportTargetError(
                f"{self.out}: holds {', '.join(present)} that samdesk did not write "
                f"(no {EXPORT_MANIFEST}); nothing there is replaced: choose an empty folder"
            )
        return old

    # ----- writing -------------------------------------------------------------------
    def path_of(self, relative: str) -> Path:
        """Where ``relative`` (POSIX, inside the dataset) is written now; parents made."""
        rel = _safe_relative(relative)
        if rel is None or rel.split("/")[0] not in self.owned:
            raise ValueError(f"{relative!r} is not a path of this dataset ({self.owned})")
        target = self.stage / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def copy_file(self, source: str | os.PathLike[str], relative: str) -> None:
        """Copy ``source`` to ``relative`` (bytes and mtime), hashing it on the way."""
        target = self.path_of(relative)
        h = hashlib.sha256()
        with open(source, "rb") as src, open(target, "xb") as dst:
            while chunk := src.read(_CHUNK):
                h.update(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())  # the swap must not publish files a power cut empties
        shutil.copystat(source, target)
        self._written[PurePosixPath(relative).as_posix()] = _stat_entry(target, h.hexdigest())

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write ``data`` to ``relative``."""
        target = self.path_of(relative)
        with open(target, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        rel = PurePosixPath(relative).as_posix()
        self._written[rel] = _stat_entry(target, hashlib.sha256(data).hexdigest())

    # ----- finishing -----------------------------------------------------------------
    def abort(self) -> None:
        """Forget the new dataset (the staging folder goes); the previous one is untouched."""
        _remove_stage(self.stage)

    def commit(self) -> None:
        """Swap the new dataset in (see the module docstring); warnings about kept files."""
        try:
            ours_old = {rel for rel, e in self._old.items() if _unchanged(self.out / rel, e)}
            self._check_conflicts(ours_old)
        except BaseException:
            self.abort()
            raise
        new_manifest = self.stage / EXPORT_MANIFEST
        # Sizes/mtimes survive the rename, so the manifest can describe the final files.
        atomic_write_bytes(new_manifest, _manifest_bytes(self._written))
        aside = self.out / f"{_ASIDE_PREFIX}{secrets.token_hex(4)}"
        journal = {"stage": self.stage.name, "aside": aside.name}
        atomic_write_bytes(self.out / _JOURNAL, json.dumps(journal).encode())
        aside.mkdir()
        if self._old:
            # A copy of the old manifest goes aside too: it says what may be deleted there.
            atomic_write_bytes(
                aside / EXPORT_MANIFEST,
                _manifest_bytes({rel: e for rel, e in self._old.items() if rel in ours_old}),
            )
        for rel in sorted(ours_old):
            _move(self.out / rel, aside / rel)
        with contextlib.suppress(FileNotFoundError):
            (self.out / EXPORT_MANIFEST).unlink()  # ours: the copy is aside
        for rel in sorted(self._written):
            _move(self.stage / rel, self.out / rel)
        os.replace(new_manifest, self.out / EXPORT_MANIFEST)  # the commit point
        fsync_dir(self.out)
        _finish(self.out, self.stage, aside)
        self._note_kept()

    def _check_conflicts(self, ours_old: set[str]) -> None:
        problems = []
        for rel in sorted(self._written):
            parts = rel.split("/")
            for depth in range(1, len(parts)):
                folder = self.out.joinpath(*parts[:depth])
                if folder.is_symlink() or (os.path.lexists(folder) and not folder.is_dir()):
                    problems.append(f"{'/'.join(parts[:depth])} is not a plain folder")
                    break
            else:
                if os.path.lexists(self.out / rel) and rel not in ours_old:
                    problems.append(f"{rel} exists and samdesk did not write it (or it changed)")
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise ExportTargetError(
                f"{self.out}: not replaced: {'; '.join(problems[:3])}{more}; "
                "move those files away or choose an empty folder"
            )

    def _note_kept(self) -> None:
        kept = []
        for name in self.owned:
            top = self.out / name
            if top.is_dir() and not top.is_symlink():
                for dirpath, _dirs, files in os.walk(top):
                    for f in files:
                        rel = (Path(dirpath) / f).relative_to(self.out).as_posix()
                        if rel not in self._written:
                            kept.append(rel)
        if kept:
            listed = ", ".join(kept[:5]) + (f" and {len(kept) - 5} more" if len(kept) > 5 else "")
            self.warnings.append(
                f"kept {len(kept)} files in {self.out} that samdesk did not write: {listed}"
            )


# --------------------------------------------------------------------------- file moves


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(target):  # checked before the swap; a race is not ours to win
        raise ExportTargetError(f"{target}: appeared during the export; nothing replaced")
    os.rename(source, target)


def _prune_empty_dirs(top: Path, stop: Path) -> None:
    """Remove empty folders under ``top`` (and ``top``), never ``stop`` or above."""
    if not top.is_dir() or top.is_symlink():
        return
    for dirpath, _dirs, _files in os.walk(top, topdown=False):
        with contextlib.suppress(OSError):  # not empty: something not ours is in it
            if Path(dirpath) != stop:
                os.rmdir(dirpath)


def _remove_stage(stage: Path) -> None:
    """Remove a staging folder this module created (it carries the stage mark)."""
    if stage.is_dir() and not stage.is_symlink() and (stage / _STAGE_MARK).is_file():
        shutil.rmtree(stage, ignore_errors=True)


def _delete_aside(aside: Path) -> None:
    """Delete the previous files moved aside: only those its manifest lists."""
    listed = _read_manifest(aside / EXPORT_MANIFEST) or {}
    for rel in listed:
        path = aside / rel
        if path.is_file() and not path.is_symlink():
            path.unlink()
    with contextlib.suppress(FileNotFoundError):
        (aside / EXPORT_MANIFEST).unlink()
    _prune_empty_dirs(aside, aside.parent)


def _finish(out: Path, stage: Path, aside: Path) -> None:
    """After the commit point: old files deleted, empty old folders pruned, journal gone."""
    listed = _read_manifest(aside / EXPORT_MANIFEST) or {}
    _delete_aside(aside)
    _remove_stage(stage)
    # Folders of the previous export now empty (images/val when there is no val split).
    for folder in sorted({str(PurePosixPath(rel).parent) for rel in listed}, reverse=True):
        path = out / folder
        while path != out and is_inside(path, out):
            with contextlib.suppress(OSError):
                path.rmdir()
            path = path.parent
    with contextlib.suppress(FileNotFoundError):
        (out / _JOURNAL).unlink()
    fsync_dir(out)


def _recover(out: Path) -> None:
    """Finish or roll back a swap that was interrupted; drop stale staging folders."""
    journal_path = out / _JOURNAL
    names: tuple[str, str] | None = None
    if journal_path.is_file():
        try:
            journal = json.loads(journal_path.read_text(encoding="utf-8"))
            names = (Path(str(journal["stage"])).name, Path(str(journal["aside"])).name)
        except (OSError, ValueError, KeyError, TypeError):
            names = None  # not ours to interpret: left alone
    if names is not None and names[0].startswith(_STAGE_PREFIX):
        stage, aside = out / names[0], out / names[1]
        if aside.name.startswith(_ASIDE_PREFIX):
            if (stage / EXPORT_MANIFEST).is_file():  # the commit point was not reached
                _roll_back(out, stage, aside)
            _finish(out, stage, aside)
    for child in out.iterdir() if out.is_dir() else ():
        if child.name.startswith(_STAGE_PREFIX):
            _remove_stage(child)


def _roll_back(out: Path, stage: Path, aside: Path) -> None:
    """The new manifest never reached its place: put the previous dataset back."""
    new = _read_manifest(stage / EXPORT_MANIFEST) or {}
    for rel, entry in new.items():  # new files already moved in: back into the stage
        placed = out / rel
        if not (stage / rel).exists() and _unchanged(placed, entry):
            _move(placed, stage / rel)
    old = _read_manifest(aside / EXPORT_MANIFEST) or {}
    for rel in old:
        if (aside / rel).is_file() and not os.path.lexists(out / rel):
            _move(aside / rel, out / rel)
    if (aside / EXPORT_MANIFEST).is_file() and not (out / EXPORT_MANIFEST).exists():
        shutil.copy2(aside / EXPORT_MANIFEST, out / EXPORT_MANIFEST)
    _prune_empty_dirs(aside, out)


def listed_files(out: str | os.PathLike[str]) -> Iterable[str]:
    """The relative paths the manifest in ``out`` lists (empty if there is none)."""
    return sorted(_read_manifest(Path(out) / EXPORT_MANIFEST) or {})
