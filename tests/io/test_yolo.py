"""YOLO export/import, checked against Ultralytics' documented dataset rules.

Ultralytics itself is not installed (it pulls torch); ``_check_dataset`` re-implements
the checks its loader applies: ``check_det_dataset`` (data.yaml keys, names),
``img2label_paths`` (label file of an image) and ``verify_image_label`` (columns,
normalised coordinates, class ids < nc, no duplicate rows).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import shapely
import yaml
from pycocotools import mask as mask_utils

from samdesk.core.document import AnnotationObject, ImageRecord, Project
from samdesk.core.geometry import region_bbox, region_to_mask, region_to_shapely
from samdesk.io.yolo import FormatError, export_yolo, import_yolo

Sample = tuple[Path, Project]
MakeImage = Callable[[Path, int, int], Path]
IMG_FORMATS = {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"}


# --------------------------------------------------------------------------- the checker


def _img2label(image_path: str) -> str:
    """ultralytics.data.utils.img2label_paths for one path."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return sb.join(image_path.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"


def _verify_label(label: Path, nc: int, task: str) -> list[list[float]]:
    """The rules of verify_image_label for one label file; returns its rows."""
    rows = [x.split() for x in label.read_text(encoding="utf-8").strip().splitlines() if len(x)]
    if not rows:
        return []
    if task == "segment":
        assert all(len(r) >= 7 and len(r) % 2 == 1 for r in rows), label
    else:
        assert all(len(r) == 5 for r in rows), label
    values = [[float(v) for v in r] for r in rows]
    boxes = []
    for v in values:
        assert v[0] == int(v[0]) and 0 <= v[0] < nc, (label, v[0])
        points = np.array(v[1:], dtype=np.float32)
        assert points.min() >= 0.0 and points.max() <= 1.0, label  # stricter than 1 %
        if task == "segment":  # segments2boxes: the box Ultralytics de-duplicates on
            xy = points.reshape(-1, 2)
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            points = np.concatenate([(lo + hi) / 2, hi - lo])
        boxes.append(np.concatenate([[v[0]], points]).astype(np.float32))
    assert len(np.unique(np.array(boxes), axis=0)) == len(boxes), f"{label}: duplicate rows"
    return values


def _check_dataset(out: Path, task: str) -> dict[str, list[list[float]]]:
    """Check a dataset folder the way Ultralytics loads it; returns rows per image."""
    data = yaml.safe_load((out / "data.yaml").read_text(encoding="utf-8"))
    assert {"train", "val", "names"} <= data.keys()
    # No "path": Ultralytics' check_det_dataset then takes the yaml's folder as the root,
    # so the dataset survives being moved (an absolute path would not).
    assert "path" not in data
    names = data["names"]
    assert isinstance(names, dict) and list(names) == list(range(len(names)))
    root = out
    rows: dict[str, list[list[float]]] = {}
    for split in ("train", "val"):
        folder = root / data[split]
        assert folder.is_dir(), split
        for image in sorted(folder.rglob("*.*")):
            if image.suffix.lower().lstrip(".") not in IMG_FORMATS:
                continue
            label = Path(_img2label(str(image)))
            assert label.is_file(), f"no label file for {image}"
            rows[image.relative_to(root).as_posix()] = _verify_label(label, len(names), task)
    images = list((root / "images").rglob("*.*"))
    labels = list((root / "labels").rglob("*.txt"))
    assert len(images) == len(labels), "every image has its own label file"
    return rows


def _export(sample: Sample, tmp_path: Path, **kwargs: object) -> tuple[Path, object]:
    folder, project = sample
    out = tmp_path / "dataset"
    report = export_yolo(project, project.images, out, project_dir=folder, **kwargs)
    return out, report


def _polygon_mask(values: list[float], width: int, height: int) -> npt.NDArray[np.bool_]:
    """pycocotools' even-odd fill of one denormalised segment line (our convention)."""
    xy = (np.array(values[1:]).reshape(-1, 2) * [width, height]).ravel().tolist()
    return mask_utils.decode(mask_utils.frPyObjects([xy], height, width))[..., 0].astype(bool)


