"""Issue #12: exports never destroy data (the user's side: ``samdesk export`` processes).

Every test plants user files (photos, notes) where an export could reach them and checks
that they survive byte for byte; the killed-export tests kill a real export process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samdesk.core.document import AnnotationObject, LabelClass
from samdesk.core.geometry import mask_to_region
from samdesk.io.project import ProjectStore

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60
# Hidden working names of an export in progress (staging, aside, journal).
_WORKING = ".samdesk-export."


def _png(path: Path, seed: int, size: tuple[int, int] = (24, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def _project(folder: Path, count: int = 3) -> Path:
    """A project with ``count`` images (one object each); returns its folder."""
    for i in range(count):
        _png(folder / f"img_{i:03d}.png", i)
    store = ProjectStore.create(folder, classes=[LabelClass(0, "thing", "#ff0000")])
    for index in range(len(store.project.images)):
        record = store.load_image_annotations(index)
        mask = np.zeros((16, 24), dtype=bool)
        mask[2:9, 3 : 10 + index % 5] = True
        record.objects.append(AnnotationObject(0, mask_to_region(mask)))
        store.save_image(record)
    store.save_project()
    return folder


def _plant(folder: Path) -> dict[str, bytes]:
    """User files where a dataset's images/ and labels/ go; returns their bytes."""
    files = {
        "images/notes.txt": b"my notes about the images\n",
        "labels/notes.txt": b"label notes\n",
        "images/holiday.jpg": b"",
        "labels/train/readme.md": b"# mine\n",
    }
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".jpg"):
            Image.new("RGB", (8, 8), (200, 10, 10)).save(path, format="JPEG")
            files[rel] = path.read_bytes()
        else:
            path.write_bytes(data)
    return files


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative POSIX path → bytes), working files excluded."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(_WORKING)]
        for name in filenames:
            if name.startswith(_WORKING) and name != ".samdesk-export.json":
                continue
            path = Path(dirpath) / name
            found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


