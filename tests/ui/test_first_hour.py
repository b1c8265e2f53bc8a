"""The annotator's first hour, scripted through the real window (issue #14).

First start without a model → choose the checkpoint file in Settings → Model → a new
project from a folder, typing its classes → three images labelled with SAM points, a SAM
box refined in the explicit refine mode, a polygon and a brush object → undo/redo →
export COCO and YOLO → every object is in both exports with its class.

Everything goes through the window's actions, its dialogs and mouse/key events on the
canvas, as a user would. The model is the MobileSAM-format parity checkpoint (TinyViT,
random weights: masks are not meaningful, but every stage runs for real).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QLabel, QPushButton

from samdesk.core.document import ObjectSource
from tests.ui.conftest import WAIT_MS, _close, click, view_pos, wait_converted, write_images
from tests.ui.modal_support import answer_modal, back_to
from tests.ui.workflow_support import isolated_settings  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("car", "dog", "food")


@pytest.fixture(autouse=True)
def _forget_the_chosen_model(isolated_settings, tmp_path_factory):  # noqa: F811
    """This test saves a checkpoint in the user settings (as a user does); QSettings' path
    is process-wide, so later tests would start with that model. Point it at an empty
    folder afterwards."""
    yield
    from PySide6.QtCore import QSettings

    empty = tmp_path_factory.mktemp("settings-after-first-hour")
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(empty))


def parity_checkpoint() -> Path:
    """The shared MobileSAM-format checkpoint ($SAMDESK_SHARED, else <repo>/../shared);
    a missing fixture fails the test (it is never skipped)."""
    env = os.environ.get("SAMDESK_SHARED")
    candidates = [Path(env)] if env else [REPO.parent / "shared", Path("/work/shared")]
    for root in candidates:
        path = root / "parity" / "tinyvit_s2" / "checkpoint.pt"
        if path.is_file():
            return path
    pytest.fail(f"parity checkpoint not found under {candidates}; set SAMDESK_SHARED")


def _key(qtbot, window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window.canvas, key, modifier)


def _drag(qtbot, canvas, points) -> None:
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_pos(canvas, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(viewport, view_pos(canvas, *p))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_pos(canvas, *points[-1]))


def _next_image(qtbot, window) -> None:
    with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
        _key(qtbot, window, Qt.Key.Key_D)
    qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)


def _accept(qtbot, window) -> None:
    _key(qtbot, window, Qt.Key.Key_Return)
    wait_converted(qtbot, window.annotator)


def _choose_model(qtbot, window, checkpoint: Path, monkeypatch) -> None:
    """Settings → Model…, Browse… to the checkpoint file, CPU, OK."""
    monkeypatch.setattr(
        "samdesk.ui.model_settings.QFileDialog.getOpenFileName",
        lambda *a, **k: (str(checkpoint), ""),
    )
    window.workflow.actions["model_settings"].trigger()
    dialog = window.workflow.dialogs[-1]
    browse = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Browse…")
    qtbot.mouseClick(browse, Qt.MouseButton.LeftButton)
    assert dialog.checkpoint_edit.text() == str(checkpoint)
    # The dialog inspects the file in the background: let it say what it found first.
    qtbot.waitUntil(lambda: dialog.checkpoint_ok is not None, timeout=WAIT_MS)
    assert dialog.checkpoint_ok, dialog.arch_label.text()
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    with qtbot.waitSignal(window.engine.availability_changed, timeout=WAIT_MS) as ready:
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert ready.args == [True]


def _new_project(qtbot, window, folder: Path) -> None:
    """File → New Project from Folder…: the folder, the classes typed one a line, Create."""

    def fill(dialog) -> None:
        dialog.folder_edit.setText(str(folder))
        for name in CLASSES:
            qtbot.keyClicks(dialog.classes_field.edit, name)
            qtbot.keyClick(dialog.classes_field.edit, Qt.Key.Key_Return)
        create = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert create.isEnabled() and "3 classes" in dialog.classes_field.info.text()
        qtbot.mouseClick(create, Qt.MouseButton.LeftButton)

    seen = answer_modal(fill)
    with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
        window.workflow.actions["new"].trigger()
    assert seen
    back_to(qtbot, window)
    window.canvas.setFocus()


def _export(qtbot, window, key: str, out: Path) -> None:
    window.workflow.actions["export"].trigger()
    dialog = window.workflow.dialogs[-1]
    dialog.set_format(key)
    dialog.out_edit.setText(str(out))
    with qtbot.waitSignal(dialog.finished_export, timeout=WAIT_MS) as done:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    text, ok = done.args
    assert ok, text
    dialog.done(0)


def test_first_hour(qtbot, tmp_path, monkeypatch):
    from samdesk.ui.main_window import MainWindow

    started = time.perf_counter()
    checkpoint = parity_checkpoint()
    folder = tmp_path / "photos"
    folder.mkdir()
    write_images(folder, ((320, 240),) * 3)

    # --- first start: no model yet --------------------------------------------------------
    window = MainWindow(checkpoint=None)
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    try:
        canvas, annotator, a = window.canvas, window.annotator, window.tool_actions
        status = window.statusBar().findChild(QLabel, "ActiveToolLabel")
        assert not window.engine.available and not window.workflow.banner.isHidden()
        assert not a["SAM Points"].isEnabled() and a["Polygon"].isChecked()
        assert "Polygon" in status.text()

        # --- choose a checkpoint file: SAM tools on, SAM Points chosen -----------------------
        _choose_model(qtbot, window, checkpoint, monkeypatch)
        assert window.workflow.banner.isHidden()
        assert a["SAM Points"].isEnabled() and a["SAM Points"].isChecked()
        assert canvas.tool is window.tools["SAM Points"] and "SAM Points" in status.text()

        # --- a new project from the folder, with its classes ---------------------------------
        _new_project(qtbot, window, folder)
        store = window.controller.store
        assert [(c.name, c.key) for c in store.project.classes] == [
            ("car", 1),
            ("dog", 2),
            ("food", 3),
        ]
        assert len(store.project.images) == 3
        qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)
        ids = {c.name: c.id for c in store.project.classes}
        # Random weights answer with speckled masks: keep every speck (Settings → Polygons).
        window.workflow.actions["polygon_settings"].trigger()
        polygons = window.workflow.dialogs[-1]
        polygons.min_area.setValue(0.0)
        polygons.accept()
        back_to(qtbot, window)

        # --- image 1: SAM points on the red square, class car (key 1) ------------------------
        _key(qtbot, window, Qt.Key.Key_1)
        with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS):
            click(qtbot, canvas, 120, 90)
        _accept(qtbot, window)
        (points_obj,) = annotator.record.objects
        assert points_obj.source == ObjectSource.SAM and points_obj.class_id == ids["car"]

        # --- image 2: a SAM box around the green disc (dog), then refined explicitly ---------
        _next_image(qtbot, window)
        _key(qtbot, window, Qt.Key.Key_X)
        _key(qtbot, window, Qt.Key.Key_2)
        with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS):
            _drag(qtbot, canvas, [(195, 115), (240, 160), (285, 205)])
        _accept(qtbot, window)
        (box_obj,) = annotator.record.objects
        assert box_obj.class_id == ids["dog"] and box_obj.prompt["box"] is not None
        _key(qtbot, window, Qt.Key.Key_V)  # select it
        click(qtbot, canvas, *_inside(box_obj))
        assert annotator.selected_id == box_obj.id
        _key(qtbot, window, Qt.Key.Key_S)
        _key(qtbot, window, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)  # refine mode
        banner = window.tool_bar.refine_banner
        assert banner.isVisible() and "img1.png #1 (dog)" in banner.text()
        with qtbot.waitSignal(window.engine.decoded, timeout=WAIT_MS) as decoded:
            click(qtbot, canvas, 240, 160)
        assert decoded.args[0].prompt.mask_input is not None  # the object's mask went in
        _accept(qtbot, window)
        (refined,) = annotator.record.objects
        assert refined.id == box_obj.id and refined.source == ObjectSource.SAM
        assert annotator.stack.undoText() == "Refine object" and not banner.isVisible()

        # --- image 3: a polygon (food, key 3) and a brush object (car, key 1) ----------------
        _next_image(qtbot, window)
        _key(qtbot, window, Qt.Key.Key_P)
        _key(qtbot, window, Qt.Key.Key_3)
        for x, y in ((80, 60), (160, 60), (160, 120), (80, 120), (80, 60)):
            click(qtbot, canvas, x, y)  # the last click on the first vertex closes it
        wait_converted(qtbot, annotator)
        _key(qtbot, window, Qt.Key.Key_B)
        _key(qtbot, window, Qt.Key.Key_1)
        _drag(qtbot, canvas, [(220, 150), (240, 160), (260, 170)])
        _accept(qtbot, window)
        polygon_obj, brush_obj = annotator.record.objects
        assert polygon_obj.source == ObjectSource.POLYGON
        assert polygon_obj.class_id == ids["food"]
        assert brush_obj.source == ObjectSource.BRUSH and brush_obj.class_id == ids["car"]

        # --- undo / redo (Ctrl+Z, Ctrl+Shift+Z) ------------------------------------------------
        _key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert [o.id for o in annotator.record.objects] == [polygon_obj.id]
        shift_ctrl = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        _key(qtbot, window, Qt.Key.Key_Z, shift_ctrl)
        assert [o.id for o in annotator.record.objects] == [polygon_obj.id, brush_obj.id]

        # --- export COCO and YOLO: every object, with its class ----------------------------------
        expected = {
            "img0.png": Counter(["car"]),
            "img1.png": Counter(["dog"]),
            "img2.png": Counter(["food", "car"]),
        }
        coco_path = tmp_path / "out" / "coco.json"
        _export(qtbot, window, "coco", coco_path)
        coco = json.loads(coco_path.read_text(encoding="utf-8"))
        categories = {c["id"]: c["name"] for c in coco["categories"]}
        files = {i["id"]: Path(i["file_name"]).name for i in coco["images"]}
        found: dict[str, Counter] = {}
        for ann in coco["annotations"]:
            found.setdefault(files[ann["image_id"]], Counter())[categories[ann["category_id"]]] += 1
        assert found == expected

        yolo_dir = tmp_path / "out" / "yolo"
        _export(qtbot, window, "yolo-seg", yolo_dir)
        data = yaml.safe_load((yolo_dir / "data.yaml").read_text(encoding="utf-8"))
        names = data["names"]
        names = names if isinstance(names, dict) else dict(enumerate(names))
        found = {}
        for label in (yolo_dir / "labels").rglob("*.txt"):
            lines = [ln.split() for ln in label.read_text().splitlines() if ln.strip()]
            for line in lines:
                found.setdefault(label.stem + ".png", Counter())[names[int(line[0])]] += 1
        assert found == expected
    finally:
        _close(window)
    elapsed = time.perf_counter() - started
    print(f"first hour, scripted: {elapsed:.1f} s")


def _inside(obj) -> tuple[float, float]:
    """A point inside the object's first part (its exterior ring's vertex mean, nudged to
    the nearest interior point if the mean falls outside)."""
    import shapely

    part = obj.region.parts[0]
    polygon = shapely.Polygon(part.exterior, [h for h in part.holes])
    point = polygon.representative_point()
    return float(point.x), float(point.y)