def _iou(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


# --------------------------------------------------------------------------- export


def test_export_segment_follows_ultralytics_rules(sample_project: Sample, tmp_path: Path) -> None:
    folder, project = sample_project
    out, report = _export(sample_project, tmp_path)
    assert report.skipped == []
    assert (report.images, report.objects) == (3, 7)
    data = yaml.safe_load((out / "data.yaml").read_text(encoding="utf-8"))
    assert data["names"] == {0: "cat", 1: "dog"}  # our ids 3 and 7, remapped
    assert data["train"] == data["val"] == "images/train"  # no split asked for
    rows = _check_dataset(out, "segment")
    assert set(rows) == {"images/train/a.png", "images/train/sub/b.png", "images/train/c.png"}
    assert rows["images/train/c.png"] == []  # a background image: empty label file
    for record in project.images:
        lines = rows[f"images/train/{record.path}"]
        assert [int(v[0]) for v in lines] == [{3: 0, 7: 1}[o.class_id] for o in record.objects]
        for obj, values in zip(record.objects, lines, strict=True):
            ours = region_to_mask(obj.region, record.height, record.width)
            iou = _iou(_polygon_mask(values, record.width, record.height), ours)
            assert iou >= (0.98 if obj.id != "triangle" else 0.95), (obj.id, iou)
    copied = out / "images" / "train" / "sub" / "b.png"
    assert not copied.is_symlink() and os.stat(copied).st_nlink == 1
    assert copied.read_bytes() == (folder / "sub" / "b.png").read_bytes()
    joined = [w for w in report.warnings if "zero-width bridges" in w]
    assert len(joined) == 3  # holed, two_parts, diagonal


def test_holes_survive_opencv_fill(sample_project: Sample, tmp_path: Path) -> None:
    """Ultralytics builds training masks with cv2.fillPoly: bridged holes stay holes."""
    out, _ = _export(sample_project, tmp_path)
    line = (out / "labels" / "train" / "a.txt").read_text(encoding="utf-8").splitlines()[0]
    xy = np.array(line.split()[1:], dtype=np.float64).reshape(-1, 2) * [40, 30]
    # OpenCV puts pixel centres on integers: shift by half a pixel, 4 fractional bits.
    points = np.round((xy - 0.5) * 16).astype(np.int32)
    mask = np.zeros((30, 40), dtype=np.uint8)
    cv2.fillPoly(mask, [points], 1, shift=4)
    holed = region_to_mask(sample_project[1].images[0].objects[0].region, 30, 40)
    assert not mask[7:9, 6:8].any()  # inside the hole
    assert mask[holed].all()  # and all of the object is filled


def test_export_detect_boxes(sample_project: Sample, tmp_path: Path) -> None:
    out, report = _export(sample_project, tmp_path, task="detect")
    rows = _check_dataset(out, "detect")
    record = sample_project[1].images[0]
    for obj, (_, xc, yc, w, h) in zip(record.objects, rows["images/train/a.png"], strict=True):
        x0, y0, x1, y1 = region_bbox(obj.region)
        expected = [(x0 + x1) / 80, (y0 + y1) / 60, (x1 - x0) / 40, (y1 - y0) / 30]
        assert [xc, yc, w, h] == pytest.approx(expected, abs=1e-6)
    # Nothing is bridged or joined for boxes; the one note is that only boxes are kept.
    assert report.warnings == [
        "YOLO detection keeps boxes only: outlines, holes, parts are not kept"
    ]


def test_split_is_deterministic(sample_project: Sample, tmp_path: Path) -> None:
    folder, project = sample_project
    for k in range(6):  # more images, so that both splits get several
        shutil.copy(folder / "c.png", folder / f"extra{k}.png")
        project.images.append(ImageRecord(f"extra{k}.png", 16, 12))
    splits = []
    for attempt in range(2):
        out = tmp_path / f"d{attempt}"
        export_yolo(project, project.images, out, project_dir=folder, val_fraction=0.3, seed=4)
        rows = _check_dataset(out, "segment")
        splits.append(sorted(rows))
    assert splits[0] == splits[1]
    val = [p for p in splits[0] if p.startswith("images/val/")]
    assert len(val) == 3 and len(splits[0]) == 9
    data = yaml.safe_load((tmp_path / "d0" / "data.yaml").read_text(encoding="utf-8"))
    assert data["val"] == "images/val"


def test_awkward_paths_get_their_own_label_files(
    sample_project: Sample, tmp_path: Path, make_image: MakeImage
) -> None:
    folder, project = sample_project
    for name in ("images/x.png", "x.png", "x.jpg", "X.PNG"):
        make_image(folder / name, 12, 12)
        project.images.append(ImageRecord(name, 12, 12))
    make_image(folder / "anim.gif", 12, 12)
    project.images += [ImageRecord("anim.gif"), ImageRecord("gone.png", 12, 12)]
    out, report = _export(sample_project, tmp_path)
    rows = _check_dataset(out, "segment")  # each image has the label Ultralytics looks for
    assert len(rows) == 7
    assert "images/train/images_/x.png" in rows
    reasons = sorted(s.reason for s in report.skipped)
    assert reasons == ["image file not found", "image format '.gif' not supported by YOLO"]


def test_duplicate_objects_skipped(sample_project: Sample, tmp_path: Path) -> None:
    record = sample_project[1].images[0]
    record.objects.append(AnnotationObject(3, record.objects[0].region, id="copy"))
    _, report = _export(sample_project, tmp_path)
    assert [(s.object_id, s.reason) for s in report.skipped] == [
        ("copy", "exact duplicate of another object's line")
    ]


def test_existing_dataset_needs_overwrite(sample_project: Sample, tmp_path: Path) -> None:
    out, _ = _export(sample_project, tmp_path)
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(FormatError, match="already holds a dataset"):
        _export(sample_project, tmp_path)
    sample_project[1].images.pop()  # c.png
    _export(sample_project, tmp_path, overwrite=True)
    assert not (out / "images" / "train" / "c.png").exists()
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("task", ["segment", "detect"])
def test_round_trip(sample_project: Sample, tmp_path: Path, task: str) -> None:
    out, _ = _export(sample_project, tmp_path, task=task)
    first = import_yolo(out)
    assert first.warnings == []
    assert [(c.id, c.name) for c in first.classes] == [(0, "cat"), (1, "dog")]
    originals = {r.path: r for r in sample_project[1].images}
    for record in first.images:
        original = originals[record.path.removeprefix("images/train/")]
        assert (record.width, record.height) == (original.width, original.height)
        assert len(record.objects) == len(original.objects)
        for obj, new in zip(original.objects, record.objects, strict=True):
            expected = region_to_shapely(obj.region)
            if task == "detect":
                expected = shapely.box(*region_bbox(obj.region))
            got = region_to_shapely(new.region)
            # within the normalisation precision (6 decimals of the image size)
            assert shapely.symmetric_difference(expected, got).area < 1e-3, obj.id
            assert len(new.region.parts) == (1 if task == "detect" else len(obj.region.parts))
    # export → import → export → import is stable
    project = Project(classes=first.classes, images=first.images)
    again_dir = tmp_path / "again"
    export_yolo(project, first.images, again_dir, project_dir=out, task=task)
    again = import_yolo(again_dir / "data.yaml")
    for a, b in zip(first.images, again.images, strict=True):
        for oa, ob in zip(a.objects, b.objects, strict=True):
            sym = shapely.symmetric_difference(
                region_to_shapely(oa.region), region_to_shapely(ob.region)
            )
            assert sym.area < 1e-3


# --------------------------------------------------------------------------- import


def _dataset(root: Path, make_image: MakeImage, names: object, labels: str) -> Path:
    make_image(root / "images" / "train" / "p.png", 20, 10)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "p.txt").write_text(labels, encoding="utf-8")
    text = yaml.safe_dump({"train": "images/train", "val": "images/train", "names": names})
    (root / "data.yaml").write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize("names", [["a", "b"], {0: "a", 1: "b"}])
