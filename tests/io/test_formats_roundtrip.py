"""Every format through ``samdesk export`` and ``samdesk import``: what comes back.

One project with the awkward objects (a square with two holes, a three-part object, one
touching the image border, one pixel) goes out through the CLI in each format and comes
back through the CLI into a new project. Where the format can express the geometry the
pixels must be identical; where it cannot, the loss must be stated in the export report,
object by object.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from samdesk.core.document import AnnotationObject, LabelClass, PolygonPart, Region
from samdesk.core.geometry import mask_to_region, region_to_mask
from samdesk.io import cli
from samdesk.io.project import ProjectStore
from tests.io.conftest import write_image

Masks = dict[str, list[tuple[str, bytes]]]


def run_cli(command: str, *argv: str) -> int:
    """Parse ``argv`` with the subcommand's own arguments and run it, like samdesk.cli."""
    parser = argparse.ArgumentParser(prog=f"samdesk {command}")
    getattr(cli, f"add_{command}_arguments")(parser)
    return getattr(cli, f"run_{command}")(parser.parse_args(list(argv)))


def _box(h: int, w: int, r0: int, r1: int, c0: int, c1: int) -> npt.NDArray[np.bool_]:
    mask = np.zeros((h, w), dtype=bool)
    mask[r0:r1, c0:c1] = True
    return mask


def awkward_masks() -> dict[str, list[tuple[str, npt.NDArray[np.bool_]]]]:
    """Image name → (class name, mask) of non-overlapping awkward objects."""
    h, w = 48, 64
    holed = _box(h, w, 2, 22, 2, 30)
    holed[6:12, 6:12] = False
    holed[8:16, 18:26] = False
    parts = _box(h, w, 26, 32, 2, 8) | _box(h, w, 26, 34, 40, 46) | _box(h, w, 28, 31, 20, 26)
    border = _box(h, w, 38, 48, 54, 64)
    pixel = _box(h, w, 40, 41, 10, 11)
    small = _box(30, 20, 3, 9, 4, 15)
    return {
        "truck.png": [("dog", holed), ("cat", parts), ("dog", border), ("cat", pixel)],
        "sub/field.png": [("cat", small)],
    }


def make_project(folder: Path) -> ProjectStore:
    """A project on disk with ``awkward_masks`` as its objects (tolerance 0: exact)."""
    write_image(folder / "truck.png", 64, 48)
    write_image(folder / "sub" / "field.png", 20, 30)
    store = ProjectStore.create(folder, classes=[LabelClass(1, "cat", "#ff0000")])
    store.project.classes.append(LabelClass(2, "dog", "#00ff00"))
    ids = {"cat": 1, "dog": 2}
    for path, objects in awkward_masks().items():
        record = store.load_image_annotations(path)
        for name, mask in objects:
            record.objects.append(AnnotationObject(ids[name], mask_to_region(mask)))
        store.save_image(record)
    store.save_project()
    return store


def project_masks(folder: Path) -> Masks:
    """Image file name → sorted (class name, mask bytes) of a project on disk."""
    store = ProjectStore.open(folder)
    names = {c.id: c.name for c in store.project.classes}
    found: Masks = {}
    for index in range(len(store.project.images)):
        record = store.load_image_annotations(index)
        key = Path(record.path).name
        found[key] = sorted(
            (names[o.class_id], region_to_mask(o.region, record.height, record.width).tobytes())
            for o in record.objects
        )
    return found


def expected(transform: str = "") -> Masks:
    """The awkward masks as a format should give them back (``transform``: "fill" holes,
    "box" everything)."""
    found: Masks = {}
    for path, objects in awkward_masks().items():
        rows = []
        for name, mask in objects:
            if transform == "fill":
                region = mask_to_region(mask)
                filled = Region(tuple(PolygonPart(p.exterior) for p in region.parts))
                mask = region_to_mask(filled, *mask.shape)
            elif transform == "box":
                ys, xs = np.nonzero(mask)
                mask = np.zeros_like(mask)
                mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] = True
            rows.append((name, mask.tobytes()))
        found[Path(path).name] = sorted(rows)
    return found


EXPORTS = {
    # format → (export --out relative to tmp, import --format, import --from, expected)
    "coco": ("out/data.json", "coco", "out/data.json", ""),
    "yolo-seg": ("out/yolo", "yolo", "out/yolo", ""),
    "yolo-det": ("out/yolo", "yolo", "out/yolo", "box"),
    "labelme": ("out/labelme", "labelme", "out/labelme", "fill"),
    "masks-png": ("out/masks", "masks-png", "out/masks", ""),
    "voc": ("out/voc", "voc", "out/voc", "box"),
}


