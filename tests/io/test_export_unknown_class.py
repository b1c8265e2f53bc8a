"""Objects whose class is not in the project's classes (old projects have such "? (id 7)"
objects) are named in every export's report, never dropped without a word."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samdesk.core.document import AnnotationObject, LabelClass
from samdesk.core.geometry import mask_to_region
from samdesk.io import cli
from samdesk.io.export import FORMATS
from samdesk.io.project import ProjectStore

REASON = "its class id 7 is not in the project's classes"


def _old_project(folder: Path) -> Path:
    """truck.png with object #1 of class 1 "car" and #2 of class 7, which the project file
    no longer lists (as in a project whose class was removed by an old version)."""
    folder.mkdir(parents=True)
    Image.fromarray(np.full((30, 40, 3), 90, dtype=np.uint8)).save(folder / "truck.png")
    store = ProjectStore.create(
        folder, classes=[LabelClass(1, "car", "#ff0000"), LabelClass(7, "truck", "#00ff00")]
    )
    record = store.load_image_annotations("truck.png")
    for class_id, (r0, c0) in ((1, (2, 2)), (7, (12, 20))):
        mask = np.zeros((30, 40), dtype=bool)
        mask[r0 : r0 + 8, c0 : c0 + 10] = True
        record.objects.append(AnnotationObject(class_id, mask_to_region(mask)))
    store.save_image(record)
    store.project.classes[:] = [c for c in store.project.classes if c.id != 7]
    store.save_project()
    reopened = ProjectStore.open(folder)
    assert [o.class_id for o in reopened.load_image_annotations("truck.png").objects] == [1, 7]
    return folder


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_names_objects_of_unknown_classes(tmp_path: Path, capsys, fmt: str) -> None:
    project = _old_project(tmp_path / "project")
    out = tmp_path / ("out.json" if fmt == "coco" else "out")
    parser = argparse.ArgumentParser(prog="samdesk export")
    cli.add_export_arguments(parser)
    args = ["export", str(project), "--format", fmt, "--out", str(out)][1:]
    assert cli.run_export(parser.parse_args(args)) == 0
    printed = capsys.readouterr().out
    assert "exported 1 images, 1 objects; skipped 0 images, 1 objects" in printed
    assert f"skipped (1): {REASON}" in printed
    report = tmp_path / "out-export-report.txt" if fmt == "coco" else out / "export-report.txt"
    lines = report.read_text(encoding="utf-8").splitlines()
    named = [line for line in lines if line.strip().startswith("truck.png #2")]
    assert len(named) == 1 and named[0].endswith(f": {REASON}"), lines
