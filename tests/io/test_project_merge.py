"""Two stores on one folder (two annotators): every save merges, nothing is overwritten.

In-process, step by step, so each merge rule is checked on its own; the concurrent case
with real processes is ``test_multiprocess.py``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from samdesk.core.document import AnnotationObject, LabelClass, PolygonPart, Region, ReviewState
from samdesk.io.locking import LockTimeout, file_lock
from samdesk.io.project import DamagedAnnotationsError, ProjectStore


def _square(x: float) -> Region:
    return Region((PolygonPart([[x, 1], [x + 3, 1], [x + 3, 4], [x, 4]]),))


@pytest.fixture
def pair(tmp_path: Path) -> tuple[ProjectStore, ProjectStore]:
    root = tmp_path / "shared"
    root.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (40, 30)).save(root / name)
    ProjectStore.create(root, "team", classes=[LabelClass(1, "road", "#ff0000")])
    return ProjectStore.open(root), ProjectStore.open(root)


def test_classes_both_added_keep_their_objects(pair: tuple[ProjectStore, ProjectStore]) -> None:
    anna, ben = pair
    anna.project.classes.append(LabelClass(2, "car", "#00ff00"))
    assert anna.save_project() == {}
    ben.project.classes.append(LabelClass(2, "tree", "#0000ff"))  # the same id, meanwhile
    record = ben.load_image_annotations("a.png")
    record.add_object(AnnotationObject(2, _square(1), id="t1"))  # not saved yet
    assert ben.save_project() == {2: 3}  # ben's tree moved; anna's car keeps 2
    assert record.get_object("t1").class_id == 3  # ben's unsaved object follows its class
    ben.save_image(record)
    # Anna gets ben's class when she saves next; objects stay with their classes.
    anna_record = anna.load_image_annotations("a.png")
    assert [(c.id, c.name) for c in anna.project.classes] == [(1, "road"), (2, "car"), (3, "tree")]
    assert anna.project.class_by_id(anna_record.get_object("t1").class_id).name == "tree"
    fresh = ProjectStore.open(anna.root)
    assert sorted((c.id, c.name) for c in fresh.project.classes) == [
        (1, "road"),
        (2, "car"),
        (3, "tree"),
    ]


def test_an_object_using_a_new_class_saves_the_class_first(
    pair: tuple[ProjectStore, ProjectStore],
) -> None:
    anna, ben = pair
    ben.project.classes.append(LabelClass(2, "tree", "#0000ff"))
    ben.save_project()
    anna.project.classes.append(LabelClass(2, "car", "#00ff00"))  # never saved by anna
    record = anna.load_image_annotations("b.png")
    record.add_object(AnnotationObject(2, _square(5), id="c1"))
    anna.save_image(record)  # saves the project file first: car becomes 3
    fresh = ProjectStore.open(anna.root)
    saved = fresh.load_image_annotations("b.png").get_object("c1")
    assert fresh.project.class_by_id(saved.class_id).name == "car"


def test_objects_of_both_on_one_image_are_kept(pair: tuple[ProjectStore, ProjectStore]) -> None:
    anna, ben = pair
    mine = anna.load_image_annotations("a.png")
    theirs = ben.load_image_annotations("a.png")
    mine.add_object(AnnotationObject(1, _square(1), id="a1"))
    mine.add_object(AnnotationObject(1, _square(10), id="shared"))
    anna.save_image(mine)
    assert ben.changed_on_disk() == ["a.png"]  # what ben shows is stale: the UI marks it
    theirs.add_object(AnnotationObject(1, _square(20), id="b1"))
    theirs.state = ReviewState.DONE
    ben.save_image(theirs)  # merges anna's objects in
    assert [o.id for o in theirs.objects] == ["b1", "a1", "shared"]
    assert anna.changed_on_disk() == ["a.png"] and anna.changed_elsewhere("a.png")
    reloaded = anna.load_image_annotations("a.png", reload=True)
    assert {o.id for o in reloaded.objects} == {"a1", "b1", "shared"}
    assert reloaded.state is ReviewState.DONE and anna.changed_on_disk() == []
    # Both change one object differently: both versions are kept and reported.
    reloaded.replace_object(replace(reloaded.get_object("shared"), hidden=True))
    anna.save_image(reloaded)
    theirs.replace_object(replace(theirs.get_object("shared"), class_id=1, region=_square(11)))
    ben.save_image(theirs)
    final = ProjectStore.open(anna.root).load_image_annotations("a.png").objects
    assert len(final) == 4 and sum(o.id == "shared" for o in final) == 1
    assert any("both versions kept" in note for note in ben.merge_notes)
    # A delete on one side of an object the other left alone stays deleted.
    ben.load_image_annotations("a.png", reload=True).remove_object("a1")
    ben.save_image(ben.record("a.png"))
    anna_record = anna.load_image_annotations("a.png")
    anna_record.add_object(AnnotationObject(1, _square(30), id="a2"))
    anna.save_image(anna_record)
    assert "a1" not in {o.id for o in anna_record.objects}


def test_a_held_lock_makes_the_save_fail_and_keeps_the_edit(
    pair: tuple[ProjectStore, ProjectStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    import samdesk.io.project as project_module

    anna, _ = pair
    record = anna.load_image_annotations("a.png")
    record.add_object(AnnotationObject(1, _square(1), id="a1"))
    file = anna.annotation_path("a.png")
    monkeypatch.setattr(
        project_module, "file_lock", lambda path: file_lock(path, wait=0.05, stale=60)
    )
    with file_lock(anna._lock_path(file)), pytest.raises(LockTimeout):
        anna.save_image(record)  # another process is inside its save (for too long)
    assert not file.exists() and [o.id for o in record.objects] == ["a1"]
    anna.save_image(record)  # the retry works once the lock is gone
    assert ProjectStore.open(anna.root).object_count("a.png") == 1


def test_a_crashed_writers_lock_is_broken(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text("999999999 elsewhere token\n")  # another machine's: only age counts
    old = lock.stat().st_mtime - 120
    import os

    os.utime(lock, (old, old))
    with file_lock(lock, wait=1, stale=30):
        assert lock.exists()
    assert not lock.exists()


def test_an_empty_lock_of_a_writer_killed_before_its_token_is_broken(tmp_path: Path) -> None:
    # SIGKILL between O_EXCL-creating the lock and writing the owner into it leaves an empty
    # file: nobody could ever tell whether its owner lives, so it must not wait 30 s.
    import os
    import time

    lock = tmp_path / "x.lock"
    lock.write_bytes(b"")
    old = time.time() - 5
    os.utime(lock, (old, old))
    start = time.monotonic()
    with file_lock(lock, wait=2, stale=30):
        assert lock.read_bytes()  # ours now, with our token
    assert time.monotonic() - start < 1.5


def test_reloading_keeps_our_unsaved_class_edit(pair: tuple[ProjectStore, ProjectStore]) -> None:
    anna, ben = pair
    anna.project.classes[0].name = "street"  # renamed, not saved yet (say the disk was full)
    ben.project.classes.append(LabelClass(2, "tree", "#0000ff"))
    ben.save_project()
    anna.reload_project()  # takes ben's class
    assert [c.name for c in anna.project.classes] == ["street", "tree"]
    anna.save_project()  # the rename is still anna's change: it is written
    assert [c.name for c in ProjectStore.open(anna.root).project.classes] == ["street", "tree"]


def test_a_damaged_file_left_by_another_writer_is_not_overwritten_unasked(
    pair: tuple[ProjectStore, ProjectStore],
) -> None:
    anna, ben = pair
    record = anna.load_image_annotations("a.png")
    theirs = ben.load_image_annotations("a.png")
    theirs.add_object(AnnotationObject(1, _square(1), id="b1"))
    ben.save_image(theirs)
    file = anna.annotation_path("a.png")
    cut = file.read_text()[:-20]  # their copy arrives cut short (a sync tool)
    file.write_text(cut)
    record.add_object(AnnotationObject(1, _square(10), id="a1"))
    with pytest.raises(DamagedAnnotationsError):
        anna.save_image(record)
    assert file.read_text() == cut and "a.png" in anna.damaged_images()
    backup = anna.allow_overwrite("a.png")  # the user agrees: a copy first
    anna.save_image(record)
    assert backup is not None and backup.read_text() == cut
    assert [o.id for o in ProjectStore.open(anna.root).load_image_annotations("a.png").objects] == [
        "a1"
    ]
