"""Import in the window: one project, one writer. The user keeps editing while a dataset
is imported; afterwards the user's and the imported data are both there, on screen and on
disk, and no object points at a missing class. A failing import leaves the project as it
was (a dataset that cannot be read) or consistent (a failure midway)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from PIL import Image

from samdesk.io.project import ProjectStore
from tests.ui.conftest import WAIT_MS
from tests.ui.workflow_support import SMALL, SQUARE, add_polygon, isolated_settings  # noqa: F401


def _coco(path: Path, images: list[tuple[str, int, int]], category: str = "bird") -> Path:
    """A COCO file with one triangle of class ``category`` on each image."""
    data = {
        "images": [
            {"id": i + 1, "file_name": name, "width": w, "height": h}
            for i, (name, w, h) in enumerate(images)
        ],
        "categories": [{"id": 7, "name": category, "supercategory": ""}],
        "annotations": [
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 7,
                "segmentation": [[150.0, 150.0, 190.0, 150.0, 170.0, 190.0]],
                "area": 800.0,
                "bbox": [150.0, 150.0, 40.0, 40.0],
                "iscrowd": 0,
            }
            for i in range(len(images))
        ],
    }
    path.write_text(json.dumps(data))
    return path


class _Gates:
    """Hold the import's worker thread at chosen points (never the GUI thread)."""

    def __init__(self, monkeypatch, targets: list[tuple[object, str]]) -> None:
        self.reached = {name: threading.Event() for _, name in targets}
        self.release = {name: threading.Event() for _, name in targets}
        for owner, name in targets:
            real = getattr(owner, name)

            def gated(*args, _real=real, _name=name, **kwargs):
                if threading.current_thread() is not threading.main_thread():
                    self.reached[_name].set()
                    assert self.release[_name].wait(WAIT_MS / 1000)
                return _real(*args, **kwargs)

            monkeypatch.setattr(owner, name, gated)

    def open_all(self) -> None:
        for event in self.release.values():
            event.set()


