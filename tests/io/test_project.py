"""Project files: round trip, lazy loading, index consistency, migration, broken files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from samdesk.core.document import (
    AnnotationObject,
    ImageRecord,
    LabelClass,
    ObjectSource,
    PolygonPart,
    Region,
    ReviewState,
)
from samdesk.core.geometry import mask_to_region
from samdesk.io import atomic, migrations
from samdesk.io.project import DamagedAnnotationsError, ProjectFileError, ProjectStore
from samdesk.io.project_format import record_to_data, record_to_yaml

REPO = Path(__file__).resolve().parents[2]
CLASSES = [LabelClass(1, "vehicle", "#e6194b", 1), LabelClass(2, "dog", "#3cb44b")]


def _folder(tmp_path: Path) -> Path:
    """A folder with four small images (one in a subfolder) and a non-image file."""
    root = tmp_path / "photos"
    for name, (w, h) in {"b10.png": (40, 30), "b2.png": (20, 10), "sub/c.jpg": (16, 16)}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (w, h), (10, 20, 30)).save(root / name)
    Image.new("L", (8, 6)).save(root / "a.png")
    (root / "notes.txt").write_text("not an image")
    return root


def _objects() -> list[AnnotationObject]:
    mask = np.zeros((30, 40), dtype=bool)
    mask[3:20, 5:30] = True
    mask[8:12, 10:14] = False  # a hole
    mask[25:28, 35:38] = True  # a second part
    fractional = Region((PolygonPart([[1.25, 2.5], [10.75, 2.5], [6.0, 9.33]]),))
    return [
        AnnotationObject(1, mask_to_region(mask), ObjectSource.SAM, prompt={"points": [[5, 6]]}),
        AnnotationObject(2, fractional, ObjectSource.POLYGON, hidden=True),
        AnnotationObject(2, Region(), ObjectSource.BRUSH),  # empty after erasing everything
    ]


@pytest.fixture
def store(tmp_path: Path) -> ProjectStore:
    return ProjectStore.create(_folder(tmp_path), "Street scenes", classes=CLASSES)


def test_create_lists_images_in_natural_order(store: ProjectStore) -> None:
    assert store.path.name == "Street scenes.samdesk.yaml"
    assert [r.path for r in store.project.images] == ["a.png", "b2.png", "b10.png", "sub/c.jpg"]
    assert store.project.classes == CLASSES
    with pytest.raises(FileExistsError):
        ProjectStore.create(store.root, "Street scenes")


def test_round_trip_create_edit_save_reopen(store: ProjectStore, tmp_path: Path) -> None:
    record = store.load_image_annotations("b10.png")
    assert (record.width, record.height) == (40, 30)  # read from the image header
    record.objects = _objects()
    record.state = ReviewState.DONE
    store.save_image(record)
    store.project.settings["tool"] = {"brush_size": 12}
    store.project.classes.append(LabelClass(3, "food", "#ffe119", 3))
    store.save_project()

    # The folder can move: every path is relative to the project file.
    moved = tmp_path / "elsewhere"
    shutil.move(store.root, moved)
    again = ProjectStore.open(moved)
    assert again.warnings == []
    assert again.project.name == "Street scenes"
    assert again.project.settings == {"tool": {"brush_size": 12}}
    assert [c.name for c in again.project.classes] == ["vehicle", "dog", "food"]
    summary = again.record("b10.png")
    assert (summary.state, summary.width, summary.height) == (ReviewState.DONE, 40, 30)
    assert again.object_count("b10.png") == 3 and not again.is_loaded("b10.png")
    assert summary.objects == []  # objects are lazy
    loaded = again.load_image_annotations("b10.png")
    assert loaded is summary
    assert loaded.objects == record.objects  # exact: the fixture's vertices are 0.01 px
    assert again.object_count(0) == 0 and again.record(0).state == ReviewState.NEW


def test_saving_an_image_writes_only_its_file(store: ProjectStore) -> None:
    project_bytes = store.path.read_bytes()
    first = store.load_image_annotations("a.png")
    first.objects = _objects()[:1]
    store.save_image(first)
    other = store.annotation_path("a.png").read_bytes()
    second = store.load_image_annotations("b2.png")
    second.state = ReviewState.IN_PROGRESS
    store.save_image(second)
    assert store.path.read_bytes() == project_bytes
    assert store.annotation_path("a.png").read_bytes() == other
    text = store.annotation_path("a.png").read_text()
    assert "exterior: [5, 3, 30, 3" in text  # pixel-edge vertices stay compact integers
    assert not list(store.annotations_dir.glob("*.tmp"))


def test_hand_written_yaml_matches_pyyaml(store: ProjectStore) -> None:
    record = store.load_image_annotations("sub/c.jpg")
    record.objects = _objects()
    record.objects[0].prompt = {"points": np.array([[1.5, 2.0]]), "label": 'quote"é'}
    expected = record_to_data(record)
    expected["object_count"] = 3
    parsed = yaml.safe_load(record_to_yaml(record))
    assert parsed == {**expected, "objects": parsed["objects"]}
    assert parsed["objects"] == expected["objects"]
    long_ring = Region((PolygonPart(np.stack([np.arange(50), np.arange(50) % 3], 1) + 0.5),))
    record.objects = [AnnotationObject(1, long_ring)]
    assert yaml.safe_load(record_to_yaml(record))["objects"] == record_to_data(record)["objects"]


def test_index_is_checked_against_the_files(store: ProjectStore) -> None:
    record = store.load_image_annotations("b2.png")
    record.objects = _objects()[:2]
    store.save_image(record)
    # A hand edit (or a crash before the index line was appended) changes the file's stat.
    file = store.annotation_path("b2.png")
    file.write_text(file.read_text().replace("state: new", "state: done") + "# edited\n")
    reopened = ProjectStore.open(store.path)
    assert reopened.record("b2.png").state == ReviewState.DONE
    assert reopened.object_count("b2.png") == 2
    # A missing or torn index is rebuilt from the files.
    store.index_path.write_text('{"path": "b2.png", "sta')
    rebuilt = ProjectStore.open(store.root)
    assert rebuilt.object_count("b2.png") == 2 and rebuilt.warnings == []
    assert '"objects": 2' in store.index_path.read_text()


def test_unloaded_record_cannot_wipe_its_objects(store: ProjectStore) -> None:
    record = store.load_image_annotations("a.png")
    record.objects = _objects()
    store.save_image(record)
    fresh = ProjectStore.open(store.path)
    with pytest.raises(ValueError, match="load_image_annotations"):
        fresh.save_image(fresh.record("a.png"))
    assert fresh.set_state("a.png", ReviewState.DONE).state == ReviewState.DONE
    assert ProjectStore.open(store.path).object_count("a.png") == 3


def test_add_images_and_scan_new(store: ProjectStore) -> None:
    Image.new("RGB", (4, 4)).save(store.root / "new1.png")
    Image.new("RGB", (4, 4)).save(store.root / "sub" / "new2.png")
    added = store.add_images([store.root / "new1.png", "new1.png"])
    assert [r.path for r in added] == ["new1.png"]
    assert [r.path for r in store.scan_new_images()] == ["sub/new2.png"]
    store.save_project()
    assert ProjectStore.open(store.path).project.images[-1].path == "sub/new2.png"
    with pytest.raises(ValueError, match="not inside"):
        store.add_images([store.root.parent / "outside.png"])
    (store.root / "b2.png").unlink()
    assert store.missing_images() == ["b2.png"]
    assert store.image_abspath(store.record("a.png")) == store.root / "a.png"


def test_migration_from_a_fake_version_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def v0_to_v1(data: dict) -> dict:
        data["classes"] = [
            {"id": n + 1, "name": name, "color": "#808080"} for n, name in enumerate(data["labels"])
        ]
        del data["labels"]
        return data

    monkeypatch.setitem(migrations.PROJECT_STEPS, 0, v0_to_v1)
    path = tmp_path / "old.samdesk.yaml"
    path.write_text("schema_version: 0\nname: old\nlabels: [cat, dog]\nimages: []\n")
    store = ProjectStore.open(path)
    assert [(c.id, c.name) for c in store.project.classes] == [(1, "cat"), (2, "dog")]
    assert "schema_version: 0" in path.read_text()  # opening never rewrites
    store.save_project()
    assert "schema_version: 1" in path.read_text()
    assert "labels: [cat, dog]" in (tmp_path / "old.samdesk.yaml.v0.bak").read_text()

    path.write_text("schema_version: 7\nname: future\n")
    with pytest.raises(ProjectFileError, match="newer samdesk"):
        ProjectStore.open(path)
    path.write_text("schema_version: -1\n")
    with pytest.raises(ProjectFileError, match="no migration"):
        ProjectStore.open(path)


def test_broken_project_file_is_reported_with_line_and_kept(store: ProjectStore) -> None:
    broken = store.path.read_text().replace("- b2.png", "- [b2.png")
    store.path.write_text(broken)
    with pytest.raises(ProjectFileError) as info:
        ProjectStore.open(store.path)
    error = info.value
    assert error.path == str(store.path) and error.line is not None
    assert f"{store.path}:{error.line}:" in str(error)
    assert store.path.read_text() == broken
    store.path.write_text("schema_version: 1\nclasses: 3\n")
    with pytest.raises(ProjectFileError, match="'classes' must be a list"):
        ProjectStore.open(store.path)


def test_broken_annotation_file_is_reported_preserved_and_the_rest_opens(
    store: ProjectStore,
) -> None:
    for path in ("a.png", "b2.png"):
        record = store.load_image_annotations(path)
        record.objects = _objects()[:1]
        store.save_image(record)
    file = store.annotation_path("a.png")
    lines = file.read_text().splitlines()
    lines[7] = "  class_id: [1"  # line 8 of the file
    broken = "\n".join(lines) + "\n"
    file.write_text(broken)

    reopened = ProjectStore.open(store.path)
    assert reopened.object_count("b2.png") == 1  # the rest opens
    # Opening reads only the header (still fine); loading the image finds the error.
    record = reopened.load_image_annotations("a.png")
    message = reopened.unreadable("a.png") or ""
    assert re.search(rf"{re.escape(str(file))}:[89]:\d+: invalid YAML", message), message
    assert any(message in w for w in reopened.warnings)
    assert record.objects == [] and file.read_text() == broken
    # A broken header is found at open already.
    other = store.annotation_path("b2.png")
    other.write_text("schema_version: 1\nstate: [done\n")
    again = ProjectStore.open(store.path)
    assert f"{other}:3:" in (again.unreadable("b2.png") or "")
    other.write_text("")
    # Saving the damaged image is refused until the user agrees; nothing is written.
    record.objects = _objects()[1:2]
    with pytest.raises(DamagedAnnotationsError, match=r"a\.png is damaged"):
        reopened.save_image(record)
    assert file.read_text() == broken and list(file.parent.glob(file.name + ".*")) == []
    # With consent, the damaged file is first copied (never moved), then replaced.
    backup = reopened.allow_overwrite("a.png")
    assert backup is not None and backup.read_text() == broken and file.read_text() == broken
    reopened.save_image(record)
    assert backup.read_text() == broken
    assert ProjectStore.open(store.path).object_count("a.png") == 1
    assert reopened.unreadable("a.png") is None and "a.png" not in reopened.damaged_images()


def test_failed_save_leaves_the_previous_file(
    store: ProjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = store.load_image_annotations("a.png")
    record.objects = _objects()[:1]
    store.save_image(record)
    before = store.annotation_path("a.png").read_bytes()
    project_before = store.path.read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", failing_fsync)
    record.objects = _objects()
    with pytest.raises(OSError, match="No space"):
        store.save_image(record)
    with pytest.raises(OSError, match="No space"):
        store.save_project()
    monkeypatch.undo()
    assert store.annotation_path("a.png").read_bytes() == before
    assert store.path.read_bytes() == project_before
    assert not [p for p in store.root.rglob("*") if p.name.endswith(".tmp")]
    store.project.settings["bad"] = object()  # not YAML-able: fails before any write
    with pytest.raises(Exception, match="object"):
        store.save_project()
    assert store.path.read_bytes() == project_before


def test_open_finds_the_file_in_a_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no"):
        ProjectStore.open(tmp_path)
    with pytest.raises(FileNotFoundError):
        ProjectStore.open(tmp_path / "missing.samdesk.yaml")


def test_sample_project_opens(tmp_path: Path) -> None:
    # Opened from a copy: opening writes the index cache, and tests write only in tmp_path.
    shutil.copytree(REPO / "resources" / "sample_project", tmp_path / "sample")
    store = ProjectStore.open(tmp_path / "sample")
    assert store.warnings == []
    paths = [r.path for r in store.project.images]
    assert {"truck.jpg", "dog.jpg", "groceries.jpg", "dog_exif_orientation6.jpg"} <= set(paths)
    assert {c.name for c in store.project.classes} >= {"vehicle", "dog", "food", "person"}
    assert not store.missing_images()
    total = 0
    for path in paths:
        record = store.load_image_annotations(path)
        assert store.unreadable(path) is None
        for obj in record.objects:
            assert store.project.class_by_id(obj.class_id) is not None
            x0, y0, x1, y1 = (
                np.concatenate([p.exterior for p in obj.region.parts]).min(0).tolist()
                + np.concatenate([p.exterior for p in obj.region.parts]).max(0).tolist()
            )
            assert 0 <= x0 < x1 <= record.width and 0 <= y0 < y1 <= record.height
        total += len(record.objects)
    assert total >= 2
    assert store.record("dog_exif_orientation6.jpg").width == 800  # upright size
    # The bundled copy can be opened in place without writing anything into it.
    before = sorted(p.relative_to(REPO) for p in (REPO / "resources").rglob("*"))
    in_place = ProjectStore.open(REPO / "resources" / "sample_project", read_only=True)
    assert in_place.object_count("groceries.jpg") == 4
    with pytest.raises(PermissionError):
        in_place.save_project()
    assert sorted(p.relative_to(REPO) for p in (REPO / "resources").rglob("*")) == before


def test_record_must_belong_to_the_project(store: ProjectStore) -> None:
    with pytest.raises(KeyError):
        store.save_image(ImageRecord(path="not-listed.png"))
