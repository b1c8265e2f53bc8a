"""Imports fill polygons the way the consumers do, keep what the files say, and report
every skip; re-imports do not duplicate; exports keep what Ultralytics keeps.

Hostile files are written by the tests themselves; pycocotools (installed) is the judge
of COCO polygons, the even-odd rule OpenCV's ``fillPoly`` applies is the judge of YOLO.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import yaml
from pycocotools import mask as mask_utils

from samdesk.core.document import AnnotationObject, ReviewState
from samdesk.core.geometry import mask_to_region, region_area, region_to_mask
from samdesk.core.images import ImageReadError, read_image
from samdesk.io._formats import join_rings
from samdesk.io.coco import import_coco
from samdesk.io.project import ProjectStore
from samdesk.io.yolo import import_yolo
from tests.io.conftest import write_image
from tests.io.test_formats_roundtrip import make_project, project_masks, run_cli

W, H = 100, 80


def _square(x0: float, y0: float, x1: float, y1: float) -> npt.NDArray[np.float64]:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def crossing_bridge_polygon() -> list[float]:
    """A square with three holes as one flat list, bridged the way samdesk and Ultralytics
    bridge (``join_rings``): the bridges between the holes cross the tall middle hole."""
    outer = _square(5, 5, 95, 75)
    holes = [_square(60, 30, 80, 50), _square(20, 20, 40, 40), _square(45, 10, 55, 60)]
    path = join_rings([outer, *(h[::-1] for h in holes)])
    return [float(v) for v in path.ravel()]


def _coco_file(tmp_path: Path, annotations: list[dict]) -> Path:
    write_image(tmp_path / "img.png", W, H)
    data = {
        "images": [{"id": 1, "file_name": "img.png", "width": W, "height": H}],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [
            {"id": k + 1, "image_id": 1, "category_id": 1, "iscrowd": 0, **a}
            for k, a in enumerate(annotations)
        ],
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_coco_bridge_through_another_hole_is_filled_like_pycocotools(tmp_path: Path) -> None:
    flat = crossing_bridge_polygon()
    theirs = mask_utils.decode(mask_utils.frPyObjects([flat], H, W))[..., 0].astype(bool)
    assert theirs.sum() == 90 * 70 - 2 * 400 - 500  # every hole is a hole for pycocotools
    result = import_coco(_coco_file(tmp_path, [{"segmentation": [flat]}]))
    (obj,) = result.images[0].objects
    # GEOS' repair merged each doubled bridge edge into one and lost 131 of these pixels.
    assert np.array_equal(region_to_mask(obj.region, H, W), theirs)
    assert len(obj.region.parts) == 1 and len(obj.region.parts[0].holes) == 3


def test_yolo_three_parts_joined_the_ultralytics_way(tmp_path: Path) -> None:
    # Parts A (left), B (right), C (middle) joined in that order: the A→B bridge crosses C.
    a, b, c = _square(5, 30, 25, 50), _square(75, 30, 95, 50), _square(40, 20, 60, 40)
    truth = np.zeros((H, W), dtype=bool)
    truth[30:50, 5:25] = truth[30:50, 75:95] = truth[20:40, 40:60] = True
    assert truth.sum() == 1200  # the old repair gave 1,275
    line = join_rings([a, b, c]) / [W, H]
    (tmp_path / "images").mkdir()
    write_image(tmp_path / "images" / "x.png", W, H)
    (tmp_path / "labels").mkdir()
    text = "0 " + " ".join(f"{v:.6f}" for v in line.ravel()) + "\n"
    (tmp_path / "labels" / "x.txt").write_text(text, encoding="utf-8")
    (obj,) = import_yolo(tmp_path).images[0].objects
    assert np.array_equal(region_to_mask(obj.region, H, W), truth)
    assert len(obj.region.parts) == 3


def test_yolo_label_with_a_byte_order_mark_keeps_its_first_line(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    write_image(tmp_path / "images" / "x.png", W, H)
    (tmp_path / "labels").mkdir()
    lines = "0 0.5 0.5 0.2 0.2\n0 0.1 0.1 0.1 0.1\n"
    (tmp_path / "labels" / "x.txt").write_bytes(b"\xef\xbb\xbf" + lines.encode())
    result = import_yolo(tmp_path)
    assert len(result.images[0].objects) == 2
    assert not [w for w in result.warnings if "x.txt" in w]


def test_zero_area_polygon_is_reported_with_its_place(tmp_path: Path) -> None:
    flat_line = [10.0, 10.0, 20.0, 20.0, 30.0, 30.0]
    good = [float(v) for v in _square(50, 10, 60, 20).ravel()]
    result = import_coco(_coco_file(tmp_path, [{"segmentation": [flat_line, good]}]))
    assert len(result.images[0].objects) == 1
    assert "c.json: annotations[0]: polygon 0 has zero area, dropped" in result.warnings


def test_iscrowd_is_kept_through_import_project_and_export(tmp_path: Path, capsys) -> None:
    crowd = np.zeros((H, W), dtype=np.uint8)
    crowd[10:30, 10:50] = 1
    rle = mask_utils.encode(np.asfortranarray(crowd))
    source = _coco_file(
        tmp_path,
        [{"segmentation": {"size": [H, W], "counts": rle["counts"].decode()}, "iscrowd": 1}],
    )
    project = tmp_path / "p"
    assert run_cli("import", str(project), "--format", "coco", "--from", str(source)) == 0
    store = ProjectStore.open(project)
    (obj,) = store.load_image_annotations(0).objects
    assert obj.crowd
    out = tmp_path / "again.json"
    assert run_cli("export", str(project), "--format", "coco", "--out", str(out)) == 0
    (ann,) = json.loads(out.read_text(encoding="utf-8"))["annotations"]
    assert ann["iscrowd"] == 1
    decoded = mask_utils.decode({"size": [H, W], "counts": ann["segmentation"]["counts"]})
    assert np.array_equal(decoded, crowd)


def test_re_importing_a_coco_export_adds_nothing(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "project"
    store = make_project(folder)
    # A simplified (SAM-like) holed outline: exported as RLE, traced back along pixel edges.
    rows, cols = np.mgrid[0:48, 0:64]
    ring = ((cols - 40) ** 2 + (rows - 12) ** 2 < 81) & ((cols - 40) ** 2 + (rows - 12) ** 2 > 9)
    record = store.load_image_annotations("truck.png")
    record.objects.append(AnnotationObject(1, mask_to_region(ring, tolerance=0.5)))
    store.save_image(record)
    before = project_masks(folder)
    out = tmp_path / "x.json"
    assert run_cli("export", str(folder), "--format", "coco", "--out", str(out)) == 0
    capsys.readouterr()
    code = run_cli(
        "import", str(folder), "--format", "coco", "--from", str(out), "--image-root", str(folder)
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "imported 2 images, 0 objects" in printed
    assert "truck.png: object 1 of the file covers the same pixels" in printed
    assert project_masks(folder) == before


def test_yolo_keeps_distinct_polygons_with_the_same_class_and_box(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    store = make_project(folder)
    record = store.load_image_annotations("truck.png")
    first = np.zeros((48, 64), dtype=bool)
    first[40:46, 20:30] = True
    second = first.copy()
    second[42:44, 22:28] = False  # same box, other pixels
    record.objects += [AnnotationObject(1, mask_to_region(m)) for m in (first, second, first)]
    store.save_image(record)
    out = tmp_path / "yolo"
    assert run_cli("export", str(folder), "--format", "yolo-seg", "--out", str(out)) == 0
    lines = (out / "labels" / "train" / "truck.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6  # 4 objects + first + second; the exact copy of first is dropped
    report = (out / "export-report.txt").read_text(encoding="utf-8")
    assert "truck.png #7 (cat): exact duplicate of another object's line" in report
    assert "truck.png #6 (cat): same class and box as truck.png #5 (cat); kept" in report


def test_coco_export_skips_missing_and_truncated_images(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    store = make_project(folder)
    write_image(folder / "broken.png", 30, 20)
    data = (folder / "broken.png").read_bytes()
    (folder / "broken.png").write_bytes(data[: len(data) // 2])  # the viewer refuses it
    from PIL import Image

    Image.new("RGB", (300, 200), (200, 30, 30)).save(folder / "cut.jpg", quality=95)
    data = (folder / "cut.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) * 2 // 3])  # a cut-off download
    write_image(folder / "gone.png", 30, 20)
    store.add_images([folder / "broken.png", folder / "cut.jpg", folder / "gone.png"])
    store.save_project()
    (folder / "gone.png").unlink()
    out = tmp_path / "x.json"
    assert run_cli("export", str(folder), "--format", "coco", "--out", str(out)) == 0
    names = [i["file_name"] for i in json.loads(out.read_text(encoding="utf-8"))["images"]]
    assert sorted(names) == ["sub/field.png", "truck.png"]
    report = (tmp_path / "x-export-report.txt").read_text(encoding="utf-8")
    assert "gone.png: image file not found" in report
    assert "broken.png: image cannot be read" in report
    assert "cut.jpg: image cannot be read" in report
    with pytest.raises(ImageReadError):  # the viewer refuses the same files
        read_image(folder / "cut.jpg")


def test_split_dataset_re_exports_without_nesting(tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    for split, name in (("train", "a.png"), ("train", "b.png"), ("val", "c.png")):
        write_image(dataset / "images" / split / name, 32, 24)
        label = dataset / "labels" / split / name.replace(".png", ".txt")
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("0 0.5 0.5 0.25 0.25\n", encoding="utf-8")
    data = {"train": "images/train", "val": "images/val", "names": {0: "thing"}}
    (dataset / "data.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    project = tmp_path / "p"
    assert run_cli("import", str(project), "--format", "yolo", "--from", str(dataset)) == 0
    store = ProjectStore.open(project)
    splits = {
        Path(r.path).name: store.load_image_annotations(i).split
        for i, r in enumerate(store.project.images)
    }
    assert splits == {"a.png": "train", "b.png": "train", "c.png": "val"}
    out = tmp_path / "again"
    assert run_cli("export", str(project), "--format", "yolo-det", "--out", str(out)) == 0
    images = sorted(p.relative_to(out).as_posix() for p in (out / "images").rglob("*.png"))
    assert images == ["images/train/a.png", "images/train/b.png", "images/val/c.png"]
    written = yaml.safe_load((out / "data.yaml").read_text(encoding="utf-8"))
    assert written["val"] == "images/val" and written["train"] == "images/train"


def test_data_yaml_survives_moving_the_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    make_project(folder)
    out = tmp_path / "yolo"
    assert run_cli("export", str(folder), "--format", "yolo-seg", "--out", str(out)) == 0
    data = yaml.safe_load((out / "data.yaml").read_text(encoding="utf-8"))
    # Ultralytics' check_det_dataset: path = data.get("path") or the yaml's folder. With no
    # "path" the moved folder is its own root; an absolute path would point at the old place.
    assert "path" not in data
    moved = tmp_path / "elsewhere" / "yolo"
    moved.parent.mkdir()
    out.rename(moved)
    result = import_yolo(moved / "data.yaml")
    assert result.image_root == moved and len(result.images) == 2
    assert not [w for w in result.warnings if "not found" in w]


@pytest.mark.parametrize("fmt", ["coco", "yolo-seg"])
def test_real_multi_part_mask_comes_back_exactly(fmt: str, tmp_path: Path) -> None:
    folder = tmp_path / "project"
    store = make_project(folder)
    rng = np.random.default_rng(7)
    blobs = rng.random((48, 64)) > 0.8  # many parts, holes, diagonal contacts
    blobs[:, :32] = False
    record = store.load_image_annotations("truck.png")
    record.objects = [AnnotationObject(1, mask_to_region(blobs))]
    store.save_image(record)
    out = tmp_path / ("x.json" if fmt == "coco" else "yolo")
    args = ["--segmentation", "polygon"] if fmt == "coco" else []
    assert run_cli("export", str(folder), "--format", fmt, "--out", str(out), *args) == 0
    back = tmp_path / "back"
    source = ["--from", str(out)]
    if fmt == "coco":
        source += ["--image-root", str(folder)]
    assert run_cli("import", str(back), "--format", fmt.split("-")[0], *source) == 0
    masks = project_masks(back)["truck.png"]
    assert masks == [("cat", blobs.tobytes())]
    assert region_area(mask_to_region(blobs)) == blobs.sum()


def test_only_done_still_works_with_the_new_formats(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    store = make_project(folder)
    store.set_state("truck.png", ReviewState.DONE)
    out = tmp_path / "m"
    assert (
        run_cli("export", str(folder), "--format", "masks-png", "--out", str(out), "--only-done")
        == 0
    )
    assert [p.name for p in (out / "SegmentationClass").rglob("*.png")] == ["truck.png"]
    assert (out / "classes.txt").read_text(encoding="utf-8") == "background\ncat\ndog\n"
