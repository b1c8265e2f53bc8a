"""Hostile or damaged project files: nothing hidden, nothing moved, nothing lost.

Each test crafts the file a user could meet (a sync tool's cut-off copy, a bad hand edit,
a file from someone else) and checks what the store shows and what it refuses to do.
Resource-hungry cases run in a subprocess under ``RLIMIT_AS`` with a timeout.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import samdesk.io.project as project_module
import samdesk.io.save_errors as save_errors
from samdesk.core.document import (
    AnnotationObject,
    ImageRecord,
    LabelClass,
    PolygonPart,
    Region,
)
from samdesk.io.export import ExportOptions, export_project
from samdesk.io.project import (
    DamagedAnnotationsError,
    ProjectFileError,
    ProjectStore,
    describe_save_error,
)

REPO = Path(__file__).resolve().parents[2]


def _square(x: float, y: float, size: float = 4) -> Region:
    return Region((PolygonPart([[x, y], [x + size, y], [x + size, y + size], [x, y + size]]),))


@pytest.fixture
def store(tmp_path: Path) -> ProjectStore:
    root = tmp_path / "photos"
    root.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (64, 48)).save(root / name)
    return ProjectStore.create(root, "safety", classes=[LabelClass(1, "thing", "#ff0000")])


def _save_three(store: ProjectStore, path: str = "a.png") -> Path:
    record = store.load_image_annotations(path)
    for n in range(3):
        record.add_object(AnnotationObject(1, _square(10 * n, 5), id=f"obj{n}"))
    store.save_image(record)
    return store.annotation_path(path)


def _run_limited(code: str, tmp_path: Path, limit_gib: float = 1.5, timeout: float = 60) -> str:
    """Run ``code`` in a fresh interpreter with at most ``limit_gib`` of address space."""
    script = tmp_path / "limited.py"
    script.write_text(
        "import resource\n"
        f"limit = int({limit_gib} * 2**30)\n"
        "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n" + textwrap.dedent(code)
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=timeout, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# --------------------------------------------------------------------- damaged files


@pytest.mark.parametrize("where", ["in an object", "between objects"])
def test_cut_short_file_shows_its_objects_and_the_damage(store: ProjectStore, where: str) -> None:
    file = _save_three(store)
    text = file.read_text()
    third = text.index('- id: "obj2"')
    if where == "in an object":  # the third object's outline is missing: a phantom
        cut = text[: text.index("  parts:", third) + len("  parts:")] + "\n"
        expected = "no outline"
    else:  # the third object is missing altogether
        cut = text[:third]
        expected = "header says 3"
    file.write_text(cut)
    again = ProjectStore.open(store.root)
    record = again.load_image_annotations("a.png")
    assert [o.id for o in record.objects] == ["obj0", "obj1"]  # what can be read is kept
    assert expected in again.damaged_images()["a.png"]
    assert again.image_problems()["a.png"] and "b.png" not in again.image_problems()
    # The first edit neither renames nor overwrites the file.
    record.add_object(AnnotationObject(1, _square(40, 30), id="new"))
    with pytest.raises(DamagedAnnotationsError):
        again.save_image(record)
    assert file.read_text() == cut
    assert sorted(p.name for p in file.parent.iterdir()) == [file.name]


def test_syntax_error_keeps_the_other_objects(store: ProjectStore) -> None:
    file = _save_three(store)
    lines = file.read_text().splitlines()
    middle = next(n for n, line in enumerate(lines) if '"obj1"' in line) + 3
    lines[middle] = "  - exterior: [10, 5, 14, 5, {"  # a bad hand edit in obj1's outline
    file.write_text("\n".join(lines) + "\n")
    again = ProjectStore.open(store.root)
    record = again.load_image_annotations("a.png")
    assert [o.id for o in record.objects] == ["obj0", "obj2"]
    assert "invalid YAML" in again.damaged_images()["a.png"]
    # With consent: a copy first, then the file holds what the user sees.
    backup = again.allow_overwrite("a.png")
    again.save_image(record)
    assert backup is not None and "{" in backup.read_text()
    assert [
        o.id for o in ProjectStore.open(store.root).load_image_annotations("a.png").objects
    ] == [
        "obj0",
        "obj2",
    ]


@pytest.mark.parametrize("bad", ["nan", ".inf", "-.inf", "1.0e+300", "5.0e+7"])
def test_non_finite_or_huge_coordinates_are_dropped_with_a_reason(
    store: ProjectStore, bad: str
) -> None:
    file = _save_three(store)
    text = file.read_text()
    start = text.index('"obj1"')
    at = text.index("exterior: [", start) + len("exterior: [")
    file.write_text(text[:at] + bad + text[text.index(",", at) :])
    again = ProjectStore.open(store.root)
    record = again.load_image_annotations("a.png")
    assert [o.id for o in record.objects] == ["obj0", "obj2"]
    problem = again.damaged_images()["a.png"]
    assert "object 2 was left out" in problem
    assert "finite" in problem or "beyond" in problem or "outside" in problem
    # What is left exports without a GEOS traceback.
    report = export_project(again, ExportOptions(format="coco", out=store.root / "out.json"))
    assert report is not None
    exported = json.loads((store.root / "out.json").read_text())
    assert len([a for a in exported["annotations"] if a["image_id"] is not None]) >= 2
    # The export's report (CLI, dialog) lists the store's warnings: the damage is in it.
    assert any("a.png are damaged" in w for w in again.warnings)


def test_geometry_entering_the_document_is_checked() -> None:
    record = ImageRecord("a.png", 64, 48)
    for ring in (
        [[0, 0], [np.nan, 0], [1, 1]],
        [[0, 0], [np.inf, 0], [1, 1]],
        [[0, 0], [1e9, 0], [1, 1]],
    ):
        with pytest.raises(ValueError, match=r"finite|beyond"):
            record.add_object(AnnotationObject(1, Region((PolygonPart(ring),))))
    good = AnnotationObject(1, _square(1, 1), id="ok")
    record.add_object(good)
    far = AnnotationObject(1, _square(500_000, 1), id="ok")
    with pytest.raises(ValueError, match="outside the 64×48 image"):
        record.replace_object(far)
    with pytest.raises(ValueError, match="outside"):
        record.add_object(AnnotationObject(1, _square(-300_000, 1)))
    assert record.objects == [good]


# --------------------------------------------------------------------- hostile YAML


BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
)


def test_alias_bombs_are_refused_quickly_and_small(tmp_path: Path, store: ProjectStore) -> None:
    project_text = store.path.read_text() + BOMB + "\n"
    store.path.write_text(project_text)
    annotation = store.annotation_path("b.png")
    annotation.write_text(
        "schema_version: 1\nimage: b.png\nwidth: 64\nheight: 48\nstate: new\n"
        + BOMB
        + "\nobjects: [*a9]\n"
    )
    out = _run_limited(
        f"""
        from samdesk.io.project import ProjectStore, ProjectFileError
        try:
            ProjectStore.open({str(store.path)!r})
        except ProjectFileError as exc:
            print("PROJECT", exc)
        """,
        tmp_path,
    )
    assert "PROJECT" in out and "alias" in out and str(store.path) in out
    with pytest.raises(ProjectFileError, match=r"anchors|aliases"):
        ProjectStore.open(store.path)
    # The annotation file: the project opens, the image is reported, nothing expands.
    store.path.write_text(project_text.replace(BOMB + "\n", ""))
    out = _run_limited(
        f"""
        from samdesk.io.project import ProjectStore
        store = ProjectStore.open({str(store.path)!r})
        record = store.load_image_annotations("b.png")
        print("OBJECTS", len(record.objects))
        print("PROBLEM", store.unreadable("b.png"))
        """,
        tmp_path,
    )
    assert "OBJECTS 0" in out and "alias" in out and annotation.name in out


def test_claimed_image_size_is_not_trusted(tmp_path: Path, store: ProjectStore) -> None:
    file = _save_three(store)
    text = file.read_text()
    file.write_text(
        text.replace("width: 64", "width: 100000000").replace("height: 48", "height: 90000000")
    )
    out = _run_limited(
        f"""
        from samdesk.core.geometry import region_to_mask
        from samdesk.io.project import ProjectStore
        store = ProjectStore.open({str(store.path)!r})
        record = store.load_image_annotations("a.png")
        for obj in record.objects:  # what a mask export or the canvas does
            region_to_mask(obj.region, record.height, record.width)
        print("SIZE", record.width, record.height, len(record.objects))
        print("NOTE", store.image_problems()["a.png"])
        print("DAMAGED", store.damaged_images())
        """,
        tmp_path,
    )
    assert "SIZE 64 48 3" in out
    assert "100000000" in out or "is 64×48" in out
    assert "DAMAGED {}" in out  # a wrong size loses nothing: saving fixes it


# --------------------------------------------------------------------- failed saves


def test_failed_save_reasons_are_in_words(store: ProjectStore) -> None:
    temp = store.annotations_dir / ".a.png-1234.yaml.abcd.tmp"
    full = OSError(errno.ENOSPC, "No space left on device", str(temp))
    assert describe_save_error(full, store.root) == f"The disk is full ({store.root})"
    denied = PermissionError(errno.EACCES, "Permission denied", str(temp))
    text = describe_save_error(denied, store.root)
    assert text == f"The folder {store.root} is read-only"
    assert ".tmp" not in describe_save_error(OSError(errno.EROFS, "Read-only", str(temp)))
    assert "could not be written" in describe_save_error(ValueError("polygon coordinates"))


def test_read_only_folder_opens_view_only(
    store: ProjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, where chmod does not stop writes: the file system's answer is
    # simulated where the store asks it.
    monkeypatch.setattr(project_module.os, "access", lambda path, mode: False)
    monkeypatch.setattr(save_errors, "probe_write", _refuse_write)
    again = ProjectStore.open(store.root)
    assert again.read_only and again.read_only_reason == f"The folder {store.root} is read-only"
    record = again.load_image_annotations("a.png")
    with pytest.raises(PermissionError) as info:
        again.save_image(record)
    assert describe_save_error(info.value, again.root) == f"The folder {store.root} is read-only"


def _refuse_write(folder: Path) -> None:
    raise PermissionError(errno.EACCES, "Permission denied", str(folder / "probe"))


def test_a_share_that_misreports_permissions_still_saves(
    store: ProjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SMB/NFS-with-ACL folders can answer "no" to os.access and still take writes: a real
    # probe write decides, and leaves nothing behind.
    monkeypatch.setattr(project_module.os, "access", lambda path, mode: False)
    before = sorted(p.name for p in store.root.rglob("*"))
    again = ProjectStore.open(store.root)
    assert not again.read_only and again.read_only_reason is None
    assert sorted(p.name for p in store.root.rglob("*")) == before
