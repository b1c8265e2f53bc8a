"""Non-regular files in a project (issue #12): reported and skipped, never waited on.

A FIFO named ``x.png`` used to block the image loader forever (``open()`` waits for a
writer), and an annotation "file" that is a folder refused the whole project. The tests
run under a short timeout (signal method: it interrupts a blocked ``open()``), so a
regression fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image

from samdesk.core.files import NotRegularFileError, read_regular
from samdesk.core.images import ImageReadError, image_size, read_image, scan_images
from samdesk.io.project import ProjectStore
from samdesk.io.project_format import annotation_file_name

pytestmark = [
    pytest.mark.timeout(30, method="signal"),
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system"),
]


def _photo(path: Path) -> Path:
    Image.new("RGB", (40, 30), (200, 30, 30)).save(path)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    _photo(folder / "a.png")
    _photo(folder / "c.png")
    os.mkfifo(folder / "b.png")  # nobody will ever write into it
    return folder


def test_fifo_image_is_skipped_by_scanning_and_reported(folder: Path) -> None:
    skipped: list[str] = []
    assert scan_images(folder, skipped=skipped) == ["a.png", "c.png"]
    assert len(skipped) == 1 and "b.png" in skipped[0] and "FIFO" in skipped[0]

    store = ProjectStore.create(folder, "p")
    assert [r.path for r in store.project.images] == ["a.png", "c.png"]
    assert any("b.png" in w and "FIFO" in w for w in store.warnings)

    # A FIFO that appears later is reported by the rescan, not added.
    os.mkfifo(folder / "d.png")
    reopened = ProjectStore.open(folder)
    assert reopened.scan_new_images() == []
    assert any("d.png" in w and "FIFO" in w for w in reopened.warnings)


def test_reading_a_fifo_image_fails_at_once(folder: Path) -> None:
    fifo = folder / "b.png"
    started = time.monotonic()
    with pytest.raises(ImageReadError, match="FIFO"):
        read_image(fifo)
    with pytest.raises(ImageReadError, match="FIFO"):
        image_size(fifo)
    with pytest.raises(NotRegularFileError):
        read_regular(fifo)
    with pytest.raises(ImageReadError, match="folder"):
        read_image(folder)
    assert time.monotonic() - started < 5


def test_project_listing_an_image_that_became_a_fifo_opens(folder: Path) -> None:
    store = ProjectStore.create(folder, "p")
    store.add_images([folder / "c.png"])
    (folder / "c.png").unlink()
    os.mkfifo(folder / "c.png")  # the listed image is now a pipe
    reopened = ProjectStore.open(folder)
    record = reopened.load_image_annotations("c.png")  # fills the size from the header
    assert (record.width, record.height) == (0, 0)
    assert any("c.png" in w and "FIFO" in w for w in reopened.warnings)
    assert reopened.load_image_annotations("a.png").width == 40


def test_fifo_project_files_are_reported_not_waited_on(folder: Path) -> None:
    store = ProjectStore.create(folder, "p")
    # The index (a cache) as a FIFO: ignored, the project opens.
    store.index_path.unlink(missing_ok=True)
    os.mkfifo(store.index_path)
    assert [r.path for r in ProjectStore.open(folder).project.images] == ["a.png", "c.png"]
    # An annotation file as a FIFO: that image is reported unreadable, the rest opens.
    os.mkfifo(store.annotation_path("a.png"))
    reopened = ProjectStore.open(folder)
    reopened.load_image_annotations("a.png")
    assert "not a regular file" in (reopened.unreadable("a.png") or "")


def test_folder_named_like_an_annotation_file_does_not_refuse_the_project(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        _photo(folder / name)
    store = ProjectStore.create(folder, "p")
    record = store.load_image_annotations("b.png")
    store.save_image(record)  # b.png has an annotation file (and an index entry)
    annotation = store.annotation_path("a.png")
    assert annotation.name == annotation_file_name("a.png")
    annotation.mkdir()
    (annotation / "keep.txt").write_text("the user's")

    reopened = ProjectStore.open(folder)
    assert [r.path for r in reopened.project.images] == ["a.png", "b.png"]
    problem = reopened.unreadable("a.png")
    assert problem is not None and "folder" in problem
    assert any("a.png" in w for w in reopened.warnings)
    assert reopened.load_image_annotations("a.png").objects == []
    assert reopened.load_image_annotations("b.png").width == 40
    assert (annotation / "keep.txt").read_text() == "the user's"  # nothing of it touched
