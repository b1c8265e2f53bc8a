"""The start page of an empty window, and ``samdesk FOLDER`` on a plain image folder."""

from __future__ import annotations

from pathlib import Path

from samdesk.ui import settings as user_settings
from samdesk.ui.main_window import MainWindow
from samdesk.ui.new_project_dialog import NewProjectDialog
from tests.ui.conftest import WAIT_MS, _close, write_images
from tests.ui.workflow_support import isolated_settings  # noqa: F401


def _empty_window(qtbot) -> MainWindow:
    window = MainWindow(checkpoint=None)
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_empty_window_shows_start_page_with_recent(qtbot, project):
    project_file = next(project.glob("*.samdesk.yaml"))
    user_settings.add_recent_project(project_file)
    window = _empty_window(qtbot)
    host = window.start_page
    assert host.showing and host.page.isVisible() and not window.canvas.isVisible()
    assert host.page.recent_paths() == [str(project_file.resolve())]
    assert host.page.new_button.isVisible() and host.page.sample_button.isVisible()
    item = host.page.recent_list.item(0)
    label = host.page.recent_list.itemWidget(item)
    name = project_file.name.removesuffix(".samdesk.yaml")
    assert f"<b>{name}</b>" in label.text() and project_file.parent.name in label.text()
    assert item.toolTip() == str(project_file.resolve())
    # Without a project the empty panels are out of the way; they come back with one.
    assert not window.image_list.isVisible()
    with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
        host.page.recent_list.itemClicked.emit(item)
    assert not host.showing and window.canvas.isVisible() and window.image_list.isVisible()
    _close(window)


def test_open_the_sample(qtbot):
    window = _empty_window(qtbot)
    with qtbot.waitSignal(window.controller.project_opened, timeout=WAIT_MS):
        window.start_page.page.sample_button.click()
    store = window.controller.store
    assert store is not None and "sample_project" in str(store.root)
    assert not window.start_page.showing
    _close(window)


def test_plain_folder_offers_a_project(qtbot, tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    folder.mkdir()
    write_images(folder)
    before = sorted(p.name for p in folder.iterdir())
    window = _empty_window(qtbot)
    # "No": nothing is written into the user's folder.
    asked: list[Path] = []
    window.start_page.ask_make_project = lambda f: asked.append(f) or False
    assert window.open_path(folder) is False
    assert asked == [folder] and sorted(p.name for p in folder.iterdir()) == before
    assert window.controller.store is None and window.start_page.showing
    # "Yes": the New Project dialog comes up prefilled with the folder and its count.
    seen: dict[str, object] = {}

    def run_dialog(dialog: NewProjectDialog) -> int:
        seen["folder"] = dialog.folder_edit.text()
        qtbot.waitUntil(lambda: dialog.last_count is not None, timeout=WAIT_MS)
        seen["count"] = dialog.last_count.images
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(NewProjectDialog, "exec", run_dialog)
    window.start_page.ask_make_project = lambda f: True
    with qtbot.waitSignal(window.controller.image_shown, timeout=WAIT_MS):
        assert window.open_path(folder) is True
    assert seen == {"folder": str(folder), "count": 2}
    assert window.controller.store.root == folder
    assert not window.start_page.showing
    _close(window)