@pytest.mark.parametrize("fmt", sorted(EXPORTS))
def test_round_trip_through_the_cli(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "project"
    make_project(folder)
    out, import_format, source, transform = EXPORTS[fmt]
    assert run_cli("export", str(folder), "--format", fmt, "--out", str(tmp_path / out)) == 0
    printed = capsys.readouterr().out
    assert "exported 2 images, 5 objects; skipped 0 images, 0 objects" in printed
    args = ["--image-root", str(folder)] if import_format == "coco" else []
    back = tmp_path / "back"
    code = run_cli(
        "import", str(back), "--format", import_format, "--from", str(tmp_path / source), *args
    )
    assert code == 0, capsys.readouterr()
    assert "imported 2 images, 5 objects" in capsys.readouterr().out
    assert project_masks(back) == expected(transform)
    if transform != "box":  # the one-pixel object and the border object are exact too
        assert project_masks(back) == project_masks(folder) or transform == "fill"

    # The report beside the export names each object whose geometry was changed.
    report_file = (
        tmp_path / "out" / "data-export-report.txt"
        if fmt == "coco"
        else tmp_path / out / "export-report.txt"
    )
    report = report_file.read_text(encoding="utf-8")
    assert report.startswith("samdesk export report")
    assert f"format: {fmt}" in report
    if fmt == "labelme":
        assert "truck.png #1 (dog): 2 hole(s) filled: LabelMe has no holes" in report
    if fmt == "yolo-seg":
        assert "truck.png #1 (dog): 1 parts / 2 holes joined into one polygon" in report
        assert "truck.png #2 (cat): 3 parts / 0 holes joined into one polygon" in report
    if fmt == "voc":
        assert "Pascal VOC keeps boxes only" in report
        assert "truck.png #2 (cat): written as one box around its parts/holes" in report


def test_re_export_into_the_same_folder_needs_overwrite(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    make_project(folder)
    for fmt in ("labelme", "masks-png", "voc"):
        out = str(tmp_path / fmt)
        assert run_cli("export", str(folder), "--format", fmt, "--out", out) == 0
        assert run_cli("export", str(folder), "--format", fmt, "--out", out) == 1
        assert run_cli("export", str(folder), "--format", fmt, "--out", out, "--overwrite") == 0


def test_report_file_never_replaces_a_file_samdesk_did_not_write(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    make_project(folder)
    out = tmp_path / "voc"
    out.mkdir()
    mine = out / "export-report.txt"
    mine.write_text("my own notes\n", encoding="utf-8")
    assert run_cli("export", str(folder), "--format", "voc", "--out", str(out)) == 0
    assert mine.read_text(encoding="utf-8") == "my own notes\n"


@pytest.mark.parametrize("fmt", ["labelme", "masks-png", "voc"])
def test_overwrite_never_deletes_a_dataset_samdesk_did_not_write(fmt: str, tmp_path: Path) -> None:
    folder = tmp_path / "project"
    make_project(folder)
    out = tmp_path / "theirs"
    # Someone's own dataset using the same names (a VOC download, a LabelMe folder).
    for name in ("JPEGImages/truck.png", "SegmentationClass/truck.png", "truck.png"):
        write_image(out / name, 8, 8)
    (out / "truck.json").write_text("{}", encoding="utf-8")
    (out / "Annotations").mkdir()
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    code = run_cli("export", str(folder), "--format", fmt, "--out", str(out), "--overwrite")
    assert code == 1
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before


def test_real_samdesk_processes_round_trip_every_new_format(tmp_path: Path) -> None:
    """``python -m samdesk export`` / ``import`` as the user types them, one process each."""
    import os
    import subprocess
    import sys

    folder = tmp_path / "project"
    make_project(folder)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def samdesk(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "samdesk", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)

    for fmt, transform in (("labelme", "fill"), ("masks-png", ""), ("voc", "box")):
        out = tmp_path / fmt
        done = samdesk("export", str(folder), "--format", fmt, "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert f"report: {out / 'export-report.txt'}" in done.stdout
        back = tmp_path / f"back-{fmt}"
        done = samdesk("import", str(back), "--format", fmt, "--from", str(out))
        assert done.returncode == 0, done.stderr
        assert project_masks(back) == expected(transform)
