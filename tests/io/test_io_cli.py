"""``samdesk export`` / ``samdesk import``: summaries, exit codes, one-line errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from pycocotools.coco import COCO

from samdesk.core.document import Project, ReviewState
from samdesk.core.geometry import region_to_mask
from samdesk.io import cli
from samdesk.io.coco import export_coco
from samdesk.io.project import ProjectStore

Sample = tuple[Path, Project]


def _run(command: str, *argv: str) -> int:
    """Parse ``argv`` with the subcommand's own arguments and run it, like samdesk.cli."""
    parser = argparse.ArgumentParser(prog=f"samdesk {command}")
    getattr(cli, f"add_{command}_arguments")(parser)
    return getattr(cli, f"run_{command}")(parser.parse_args(list(argv)))


def _import_coco(folder: Path, source: Path) -> int:
    """``samdesk import FOLDER --format coco --from SOURCE --image-root FOLDER``."""
    return _run(
        "import",
        str(folder),
        "--format",
        "coco",
        "--from",
        str(source),
        "--image-root",
        str(folder),
    )


def _coco_of(sample: Sample, tmp_path: Path) -> Path:
    """The sample project as a COCO file outside its folder (file names relative to it)."""
    path = tmp_path / "exchange" / "sample.json"
    export_coco(sample[1], sample[1].images, path)
    return path


def _masks(project: Project) -> dict[str, list[tuple[int, bytes]]]:
    return {
        r.path: sorted(
            (o.class_id, region_to_mask(o.region, r.height, r.width).tobytes()) for o in r.objects
        )
        for r in project.images
    }


def test_import_coco_creates_a_project_and_export_gives_it_back(
    sample_project: Sample, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, original = sample_project
    source = _coco_of(sample_project, tmp_path)
    code = _import_coco(folder, source)
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("imported 3 images, 7 objects into ")
    store = ProjectStore.open(folder)
    for index in range(len(store.project.images)):
        store.load_image_annotations(index)
    assert [(c.id, c.name) for c in store.project.classes] == [(3, "cat"), (7, "dog")]
    assert _masks(store.project) == _masks(original)

    # The same file again: nothing is duplicated.
    assert _import_coco(folder, source) == 0
    assert "7 objects" not in capsys.readouterr().out
    again = ProjectStore.open(folder)
    assert sum(again.object_count(i) for i in range(len(again.project.images))) == 7

    target = tmp_path / "out.json"
    assert _run("export", str(folder), "--format", "coco", "--out", str(target)) == 0
    assert "exported 3 images, 7 objects" in capsys.readouterr().out
    coco = COCO(str(target))
    assert len(coco.getAnnIds()) == 7
    assert sorted(img["file_name"] for img in coco.dataset["images"]) == [
        "a.png",
        "c.png",
        "sub/b.png",
    ]


def test_yolo_export_and_import_into_a_new_folder(
    sample_project: Sample, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = sample_project
    source = _coco_of(sample_project, tmp_path)
    assert _import_coco(folder, source) == 0
    store = ProjectStore.open(folder)
    store.set_state("a.png", ReviewState.DONE)
    store.set_state("sub/b.png", ReviewState.DONE)
    capsys.readouterr()

    dataset = tmp_path / "yolo"
    code = _run(
        "export",
        str(folder),
        "--format",
        "yolo-seg",
        "--out",
        str(dataset),
        "--only-done",
        "--val-fraction",
        "0.5",
    )
    assert code == 0
    assert "exported 2 images, 7 objects" in capsys.readouterr().out
    data = yaml.safe_load((dataset / "data.yaml").read_text(encoding="utf-8"))
    assert data["val"] == "images/val"
    assert len(list((dataset / "labels").rglob("*.txt"))) == 2

    new_project = tmp_path / "fresh"  # does not exist yet: created, images copied in
    code = _run("import", str(new_project), "--format", "yolo", "--from", str(dataset))
    assert code == 0
    assert capsys.readouterr().out.startswith("imported 2 images, 7 objects")
    fresh = ProjectStore.open(new_project)
    assert [c.name for c in fresh.project.classes] == ["cat", "dog"]
    # Imported classes get digit keys like the ones made in the app (1–9, 0).
    assert [c.key for c in fresh.project.classes] == [1, 2]
    for record in fresh.project.images:
        assert (new_project / record.path).is_file()
        assert record.path.startswith("images/")
    counts = sorted(fresh.object_count(i) for i in range(len(fresh.project.images)))
    assert counts == [2, 5]


def test_yolo_detection_export(sample_project: Sample, tmp_path: Path, capsys) -> None:
    folder, _ = sample_project
    source = _coco_of(sample_project, tmp_path)
    assert _import_coco(folder, source) == 0
    dataset = tmp_path / "det"
    assert _run("export", str(folder), "--format", "yolo-det", "--out", str(dataset)) == 0
    lines = (dataset / "labels" / "train" / "a.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5 and all(len(line.split()) == 5 for line in lines)
    # The same folder again without --overwrite is refused, with one line.
    capsys.readouterr()
    assert _run("export", str(folder), "--format", "yolo-det", "--out", str(dataset)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds a dataset" in err
    assert (
        _run("export", str(folder), "--format", "yolo-det", "--out", str(dataset), "--overwrite")
        == 0
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "{tmp}/none", "--format", "coco", "--out", "{tmp}/o.json"], "none"),
        (
            [
                "export",
                "{proj}",
                "--format",
                "yolo-seg",
                "--out",
                "{tmp}/y",
                "--val-fraction",
                "1.5",
            ],
            "--val-fraction must be in [0, 1)",
        ),
        (
            ["import", "{proj}", "--format", "coco", "--from", "{tmp}/broken.json"],
            "broken.json:2:5: invalid JSON",
        ),
        (["import", "{proj}", "--format", "yolo", "--from", "{tmp}/nowhere"], "no such file"),
    ],
)
def test_errors_are_one_line(
    sample_project: Sample,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    folder, _ = sample_project
    ProjectStore.create(folder)
    (tmp_path / "broken.json").write_text('{"images": [],\n    }', encoding="utf-8")
    argv = [a.format(tmp=tmp_path, proj=folder) for a in argv]
    assert _run(*argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"samdesk {argv[0]}: error: ")
    assert message in captured.err


def test_cli_module_is_light() -> None:
    """Building the parser must not import numpy/shapely/the formats (samdesk --help)."""
    import subprocess
    import sys

    probe = (
        "import argparse, sys\n"
        "from samdesk.io import cli\n"
        "cli.add_export_arguments(argparse.ArgumentParser())\n"
        "cli.add_import_arguments(argparse.ArgumentParser())\n"
        "heavy = [m for m in ('numpy', 'shapely', 'samdesk.io.coco', 'torch') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_summary_counts_skips(sample_project: Sample, tmp_path: Path, capsys) -> None:
    folder, _ = sample_project
    path = tmp_path / "c.json"
    data = {
        "images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 30}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 9, 1, 9, 9]]},
            {"id": 2, "image_id": 5, "category_id": 1, "segmentation": [[1, 1, 9, 1, 9, 9]]},
        ],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    code = _import_coco(folder, path)
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("imported 1 images, 1 objects")
    assert "warning: c.json: annotations[1]: unknown image id 5, skipped" in out
    store = ProjectStore.open(folder)
    record = store.load_image_annotations("a.png")
    assert np.count_nonzero(region_to_mask(record.objects[0].region, 30, 40)) > 0