def test_import_names_list_or_dict(tmp_path: Path, make_image: MakeImage, names: object) -> None:
    labels = "1 0.5 0.5 0.5 0.2\n0 0.1 0.1 0.4 0.1 0.4 0.9 0.1 0.9\n"
    result = import_yolo(_dataset(tmp_path, make_image, names, labels))
    assert result.warnings == []
    assert [(c.id, c.name) for c in result.classes] == [(0, "a"), (1, "b")]
    record = result.images[0]
    assert record.path == "images/train/p.png"
    box, polygon = record.objects
    assert box.class_id == 1 and region_bbox(box.region) == pytest.approx((5, 4, 15, 6))
    assert polygon.class_id == 0
    expected = np.zeros((10, 20), dtype=bool)
    expected[1:9, 2:8] = True
    assert np.array_equal(region_to_mask(polygon.region, 10, 20), expected)


def test_import_malformed_lines_are_warnings(tmp_path: Path, make_image: MakeImage) -> None:
    labels = "\n".join(
        [
            "0 0.5 0.5 0.2 0.2",  # 1: fine
            "0 0.5 0.5 0.2",  # 2: 4 values
            "0 0.1 0.1 0.5 0.1 0.5",  # 3: 6 values
            "x 0.5 0.5 0.2 0.2",  # 4: not a number
            "5 0.5 0.5 0.2 0.2",  # 5: class not in names
            "1 0.5 0.5 1.4 0.2",  # 6: out of range, clipped
            "0 0.5 0.5 0.2 0.2",  # 7: duplicate of line 1
            "0.5 0.5 0.5 0.2 0.2",  # 8: class not an integer
        ]
    )
    root = _dataset(tmp_path, make_image, ["a", "b"], labels)
    result = import_yolo(root)
    label = root / "labels" / "train" / "p.txt"
    expected = [
        f"{label}:2: expected 5 values",
        f"{label}:3: expected 5 values",
        f"{label}:4: not a number: 'x'",
        f"{label}:5: class 5 not in data.yaml names",
        f"{label}:6: coordinates outside [0, 1], clipped",
        f"{label}:7: duplicate line",
        f"{label}:8: class must be a non-negative integer",
    ]
    assert len(result.warnings) == len(expected)
    for warning, start in zip(result.warnings, expected, strict=True):
        assert warning.startswith(start), warning
    objects = result.images[0].objects
    assert len(objects) == 2
    assert region_bbox(objects[1].region) == pytest.approx((0, 4, 20, 6))