def _working(folder: Path) -> list[str]:
    """Names of an export's working files and folders left in ``folder``."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.startswith(_WORKING) and p.name != ".samdesk-export.json"
    )


def _samdesk(*argv: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m samdesk ARGV`` in a fresh process (``prelude`` runs first, to inject)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    if prelude:
        run = f"from samdesk.cli import run\nraise SystemExit(run({list(argv)!r}))"
        code = f"{textwrap.dedent(prelude)}\n{run}"
        command = [sys.executable, "-c", code]
    else:
        command = [sys.executable, "-m", "samdesk", *argv]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, cwd=REPO
    )


def _export(project: Path, out: Path, *extra: str, fmt: str = "yolo-seg", prelude: str = ""):
    return _samdesk(
        "export", str(project), "--format", fmt, "--out", str(out), *extra, prelude=prelude
    )


# --------------------------------------------------------------------------- targets refused


@pytest.mark.parametrize("where", ["project", "inside", "images-parent"])
def test_yolo_export_into_the_project_is_refused(tmp_path: Path, where: str) -> None:
    project = _project(tmp_path / "P")
    planted = _plant(project)  # the user's own images/ and labels/ folders in the project
    (project / "notes.txt").write_text("do not lose", encoding="utf-8")
    before = _snapshot(project)
    if where == "project":
        out = project
    elif where == "inside":
        out = project / "export"
    else:  # the project lives in OUT/images/: the dataset would be written over it
        project = project.rename(tmp_path / "images")
        out, before = tmp_path, _snapshot(project)
    result = _export(project, out, "--overwrite")
    assert result.returncode == 1, result.stdout
    assert result.stderr.count("\n") == 1 and "samdesk export: error:" in result.stderr
    assert "project" in result.stderr
    assert _snapshot(project) == before
    if where != "images-parent":
        assert all(_snapshot(project)[rel] == data for rel, data in planted.items())


def test_folder_with_foreign_images_folder_is_not_replaced(tmp_path: Path) -> None:
    """A home folder with images/ and labels/ (no samdesk manifest): nothing is deleted."""
    project = _project(tmp_path / "P")
    home = tmp_path / "home"
    planted = _plant(home)
    _png(home / "images" / "train" / "img_000.png", 99)  # a user photo with an export's name
    before = _snapshot(home)
    result = _export(project, home, "--overwrite")
    assert result.returncode == 1
    assert "samdesk did not write" in result.stderr
    assert _snapshot(home) == before
    assert all(before[rel] == data for rel, data in planted.items())
    assert not _working(home)


@pytest.mark.parametrize(
    "target",
    [
        "P.samdesk.yaml",
        ".samdesk/annotations/img_000.png.yaml",
        ".samdesk/export.json",
        "img_001.png",
        "notes.txt",
        "new_name.png",
    ],
)
def test_coco_output_over_project_files_is_refused(tmp_path: Path, target: str) -> None:
    project = _project(tmp_path / "P")
    (project / "notes.txt").write_text("mine", encoding="utf-8")
    before = _snapshot(project)
    assert any(rel.startswith(".samdesk/annotations/") for rel in before)
    if target.startswith(".samdesk/annotations/"):  # the real name of an annotation file
        target = next(rel for rel in before if rel.startswith(".samdesk/annotations/"))
    result = _export(project, project / target, fmt="coco")
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("samdesk export: error: ")
    assert _snapshot(project) == before
    # A JSON file inside the project folder is fine, and is replaced by the next export.
    assert _export(project, project / "coco.json", fmt="coco").returncode == 0
    assert _export(project, project / "coco.json", fmt="coco").returncode == 0


# --------------------------------------------------------------------------- replacing


def test_replacing_an_export_removes_only_what_samdesk_wrote(tmp_path: Path) -> None:
    project = _project(tmp_path / "P", count=4)
    out = tmp_path / "dataset"
    assert _export(project, out, "--val-fraction", "0.5").returncode == 0
    first = _snapshot(out)
    assert ".samdesk-export.json" in first and "data.yaml" in first
    assert any(rel.startswith("images/val/") for rel in first)
    planted = _plant(out)
    (out / "images" / "train" / "my_photo_notes.txt").write_text("x", encoding="utf-8")
    (out / "readme.txt").write_text("my dataset", encoding="utf-8")
    # Fewer images and no val split this time.
    store = ProjectStore.open(project)
    store.project.images.pop()
    store.save_project()

    result = _export(project, out, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert "exported 3 images" in result.stdout
    assert "samdesk did not write" in result.stdout  # the kept files are reported
    after = _snapshot(out)
    for rel, data in planted.items():
        assert after[rel] == data
    assert after["images/train/my_photo_notes.txt"] == b"x"
    assert after["readme.txt"] == b"my dataset"
    images = sorted(r for r in after if r.startswith("images/") and r.endswith(".png"))
    assert images == [f"images/train/img_{i:03d}.png" for i in range(3)]
    assert not (out / "images" / "val").exists()  # emptied folder of the old split pruned
    assert not _working(out)
    for i in range(3):
        assert after[f"images/train/img_{i:03d}.png"] == (project / f"img_{i:03d}.png").read_bytes()


def test_a_changed_file_of_the_previous_export_is_not_replaced(tmp_path: Path) -> None:
    project = _project(tmp_path / "P")
    out = tmp_path / "dataset"
    assert _export(project, out).returncode == 0
    label = out / "labels" / "train" / "img_001.txt"
    label.write_text("0 0.1 0.1 0.2 0.2\n", encoding="utf-8")  # the user fixed a label
    before = _snapshot(out)
    result = _export(project, out, "--overwrite")
    assert result.returncode == 1
    assert "labels/train/img_001.txt exists and samdesk did not write it" in result.stderr
    assert _snapshot(out) == before


# --------------------------------------------------------------------------- killed exports

_KILL_AFTER_FILES = """
import builtins, os, signal
real_open = builtins.open
created = 0
def open(file, mode="r", *args, **kwargs):
    # Any file opened for writing under the dataset folder counts, however the export
    # writes it; after {n} of them the process dies as under kill -9 or a power cut.
    global created
    if isinstance(file, (str, os.PathLike)) and {out!r} in os.fspath(file) and (
        "w" in mode or "x" in mode
    ):
        created += 1
        if created > {n}:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_open(file, mode, *args, **kwargs)
