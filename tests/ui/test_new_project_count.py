"""New Project dialog: the image count never runs on the GUI thread, is debounced and
bounded, and "/" or the home folder needs a confirmation."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image

from samdesk.core import folder_count
from samdesk.io.project import ProjectStore
from samdesk.ui import new_project_dialog
from samdesk.ui.new_project_dialog import NewProjectDialog
from tests.ui.conftest import WAIT_MS
from tests.ui.workflow_support import isolated_settings  # noqa: F401


def test_typing_counts_in_background_debounced(qtbot, tmp_path, monkeypatch):
    folder = tmp_path / "pics"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / f"{i}.png")
    calls: list[tuple[str, str]] = []
    real = folder_count.count_images

    def recording(path, recursive=True, **kw):
        calls.append((str(path), threading.current_thread().name))
        return real(path, recursive, **kw)

    monkeypatch.setattr(folder_count, "count_images", recording)
    dialog = NewProjectDialog(None)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    # Type the path one keystroke at a time, as a user does.
    with qtbot.waitSignal(dialog.counted, timeout=WAIT_MS):
        for i in range(1, len(str(folder)) + 1):
            dialog.folder_edit.setText(str(folder)[:i])
        assert calls == []  # debounced: no scan per keystroke
        assert ok.isEnabled()  # an existing folder: Create need not wait for the count
        assert dialog.info.text() == "Counting images…"
    assert dialog.last_count.images == 3 and ok.isEnabled()
    assert "3 images found" in dialog.info.text()
    main = threading.main_thread().name
    assert calls and all(name != main for _p, name in calls), calls
    assert calls[-1][0] == str(folder)
    assert len(calls) <= 2  # one for the final text (at most one stale one in flight)
    dialog.shutdown()


def test_count_is_bounded(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(50):
        (folder / f"{i}.jpg").write_bytes(b"")
    capped = folder_count.count_images(folder, max_files=20)
    assert not capped.complete and capped.images == 20
    ticks = iter(range(100))
    timed = folder_count.count_images(tmp_path, max_seconds=0.5, clock=lambda: next(ticks))
    assert not timed.complete
    full = folder_count.count_images(folder)
    assert full.complete and full.images == 50


def test_capped_count_says_more_than(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(
        new_project_dialog,
        "_count",
        lambda f, r: folder_count.FolderCount(images=321, complete=False, visited=10_000),
    )
    dialog = NewProjectDialog(tmp_path)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.last_count is not None, timeout=WAIT_MS)
    assert "More than 321 images" in dialog.info.text()
    dialog.shutdown()


def test_root_and_home_need_confirmation(qtbot, tmp_path, monkeypatch):
    created: list[Path] = []
    monkeypatch.setattr(
        ProjectStore, "create", classmethod(lambda cls, f, *a, **k: created.append(f))
    )
    # The count of "/" is not what this test is about: answer at once.
    monkeypatch.setattr(
        new_project_dialog, "_count", lambda f, r: folder_count.FolderCount(10232, False, 10_000)
    )
    asked: list[tuple[str, str]] = []
    dialog = NewProjectDialog(None)
    qtbot.addWidget(dialog)
    dialog.confirm_broad = lambda folder, why: asked.append((folder, why)) or False
    with qtbot.waitSignal(dialog.counted, timeout=WAIT_MS):
        dialog.folder_edit.setText("/")
    assert "root of the file system" in dialog.info.text()
    dialog.accept()
    assert asked and "root" in asked[0][1]
    assert created == [] and dialog.result() != NewProjectDialog.DialogCode.Accepted
    assert "Not created" in dialog.info.text()
    # Home: asked as well; "yes" goes ahead.
    asked.clear()
    dialog.confirm_broad = lambda folder, why: asked.append((folder, why)) or True
    with qtbot.waitSignal(dialog.counted, timeout=WAIT_MS):
        dialog.folder_edit.setText(str(Path.home()))
    dialog.accept()
    assert asked and "home" in asked[0][1] and created == [Path.home()]
    dialog.shutdown()


def test_closing_while_a_count_is_scheduled(qtbot, tmp_path):
    dialog = NewProjectDialog(None)
    qtbot.addWidget(dialog)
    dialog.folder_edit.setText(str(tmp_path))  # the debounced count is still to come
    assert dialog._debounce.isActive()
    dialog.reject()
    # Nothing fires later onto the stopped worker (it raised "cannot schedule new futures").
    assert not dialog._debounce.isActive()
    dialog._debounce.timeout.emit()  # even a late timeout submits nothing
    assert dialog.last_count is None


def test_count_skips_what_is_not_a_regular_file(tmp_path):
    import os

    (tmp_path / "a.png").write_bytes(b"")
    os.mkfifo(tmp_path / "b.png")  # never opened (that would block), never counted
    assert folder_count.count_images(tmp_path).images == 1