def test_import_invalid_yaml_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "data.yaml").write_text("names: [a, b\ntrain: images\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"data\.yaml:\d+:\d+: invalid YAML") as info:
        import_yolo(tmp_path)
    assert "\n" not in str(info.value)
    (tmp_path / "data.yaml").write_text("train: images\n", encoding="utf-8")
    with pytest.raises(FormatError, match="'names' must be a list or a mapping"):
        import_yolo(tmp_path)


def test_import_without_yaml(tmp_path: Path, make_image: MakeImage) -> None:
    _dataset(tmp_path, make_image, ["a"], "2 0.5 0.5 0.2 0.2\n")
    (tmp_path / "data.yaml").unlink()
    result = import_yolo(tmp_path)
    assert [(c.id, c.name) for c in result.classes] == [(2, "class_2")]
    assert any("no data.yaml" in w for w in result.warnings)
    with pytest.raises(FormatError, match=r"no data\.yaml and no images/ folder"):
        import_yolo(tmp_path / "labels")


def test_joined_rings_fill_back_to_the_mask(tmp_path: Path, make_image: MakeImage) -> None:
    """Random many-part, holed masks: the one-line polygon fills (even-odd) to the mask."""
    from samdesk.core.document import LabelClass
    from samdesk.core.geometry import mask_to_region

    rng = np.random.default_rng(3)
    folder = tmp_path / "p"
    records = []
    for k in range(12):
        mask = cv2.dilate((rng.random((24, 31)) < 0.12).astype(np.uint8), np.ones((2, 2)))
        mask = mask.astype(bool)
        make_image(folder / f"m{k}.png", 31, 24)
        obj = AnnotationObject(0, mask_to_region(mask), id=f"m{k}")
        records.append((ImageRecord(f"m{k}.png", 31, 24, objects=[obj]), mask))
    project = Project(classes=[LabelClass(0, "blob", "#123456")], images=[r for r, _ in records])
    out = tmp_path / "d"
    export_yolo(project, project.images, out, project_dir=folder)
    for record, mask in records:
        label = out / "labels" / "train" / f"{Path(record.path).stem}.txt"
        values = [float(v) for v in label.read_text(encoding="utf-8").split()]
        assert np.array_equal(_polygon_mask(values, 31, 24), mask), record.path
