"""The image list: progress, legend, filters by state / no objects / problems, and marks
for missing or unreadable images (checked in the background)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from samdesk.core.document import LabelClass, ReviewState
from samdesk.io.project import ProjectStore
from samdesk.ui.image_list import LEGEND, NO_OBJECTS, PROBLEMS
from tests.ui.conftest import WAIT_MS, _close, _open_window, write_images
from tests.ui.workflow_support import SQUARE, add_polygon, isolated_settings  # noqa: F401


def _filter(panel, data) -> list[int]:
    panel.state_filter.setCurrentIndex(panel.state_filter.findData(data))
    return panel.visible_rows()


def test_progress_legend_filters_and_problem_marks(qtbot, tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    paths = write_images(folder, ((120, 90), (100, 80), (90, 70), (80, 60)))
    ProjectStore.create(folder, "p", classes=[LabelClass(1, "car", "#e6194b", 1)])
    paths[3].unlink()  # gone since the project was made
    paths[2].write_bytes(b"\xff\xd8 not really an image")  # damaged
    window = _open_window(qtbot, folder, None)
    panel, model = window.image_list, window.image_list.model
    qtbot.waitUntil(lambda: model.problem(3) is not None, timeout=WAIT_MS)
    assert panel.legend.text() == LEGEND and panel.legend.isVisible()
    assert panel.progress_label.text() == "0 / 4 done"
    # Annotate image 0 and mark it done: progress follows.
    add_polygon(window.annotator, SQUARE, 1)
    window.workflow.set_state(0, ReviewState.DONE)
    assert panel.progress_label.text() == "1 / 4 done"
    # Missing file: marked, with the reason in the tooltip.
    text = model.data(model.index(3))
    tip = model.data(model.index(3), Qt.ItemDataRole.ToolTipRole)
    assert text.endswith("⚠") and "file missing" in tip
    # The damaged one is marked when it fails to decode.
    assert model.problem(2) is None
    with qtbot.waitSignal(window.controller.image_failed, timeout=WAIT_MS):
        window.controller.show_image(2)
    assert model.problem(2) and model.data(model.index(2)).endswith("⚠")
    # Filters.
    assert _filter(panel, NO_OBJECTS) == [1, 2, 3]
    assert _filter(panel, PROBLEMS) == [2, 3]
    assert _filter(panel, "done") == [0]
    assert _filter(panel, None) == [0, 1, 2, 3]
    # The hook for damaged annotation files (the project store's reports).
    model.set_annotation_problem(1, "annotation file damaged (line 3)")
    assert _filter(panel, PROBLEMS) == [1, 2, 3] and "line 3" in model.problem(1)
    _close(window)


def test_file_check_runs_off_the_gui_thread(qtbot, tmp_path, monkeypatch):
    import threading

    from samdesk.ui import image_list

    folder = tmp_path / "p"
    folder.mkdir()
    write_images(folder)
    ProjectStore.create(folder, "p")
    threads: list[str] = []
    real = image_list.file_problem
    monkeypatch.setattr(
        image_list,
        "file_problem",
        lambda p: threads.append(threading.current_thread().name) or real(p),
    )
    window = _open_window(qtbot, folder, None)
    qtbot.waitUntil(lambda: len(threads) == 2, timeout=WAIT_MS)
    assert all(t.startswith("samdesk-files") for t in threads)
    _close(window)
