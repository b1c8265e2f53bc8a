"""New Project, Export and Import dialogs (driven without exec(); work on a thread)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samdesk.core.document import AnnotationObject, PolygonPart, Region, ReviewState
from samdesk.io.project import ProjectStore
from samdesk.ui.export_dialog import ExportDialog
from samdesk.ui.import_dialog import ImportDialog
from samdesk.ui.new_project_dialog import NewProjectDialog
from tests.ui.conftest import WAIT_MS
from tests.ui.workflow_support import SMALL, SQUARE, isolated_settings  # noqa: F401


def _annotate(project: Path) -> None:
    store = ProjectStore.open(project)
    record = store.load_image_annotations(0)
    for points, class_id in ((SQUARE, 1), (SMALL, 2)):
        record.objects.append(AnnotationObject(class_id, Region((PolygonPart(points),))))
    store.save_image(record)
    store.set_state(0, ReviewState.DONE)


def test_new_project_dialog(qtbot, tmp_path):
    folder = tmp_path / "pics"
    (folder / "sub").mkdir(parents=True)
    rgb = np.zeros((20, 30, 3), np.uint8)
    Image.fromarray(rgb).save(folder / "a.tif")
    Image.fromarray(rgb).save(folder / "b.webp")
    Image.fromarray(rgb).save(folder / "sub" / "c.png")
    (folder / "notes.txt").write_text("not an image")
    dialog = NewProjectDialog(None)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    assert not ok.isEnabled()
    with qtbot.waitSignal(dialog.counted, timeout=WAIT_MS):
        dialog.folder_edit.setText(str(tmp_path / "missing"))
    assert "existing folder" in dialog.info.text() and not ok.isEnabled()
    with qtbot.waitSignal(dialog.counted, timeout=WAIT_MS):
        dialog.folder_edit.setText(str(folder))
    assert dialog.last_count.images == 3 and ok.isEnabled()
    with qtbot.waitSignal(dialog.counted, timeout=WAIT_MS):
        dialog.recursive.setChecked(False)
    assert dialog.last_count.images == 2
    dialog.name_edit.setText("Holiday")
    dialog.accept()
    assert dialog.result() == NewProjectDialog.DialogCode.Accepted
    store = ProjectStore.open(folder)
    assert store.project.name == "Holiday"
    assert [r.path for r in store.project.images] == ["a.tif", "b.webp"]
    # A second project in the same folder: the reason is shown, the dialog stays open.
    again = NewProjectDialog(folder)
    qtbot.addWidget(again)
    again.name_edit.setText("Holiday")
    again.accept()
    assert again.store is None and "already exists" in again.info.text()


def test_export_coco_yolo_and_only_done(qtbot, project, tmp_path):
    import pycocotools.coco

    _annotate(project)
    store = ProjectStore.open(project)
    dialog = ExportDialog(store.path)
    qtbot.addWidget(dialog)
    assert dialog.out_edit.text().endswith("coco.json")
    assert not dialog.val_fraction.isVisibleTo(dialog)
    dialog.only_done.setChecked(True)
    with qtbot.waitSignal(dialog.finished_export, timeout=WAIT_MS) as done:
        assert dialog.start()
    text, ok = done.args
    assert ok and "exported 1 images, 2 objects" in text
    assert dialog.progress.maximum() == 1 and "exported 1 images" in dialog.summary.toPlainText()
    coco = pycocotools.coco.COCO(dialog.out_edit.text())
    assert len(coco.getAnnIds()) == 2 and len(coco.getImgIds()) == 1
    # YOLO segmentation with a validation share: both images, a val split.
    dialog.set_format("yolo-seg")
    assert dialog.out_edit.text().endswith("yolo_seg") and dialog.val_fraction.isVisibleTo(dialog)
    dialog.only_done.setChecked(False)
    dialog.val_fraction.setValue(0.5)
    with qtbot.waitSignal(dialog.finished_export, timeout=WAIT_MS) as done:
        dialog.start()
    assert done.args[1], done.args[0]
    out = Path(dialog.out_edit.text())
    assert (out / "data.yaml").is_file()
    labels = list((out / "labels").rglob("*.txt"))
    assert len(labels) == 2 and {p.parent.name for p in labels} == {"train", "val"}
    # Again without "overwrite": the format refuses, the dialog says why, nothing crashes.
    with qtbot.waitSignal(dialog.finished_export, timeout=WAIT_MS) as done:
        dialog.start()
    assert not done.args[1] and done.args[0].startswith("Export failed")
    dialog.overwrite.setChecked(True)
    with qtbot.waitSignal(dialog.finished_export, timeout=WAIT_MS) as done:
        dialog.start()
    assert done.args[1]
    dialog.done(0)


def test_import_coco_into_project(qtbot, project, tmp_path):
    _annotate(project)
    source = ProjectStore.open(project)
    coco_file = tmp_path / "out" / "coco.json"
    from samdesk.ui.export_dialog import ExportOptions, run_export

    run_export(source.path, ExportOptions("coco", coco_file))
    data = json.loads(coco_file.read_text())
    data["categories"].append({"id": 9, "name": "bird", "supercategory": ""})
    coco_file.write_text(json.dumps(data))
    # A new, empty project on a copy of the images.
    target = tmp_path / "target"
    target.mkdir()
    for image in project.glob("*.png"):
        (target / image.name).write_bytes(image.read_bytes())
    store = ProjectStore.create(target, "target")
    dialog = ImportDialog(store.path)
    qtbot.addWidget(dialog)
    dialog.source_edit.setText(str(coco_file))
    dialog.image_root.setText(str(project))
    with qtbot.waitSignal(dialog.imported, timeout=WAIT_MS) as done:
        assert dialog.start()
    text, ok = done.args
    assert ok and "imported 2 images, 2 objects" in text
    merged = ProjectStore.open(target)
    assert {c.name for c in merged.project.classes} >= {"car", "dog", "bird"}
    assert len(merged.load_image_annotations(0).objects) == 2
    # A broken file: a readable message.
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    dialog.source_edit.setText(str(broken))
    with qtbot.waitSignal(dialog.imported, timeout=WAIT_MS) as done:
        dialog.start()
    assert not done.args[1] and "Import failed" in done.args[0]
    dialog.done(0)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.timeout(60, method="signal")  # reading a FIFO would block: fail, never hang
def test_new_project_skips_and_reports_a_fifo_image(qtbot, manual_window, tmp_path, monkeypatch):
    folder = tmp_path / "pics"
    folder.mkdir()
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(folder / "a.png")
    os.mkfifo(folder / "b.png")
    dialog = NewProjectDialog(folder)
    qtbot.addWidget(dialog)
    assert dialog.image_count() == 1  # counted without opening it (it would block)

    def accept_at_once(self) -> int:
        self.accept()
        return self.result()

    monkeypatch.setattr(NewProjectDialog, "exec", accept_at_once)
    with qtbot.waitSignal(manual_window.controller.image_shown, timeout=WAIT_MS):
        manual_window.workflow.new_project(str(folder))
    assert [r.path for r in manual_window.controller.images] == ["a.png"]
    log = manual_window.log_view.toPlainText()
    assert "b.png" in log and "FIFO" in log


def test_new_formats_export_and_import_through_the_dialogs(qtbot, project, tmp_path):
    _annotate(project)
    store = ProjectStore.open(project)
    dialog = ExportDialog(store.path)
    qtbot.addWidget(dialog)
    formats = [dialog.format.itemData(i) for i in range(dialog.format.count())]
    assert {"labelme", "masks-png", "voc"} <= set(formats)
    dialog.set_format("labelme")
    assert not dialog.val_fraction.isVisibleTo(dialog) and dialog.overwrite.isVisibleTo(dialog)
    dialog.out_edit.setText(str(tmp_path / "lm"))
    with qtbot.waitSignal(dialog.finished_export, timeout=WAIT_MS) as done:
        assert dialog.start()
    text, ok = done.args
    # The dialog shows the full report, the same text as the file beside the export.
    assert ok and "exported 2 images, 2 objects" in text
    report = (tmp_path / "lm" / "export-report.txt").read_text(encoding="utf-8")
    assert text.startswith(report.rstrip("\n"))
    dialog.done(0)

    target = tmp_path / "target"
    target.mkdir()
    fresh = ProjectStore.create(target, "target")
    importer = ImportDialog(fresh.path)
    qtbot.addWidget(importer)
    importer.format.setCurrentIndex(importer.format.findData("labelme"))
    assert not importer.image_root.isVisibleTo(importer)
    importer.source_edit.setText(str(tmp_path / "lm"))
    with qtbot.waitSignal(importer.imported, timeout=WAIT_MS) as done:
        assert importer.start()
    text, ok = done.args
    assert ok and "imported 2 images, 2 objects" in text, text
    importer.done(0)
