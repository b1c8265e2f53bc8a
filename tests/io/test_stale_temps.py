"""Leftovers of crashed atomic writes are removed when the project opens (issue #12).

The temporary files come from real crashes: a child process saves and dies (``os._exit``)
between writing its temporary file and renaming it. Only those names, in samdesk's own
folders, and only once they are an hour old, are removed — nothing of the user's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from PIL import Image

from samdesk.io.project import ProjectStore
from tests.conftest import REPO_ROOT

HOUR = 3600

# Saves image a.png's annotations and the project file; dies at each rename.
_CRASH_WHILE_SAVING = textwrap.dedent(
    """
    import os, sys
    from samdesk.io.project import ProjectStore

    store = ProjectStore.open(sys.argv[1])
    what = sys.argv[2]
    os.replace = lambda *args: os._exit(3)  # the power cut, between write and rename
    if what == "annotations":
        record = store.load_image_annotations("a.png")
        record.state = record.state.__class__("done")
        store.save_image(record)
    else:
        store.save_project()
    """
)


def _crash(project: Path, what: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _CRASH_WHILE_SAVING, str(project), what],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def _temps(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.endswith(".tmp")}


def test_stale_temporaries_of_crashed_saves_are_removed_on_open(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (20, 10), (1, 2, 3)).save(project / name)
    store = ProjectStore.create(project, "p")
    annotations = store.annotations_dir
    _crash(project, "annotations")
    _crash(project, "project")
    _crash(project, "annotations")  # a second one, left young (a writer still at work)
    stale_annotation, young_annotation = sorted(_temps(annotations), key=lambda n: n)[:2]
    (stale_project,) = _temps(project)
    assert stale_project.startswith(".p.samdesk.yaml.")
    for name in (stale_annotation,):
        _age(annotations / name, 2 * HOUR)
    _age(project / stale_project, 2 * HOUR)
    young = annotations / young_annotation

    # Things that are the user's, or not samdesk's temporary names: never touched.
    user_files = {
        project / ".notes.tmp": b"user",
        project / ".a.png.0123abcd.tmp": b"not the project file's temp name",
        project / "p.samdesk.yaml.0123abcd.tmp": b"no leading dot",
        annotations / ".a.yaml.0123abcd.tmp.bak": b"user backup",
        annotations / ".a.yaml.XYZ.tmp": b"not 8 hex digits",
    }
    for path, data in user_files.items():
        path.write_bytes(data)
        _age(path, 2 * HOUR)
    looks_like_temp_dir = annotations / ".b.yaml.89abcdef.tmp"
    looks_like_temp_dir.mkdir()
    _age(looks_like_temp_dir, 2 * HOUR)
    target = tmp_path / "outside.txt"
    target.write_text("the user's")
    link = annotations / ".c.yaml.fedcba98.tmp"
    link.symlink_to(target)
    _age(link, 2 * HOUR)

    # A read-only open (preview of a shared project) writes and deletes nothing.
    ProjectStore.open(project, read_only=True)
    assert (annotations / stale_annotation).exists() and (project / stale_project).exists()

    reopened = ProjectStore.open(project)
    assert not (annotations / stale_annotation).exists()
    assert not (project / stale_project).exists()
    assert young.exists()  # an hour has not passed: maybe another samdesk is writing it
    for path, data in user_files.items():
        assert path.read_bytes() == data
    assert looks_like_temp_dir.is_dir() and link.is_symlink()
    assert target.read_text() == "the user's"
    # The crashed saves changed nothing: the previous versions are what opens.
    assert reopened.load_image_annotations("a.png").state.value == "new"