builtins.open = open
"""

_KILL_DURING_SWAP = """
import os, signal
from samdesk.io import export_target
original = export_target._move
count = 0
def move(source, target):
    global count
    count += 1
    if count > {n}:
        os.kill(os.getpid(), signal.SIGKILL)
    original(source, target)
export_target._move = move
"""


def _previous_export(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    project = _project(tmp_path / "P", count=6)
    out = tmp_path / "dataset"
    assert _export(project, out).returncode == 0
    _plant(out)
    store = ProjectStore.open(project)
    for index in range(len(store.project.images)):  # different labels the second time
        record = store.load_image_annotations(index)
        record.objects.pop()
        store.save_image(record)
    return project, out, _snapshot(out)


def test_killed_export_keeps_the_previous_dataset(tmp_path: Path) -> None:
    project, out, before = _previous_export(tmp_path)
    killed = _export(
        project, out, "--overwrite", prelude=_KILL_AFTER_FILES.format(n=5, out=str(out))
    )
    assert killed.returncode == -signal.SIGKILL
    assert _snapshot(out) == before  # the previous complete dataset, byte for byte
    assert _working(out)  # the half-written one
    # The next export cleans up the half-written one and replaces the dataset.
    result = _export(project, out, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert not _working(out)
    after = _snapshot(out)
    assert after["labels/train/img_000.txt"] == b""
    assert before["labels/train/img_000.txt"] != b""


@pytest.mark.parametrize("moves", [0, 7, 15])  # 13 old files aside, then the new
def test_export_killed_during_the_swap_is_rolled_back(tmp_path: Path, moves: int) -> None:
    project, out, before = _previous_export(tmp_path)
    killed = _export(project, out, "--overwrite", prelude=_KILL_DURING_SWAP.format(n=moves))
    assert killed.returncode == -signal.SIGKILL
    # The next samdesk export into the folder puts the previous dataset back first; this
    # one, without --overwrite, then refuses to touch it.
    refused = _export(project, out)
    assert refused.returncode == 1 and "already holds a dataset" in refused.stderr
    assert _snapshot(out) == before
    assert not _working(out)


def test_failed_export_changes_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    """A failure after some files (disk full) in the CLI's own process: nothing changes."""
    from samdesk.cli import run
    from samdesk.io import export_target

    project, out, before = _previous_export(tmp_path)
    original = export_target.StagedDataset.copy_file
    calls = []

    def failing(self: object, source: Path, relative: str) -> None:
        calls.append(relative)
        if len(calls) > 2:
            raise OSError(28, "No space left on device", str(out / relative))
        original(self, source, relative)

    monkeypatch.setattr(export_target.StagedDataset, "copy_file", failing)
    code = run(["export", str(project), "--format", "yolo-seg", "--out", str(out), "--overwrite"])
    assert code == 1
    assert "No space left on device" in capsys.readouterr().err
    assert _snapshot(out) == before
    assert not _working(out)


def test_export_killed_after_the_swap_is_finished_next_time(tmp_path: Path) -> None:
    project, out, before = _previous_export(tmp_path)
    prelude = """
    import os, signal
    from samdesk.io import export_target
    def die(aside):
        os.kill(os.getpid(), signal.SIGKILL)  # new manifest in place, old files aside
    export_target._delete_aside = die
    """
    killed = _export(project, out, "--overwrite", prelude=prelude)
    assert killed.returncode == -signal.SIGKILL
    new = _snapshot(out)
    assert new["labels/train/img_000.txt"] == b""  # the new dataset is the current one
    assert _working(out)  # the previous files are still aside
    refused = _export(project, out)  # the next export finishes the swap first
    assert refused.returncode == 1
    assert not _working(out)
    assert _snapshot(out) == new
    assert before["images/notes.txt"] == new["images/notes.txt"]