def test_user_edits_during_an_import_are_kept_with_the_imported_data(
    qtbot, manual_window, project, tmp_path, monkeypatch
):
    import samdesk.io.cli
    import samdesk.io.coco

    w = manual_window
    flow, store = w.workflow, w.controller.store
    source = _coco(tmp_path / "ds.json", [("img0.png", 320, 240)])
    # The read, and (where the import writes from its worker) the start of the merge.
    gates = _Gates(
        monkeypatch, [(samdesk.io.coco, "import_coco"), (samdesk.io.cli, "_merge_classes")]
    )
    dialog = flow.show_import()
    dialog.source_edit.setText(str(source))
    dialog.image_root.setText(str(project))
    try:
        with qtbot.waitSignal(dialog.imported, timeout=WAIT_MS) as done:
            assert dialog.start()
            qtbot.waitUntil(gates.reached["import_coco"].is_set, timeout=WAIT_MS)
            # While the dataset is read, the user adds a class and an object of it.
            fish = flow.classes_panel.add_class("fish")
            mine = add_polygon(w.annotator, SQUARE, class_id=fish)
            gates.release["import_coco"].set()
            qtbot.waitUntil(
                lambda: gates.reached["_merge_classes"].is_set() or not dialog.running,
                timeout=WAIT_MS,
            )
            # ...and goes on while the import adds its data.
            eel = flow.classes_panel.add_class("eel")
            mine2 = add_polygon(w.annotator, SMALL, class_id=eel)
            gates.release["_merge_classes"].set()
    finally:
        gates.open_all()
    assert done.args[1], done.args[0]
    names = {"car", "dog", "food", "fish", "eel", "bird"}
    for where in (store, ProjectStore.open(project)):
        classes = {c.id: c.name for c in where.project.classes}
        assert set(classes.values()) == names
        objects = where.load_image_annotations(0).objects
        assert {mine, mine2} <= {o.id for o in objects} and len(objects) == 3
        assert {classes[o.class_id] for o in objects} == {"fish", "eel", "bird"}
    # The window shows it: the class menu, the image list count, the objects on screen.
    assert "bird" in [a.text() for a in w._class_menu.actions()]
    assert w.image_list.model.data(w.image_list.model.index(0)).endswith("(3)")
    assert all(w.canvas.object_item(o.id) is not None for o in w.annotator.record.objects)
    dialog.done(0)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_an_unreadable_dataset_changes_nothing(qtbot, manual_window, project, tmp_path):
    w = manual_window
    add_polygon(w.annotator, SQUARE, class_id=1)
    source = _coco(tmp_path / "ds.json", [("img0.png", 320, 240), ("img1.png", 200, 160)])
    text = source.read_text()
    source.write_text(text[: len(text) // 2])  # cut off midway
    dialog = w.workflow.show_import()  # saves what the window holds: the baseline
    before = _snapshot(project)
    dialog.source_edit.setText(str(source))
    dialog.image_root.setText(str(project))
    with qtbot.waitSignal(dialog.imported, timeout=WAIT_MS) as done:
        assert dialog.start()
    assert not done.args[1] and "Import failed" in done.args[0]
    assert _snapshot(project) == before
    dialog.done(0)


def test_a_failure_midway_leaves_the_project_consistent(
    qtbot, manual_window, project, tmp_path, monkeypatch
):
    w = manual_window
    store = w.controller.store
    images = tmp_path / "dataset"
    (images / "sub").mkdir(parents=True)
    Image.new("RGB", (320, 240), "red").save(images / "a.png")
    Image.new("RGB", (320, 240), "blue").save(images / "sub" / "b.png")
    source = _coco(tmp_path / "ds.json", [("a.png", 320, 240), ("sub/b.png", 320, 240)], "kite")
    real_save = store.save_image

    def disk_full_on_b(record):  # the disk fills up while the second image is written
        if record.path == "sub/b.png":
            raise OSError(28, "No space left on device")
        real_save(record)

    monkeypatch.setattr(store, "save_image", disk_full_on_b)
    dialog = w.workflow.show_import()
    dialog.source_edit.setText(str(source))
    dialog.image_root.setText(str(images))
    with qtbot.waitSignal(dialog.imported, timeout=WAIT_MS) as done:
        assert dialog.start()
    assert not done.args[1] and "Import failed" in done.args[0]
    on_disk = ProjectStore.open(project)
    ids = {c.id for c in on_disk.project.classes}
    assert "kite" in {c.name for c in on_disk.project.classes}  # written before any object
    for record in on_disk.project.images:  # every object's class exists
        assert all(o.class_id in ids for o in on_disk.load_image_annotations(record.path).objects)
    # What was imported before the failure is listed, and the window shows the same.
    assert len(on_disk.load_image_annotations("a.png").objects) == 1
    assert store.record("sub/b.png").objects == []  # memory as on disk: not half-added
    assert [r.path for r in store.project.images] == [r.path for r in on_disk.project.images]
    assert w.image_list.model.rowCount() == len(store.project.images)
    assert "kite" in [a.text() for a in w._class_menu.actions()]
    dialog.done(0)


def test_a_read_only_project_is_not_imported_into(qtbot, manual_window, project, tmp_path):
    w = manual_window
    source = _coco(tmp_path / "ds.json", [("img0.png", 320, 240)])
    dialog = w.workflow.show_import()
    before = _snapshot(project)
    w.controller.store.read_only = True  # e.g. opened read-only: another annotator writes
    dialog.source_edit.setText(str(source))
    dialog.image_root.setText(str(project))
    assert not dialog.start()
    assert "read-only" in dialog.summary.toPlainText()
    assert _snapshot(project) == before
    assert "bird" not in {c.name for c in w.controller.store.project.classes}
    dialog.done(0)
