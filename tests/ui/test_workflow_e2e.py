"""End to end through the real window: new project from the sample images → two objects
with SAM (random-weight checkpoint) → mark done → COCO export dialog → pycocotools."""

from __future__ import annotations

import shutil
import threading

from PySide6.QtCore import Qt

from samdesk.core.document import ObjectSource, ReviewState
from samdesk.io.project import ProjectStore
from tests.conftest import REPO_ROOT
from tests.ui.conftest import WAIT_MS, click, wait_converted
from tests.ui.workflow_support import isolated_settings  # noqa: F401


def test_new_project_annotate_done_export(qtbot, tmp_path, checkpoint, monkeypatch):
    import pycocotools.coco

    from samdesk.ui import new_project_dialog
    from samdesk.ui.main_window import MainWindow

    folder = tmp_path / "photos"
    folder.mkdir()
    for image in (REPO_ROOT / "resources" / "sample_project").glob("*.jpg"):
        shutil.copy2(image, folder / image.name)

    window = MainWindow(checkpoint=str(checkpoint))
    qtbot.addWidget(window)
    window.resize(1100, 760)
    window.show()
    qtbot.waitExposed(window)
    flow = window.workflow
    assert not flow.banner.isVisible()  # a model is there: no "get a model" banner

    # File → New Project from Folder (the dialog is filled in and accepted, not exec'd).
    def fill_and_accept(dialog):
        dialog.folder_edit.setText(str(folder))
        dialog.name_edit.setText("Photos")
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(new_project_dialog.NewProjectDialog, "exec", fill_and_accept)
    with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
        flow.actions["new"].trigger()
    store = window.controller.store
    assert store.project.images[0].path == "dog.jpg"
    assert len(store.project.images) == 4

    # A class for the objects, from the Classes panel.
    class_id = flow.classes_panel.add_class("animal", "#3cb44b")
    assert window.annotator.class_id == class_id

    # Two objects with the SAM point tool: click, wait for the mask, Enter.
    window.tool_actions["SAM Points"].trigger()
    qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)
    canvas = window.canvas
    canvas.setFocus()
    record = window.annotator.record
    for x, y in ((400, 260), (120, 90)):
        with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS):
            click(qtbot, canvas, x, y)
        qtbot.keyClick(canvas, Qt.Key.Key_Return)
        wait_converted(qtbot, window.annotator)
    assert len(record.objects) == 2
    assert all(o.source is ObjectSource.SAM and o.class_id == class_id for o in record.objects)
    assert flow.objects_panel.model.rowCount() == 2

    # Mark done (Ctrl+Return) → the next unfinished image is shown.
    with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
        qtbot.keyClick(canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.controller.current_row == 1
    reopened = ProjectStore.open(folder)
    assert reopened.project.images[0].state is ReviewState.DONE
    assert reopened.object_count(0) == 2

    # File → Export…: COCO, only done images, on the dialog's thread.
    dialog = flow.show_export()
    dialog.set_format("coco")
    dialog.only_done.setChecked(True)
    out = tmp_path / "export" / "coco.json"
    dialog.out_edit.setText(str(out))
    with qtbot.waitSignal(dialog.finished_export, timeout=WAIT_MS) as done:
        dialog.export_button.click()
    text, ok = done.args
    assert ok, text
    assert "exported 1 images, 2 objects" in text
    coco = pycocotools.coco.COCO(str(out))
    assert len(coco.getImgIds()) == 1 and coco.imgs[1]["file_name"] == "dog.jpg"
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) == 2 and {a["category_id"] for a in anns} == {class_id}
    assert all(coco.annToMask(a).sum() > 0 for a in anns)
    assert coco.cats[class_id]["name"] == "animal"

    window.close()
    names = ("samdesk-", "image-loader")
    left = [t.name for t in threading.enumerate() if t.name.startswith(names)]
    assert not left, f"threads left running: {left}"
