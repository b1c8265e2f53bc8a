"""Several annotators (real processes) saving one shared project folder at the same time.

Each process keeps one ``ProjectStore`` open for the whole run, like a samdesk window:
every round it adds a class of its own, saves the project file, then adds objects of
that class to an image every process edits, to one image a few processes share and to
an image of its own, and saves each; now and then it changes one of its objects and
deletes another. Nothing may be lost, relabelled or brought back.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from PIL import Image

from samdesk.core.document import AnnotationObject, LabelClass, PolygonPart, Region
from samdesk.io.project import ProjectStore

WORKERS = 3
ROUNDS = 12


def _annotator(root: str, worker: int, start: multiprocessing.synchronize.Event) -> None:
    store = ProjectStore.open(root)
    start.wait()
    for round_ in range(ROUNDS):
        name = f"w{worker}-r{round_}"
        # The id this process believes free; another process may take it meanwhile.
        store.project.classes.append(LabelClass(store.project.next_class_id(), name, "#123456"))
        store.save_project()
        label = store.project.class_by_name(name)
        assert label is not None
        for image in ("shared.png", f"pair{(worker + round_) % 2}.png", f"own{worker}.png"):
            record = store.load_image_annotations(image)
            x = 2 * worker + round_ % 4
            ring = [[x, round_], [x + 3, round_], [x + 3, round_ + 2]]
            record.add_object(
                AnnotationObject(
                    label.id,
                    Region((PolygonPart(ring),)),
                    id=f"{name}-{image}",
                    prompt={"class": name},
                )
            )
            store.save_image(record)
        if round_ % 4 == 3:  # change one of our earlier objects: the change must survive
            record = store.load_image_annotations("shared.png")
            old = record.get_object(f"w{worker}-r{round_ - 1}-shared.png")
            record.replace_object(
                AnnotationObject(old.class_id, old.region, old.source, old.id, old.prompt, True)
            )
            # and delete an older one: other processes hold it in memory, it must not return
            record.remove_object(f"w{worker}-r{round_ - 3}-shared.png")
            store.save_image(record)
    # How often another process's save had to be merged: the test really interleaved.
    Path(root, f"merges-{worker}.txt").write_text(str(len(store.merged_images)))


@pytest.mark.skipif(os.name != "posix", reason="fork start keeps the test fast")
def test_processes_saving_one_project_lose_nothing(tmp_path: Path) -> None:
    root = tmp_path / "shared-folder"
    root.mkdir()
    names = ["shared.png", "pair0.png", "pair1.png"] + [f"own{w}.png" for w in range(WORKERS)]
    for name in names:
        Image.new("RGB", (64, 48)).save(root / name)
    ProjectStore.create(root, "team", classes=[LabelClass(1, "existing", "#ff0000")])

    context = multiprocessing.get_context("fork")
    start = context.Event()
    workers = [
        context.Process(target=_annotator, args=(str(root), w, start)) for w in range(WORKERS)
    ]
    for process in workers:
        process.start()
    start.set()  # all at once: their saves interleave
    for process in workers:
        process.join(timeout=120)
    assert [p.exitcode for p in workers] == [0] * WORKERS

    merges = sum(int((root / f"merges-{w}.txt").read_text()) for w in range(WORKERS))
    assert merges > 0, "no save met another process's change: nothing was tested"
    store = ProjectStore.open(root)
    assert store.warnings == [] and store.damaged_images() == {}
    classes = store.project.classes
    ids = [c.id for c in classes]
    assert len(ids) == len(set(ids)), "class ids must be unique"
    expected = {f"w{w}-r{r}" for w in range(WORKERS) for r in range(ROUNDS)} | {"existing"}
    assert sorted(c.name for c in classes) == sorted(expected)  # every class, once

    found: dict[str, AnnotationObject] = {}
    for name in names:
        record = store.load_image_annotations(name)
        assert store.unreadable(name) is None  # every file parses whole
        object_ids = [o.id for o in record.objects]
        assert len(object_ids) == len(set(object_ids))
        for obj in record.objects:
            label = store.project.class_by_id(obj.class_id)
            assert label is not None and label.name == obj.prompt["class"], (
                f"{obj.id} relabelled to {label}"
            )
            found[obj.id] = obj
    wanted = {
        f"w{w}-r{r}-{image}"
        for w in range(WORKERS)
        for r in range(ROUNDS)
        for image in ("shared.png", f"pair{(w + r) % 2}.png", f"own{w}.png")
    }
    deleted = {
        f"w{w}-r{r - 3}-shared.png" for w in range(WORKERS) for r in range(ROUNDS) if r % 4 == 3
    }
    assert set(found) == wanted - deleted  # every object of every process, nothing extra
    for w in range(WORKERS):
        for r in range(ROUNDS):
            key = f"w{w}-r{r}-shared.png"
            if key not in deleted:
                assert found[key].hidden == (r % 4 == 2)  # hidden in round r + 1
    assert not list((root / ".samdesk" / "locks").glob("*.lock"))  # every lock released
