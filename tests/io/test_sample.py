"""The sample project: shipped read-only, opened as a user copy."""

from __future__ import annotations

from pathlib import Path

from samdesk.io.project import ProjectStore
from samdesk.io.sample import bundled_sample_project, working_sample_project


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_sample_is_copied_once_and_opens(tmp_path: Path) -> None:
    shipped = bundled_sample_project()
    before = _tree(shipped)
    copy = working_sample_project(tmp_path)
    assert copy == tmp_path / "sample_project"
    store = ProjectStore.open(copy)
    assert len(store.project.images) >= 3
    assert store.project.classes
    record = store.load_image_annotations(0)
    record.objects.clear()
    store.save_image(record)
    # A second call keeps the user's edits; the shipped sample is never written.
    assert working_sample_project(tmp_path) == copy
    assert ProjectStore.open(copy).object_count(0) == 0
    assert _tree(shipped) == before
    assert not list(tmp_path.glob(".*partial"))
