"""Issue #12 in the window's Export dialog: "Replace a previous export" cannot destroy data."""

from __future__ import annotations

from pathlib import Path

from samdesk.io.project import ProjectStore
from samdesk.ui.export_dialog import ExportDialog
from tests.ui.conftest import WAIT_MS


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_replace_export_with_the_project_folder_is_refused(qtbot, project: Path) -> None:
    for rel, text in (("images/notes.txt", "mine"), ("labels/notes.txt", "also mine")):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    before = _files(project)
    dialog = ExportDialog(ProjectStore.open(project).path)
    qtbot.addWidget(dialog)
    dialog.set_format("yolo-seg")
    # The default folder is beside the project, not in it; it exports.
    default = Path(dialog.out_edit.text())
    assert project not in default.parents
    with qtbot.waitSignal(dialog.finished_export, timeout=WAIT_MS) as done:
        assert dialog.start()
    assert done.args[1], done.args[0]
    assert (default / "data.yaml").is_file() and (default / ".samdesk-export.json").is_file()
    # "Replace a previous export in that folder" with the project folder itself.
    dialog.out_edit.setText(str(project))
    dialog.overwrite.setChecked(True)
    with qtbot.waitSignal(dialog.finished_export, timeout=WAIT_MS) as done:
        assert dialog.start()
    text, ok = done.args
    assert not ok and "inside the project folder" in text
    assert "inside the project folder" in dialog.summary.toPlainText()
    assert _files(project) == before
    dialog.done(0)
