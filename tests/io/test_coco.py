"""COCO export/import, checked with the consumer's own code (pycocotools)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from samdesk.core.document import ImageRecord, PolygonPart, Project, Region
from samdesk.core.geometry import mask_to_region, region_to_mask, ring_to_flat
from samdesk.io import atomic
from samdesk.io.coco import ExportReport, FormatError, export_coco, import_coco

Sample = tuple[Path, Project]
MakeImage = Callable[[Path, int, int], Path]


def _mask_iou(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _image(project: Project, path: str) -> ImageRecord:
    return next(r for r in project.images if r.path == path)


def _export(sample: Sample, tmp_path: Path, **kwargs: Any) -> tuple[COCO, ExportReport]:
    folder, project = sample
    out = tmp_path / "out" / "coco.json"
    report = export_coco(project, project.images, out, project_dir=folder, **kwargs)
    return COCO(str(out)), report


# --------------------------------------------------------------------------- convention


def _decode_rings(rings: list[npt.NDArray[np.float64]], shift: float) -> npt.NDArray[np.bool_]:
    """pycocotools' mask of one part (exterior minus holes), coordinates shifted."""
    rles = mask_utils.frPyObjects([ring_to_flat(r + shift) for r in rings], 24, 31)
    filled = mask_utils.decode(rles).astype(bool)  # H×W×rings
    return filled[..., 0] & ~filled[..., 1:].any(axis=-1)


def test_pycocotools_needs_no_shift_for_our_polygons() -> None:
    """pycocotools' rasteriser reproduces our masks with coordinates as they are."""
    rng = np.random.default_rng(7)
    for _ in range(20):  # pixel-edge outlines: exact without a shift, +0.5 breaks them
        mask = rng.random((24, 31)) < 0.45
        region = mask_to_region(mask)
        for shift, expect_equal in ((0.0, True), (0.5, False)):
            decoded = np.zeros_like(mask)
            for part in region.parts:
                decoded |= _decode_rings([part.exterior, *part.holes], shift)
            assert np.array_equal(decoded, mask) == expect_equal, shift
    # Slanted edges: no shift gives the fewest pixels that differ from region_to_mask.
    shifts = (-0.5, -0.25, 0.0, 0.25, 0.5)
    wrong = dict.fromkeys(shifts, 0)
    for _ in range(100):
        triangle = Region((PolygonPart(rng.uniform(1, 23, size=(3, 2))),))
        ours = region_to_mask(triangle, 24, 31)
        for shift in shifts:
            wrong[shift] += int((_decode_rings([triangle.parts[0].exterior], shift) != ours).sum())
    assert min(wrong, key=wrong.__getitem__) == 0.0, wrong


# --------------------------------------------------------------------------- export


@pytest.mark.parametrize("segmentation", ["auto", "polygon", "rle"])
def test_export_masks_reproduced_by_ann_to_mask(
    sample_project: Sample, tmp_path: Path, segmentation: str
) -> None:
    coco, report = _export(sample_project, tmp_path, segmentation=segmentation)
    assert report.images == 3
    assert report.objects == 7
    assert report.skipped == []
    by_name = {img["file_name"]: img for img in coco.dataset["images"]}
    assert set(by_name) == {"a.png", "sub/b.png", "c.png"}
    for record in sample_project[1].images:
        info = by_name[record.path]
        assert (info["width"], info["height"]) == (record.width, record.height)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[info["id"]]))
        assert len(anns) == len(record.objects)
        for obj, ann in zip(record.objects, anns, strict=True):
            ours = region_to_mask(obj.region, record.height, record.width)
            theirs = coco.annToMask(ann).astype(bool)
            iou = _mask_iou(ours, theirs)
            assert iou >= 0.98, (obj.id, segmentation, iou)
            # A hand-drawn slanted polygon differs at boundary pixels (pycocotools samples
            # a 5× upsampled outline); outlines from masks are reproduced exactly.
            if obj.id != "triangle":
                assert np.array_equal(ours, theirs), (obj.id, segmentation)
                rle = coco.annToRLE(ann)
                if obj.id != "disk":  # area/bbox of the polygon, equal for pixel edges
                    assert ann["area"] == pytest.approx(float(mask_utils.area(rle)))
                    assert ann["bbox"] == pytest.approx(mask_utils.toBbox(rle).tolist())
            assert ann["category_id"] == obj.class_id
            assert ann["iscrowd"] == 0
            is_rle = isinstance(ann["segmentation"], dict)
            has_holes = any(p.holes for p in obj.region.parts)
            assert is_rle == (segmentation == "rle" or (segmentation == "auto" and has_holes))
            if is_rle:
                assert isinstance(ann["segmentation"]["counts"], str)
    holed = [w for w in report.warnings if "zero-width bridges" in w]
    assert bool(holed) == (segmentation == "polygon")


def test_export_categories_keep_our_ids(sample_project: Sample, tmp_path: Path) -> None:
    coco, _ = _export(sample_project, tmp_path)
    cats = coco.loadCats(coco.getCatIds())
    assert [(c["id"], c["name"]) for c in cats] == [(3, "cat"), (7, "dog")]
    ids = [a["id"] for a in coco.dataset["annotations"]]
    assert len(set(ids)) == len(ids)


def test_export_file_names_relative_to_image_root(sample_project: Sample, tmp_path: Path) -> None:
    coco, _ = _export(sample_project, tmp_path, image_root=sample_project[0].parent)
    names = sorted(img["file_name"] for img in coco.dataset["images"])
    assert names == ["project/a.png", "project/c.png", "project/sub/b.png"]


def test_export_skips_with_reasons(sample_project: Sample, tmp_path: Path) -> None:
    from samdesk.core.document import AnnotationObject, PolygonPart

    record = _image(sample_project[1], "a.png")
    outside = Region((PolygonPart(np.array([[50.0, 50.0], [60.0, 50.0], [60.0, 60.0]])),))
    record.objects += [
        AnnotationObject(99, record.objects[0].region, id="no_class"),
        AnnotationObject(3, Region(), id="empty"),
        AnnotationObject(3, outside, id="outside"),
    ]
    sample_project[1].images.append(ImageRecord("missing.png"))  # size unknown
    _, report = _export(sample_project, tmp_path)
    reasons = {(s.object_id, s.reason) for s in report.skipped}
    assert reasons == {
        ("no_class", "its class id 99 is not in the project's classes"),
        ("empty", "empty geometry"),
        ("outside", "geometry entirely outside the image"),
        (None, "image file not found"),
    }
    assert report.objects == 7
    assert "skipped 1 images, 3 objects" in report.summary()


def test_export_reads_unknown_sizes_from_the_files(sample_project: Sample, tmp_path: Path) -> None:
    for record in sample_project[1].images:
        record.width = record.height = 0
    coco, report = _export(sample_project, tmp_path)
    sizes = {img["file_name"]: (img["width"], img["height"]) for img in coco.dataset["images"]}
    assert sizes == {"a.png": (40, 30), "sub/b.png": (25, 20), "c.png": (16, 12)}
    assert report.skipped == []


def test_failed_write_keeps_the_previous_file(
    sample_project: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "coco.json"
    out.write_text("previous", encoding="utf-8")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        export_coco(sample_project[1], sample_project[1].images, out)
    assert out.read_text(encoding="utf-8") == "previous"
    assert sorted(tmp_path.glob("*coco.json*")) == [out]  # no temporary file left behind


# --------------------------------------------------------------------------- round trip


def _objects(images: list[ImageRecord]) -> dict[str, list[tuple[int, Region]]]:
    return {r.path: [(o.class_id, o.region) for o in r.objects] for r in images}


def test_round_trip_import_export_import(sample_project: Sample, tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    folder, original = sample_project
    export_coco(original, original.images, first)
    imported = import_coco(first, image_root=folder)
    assert imported.warnings == []
    second = tmp_path / "second.json"
    project = Project(classes=imported.classes, images=imported.images)
    export_coco(project, imported.images, second)
    again = import_coco(second, image_root=folder)
    assert again.warnings == []
    assert [(c.id, c.name, c.color) for c in again.classes] == [
        (3, "cat", "#ff0000"),
        (7, "dog", "#00ff00"),
    ]
    assert _objects(again.images) == _objects(imported.images)
    # And the first import reproduces the project's objects (the triangle up to rounding).
    for record in original.images:
        got = next(r for r in imported.images if r.path == record.path)
        for obj, new in zip(record.objects, got.objects, strict=True):
            assert new.class_id == obj.class_id
            ours = region_to_mask(obj.region, record.height, record.width)
            assert np.array_equal(region_to_mask(new.region, got.height, got.width), ours)


# --------------------------------------------------------------------------- import


def _write_coco(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _dataset(**overrides: object) -> dict:
    data: dict = {
        "images": [{"id": 1, "file_name": "imgs/day1/x.png", "width": 20, "height": 10}],
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "bus"}],
        "annotations": [],
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("first_id", [0, 1, 17])
def test_import_category_ids_kept(tmp_path: Path, make_image: MakeImage, first_id: int) -> None:
    make_image(tmp_path / "imgs" / "day1" / "x.png", 20, 10)
    cats = [{"id": first_id, "name": "car"}, {"id": first_id + 5, "name": "bus"}]
    anns = [
        {"id": 1, "image_id": 1, "category_id": first_id + 5, "segmentation": [[1, 1, 5, 1, 5, 4]]}
    ]
    result = import_coco(
        _write_coco(tmp_path / "c.json", _dataset(categories=cats, annotations=anns))
    )
    assert result.warnings == []
    assert [(c.id, c.name) for c in result.classes] == [(first_id, "car"), (first_id + 5, "bus")]
    assert result.images[0].path == "imgs/day1/x.png"
    assert result.images[0].objects[0].class_id == first_id + 5


def test_import_polygons_rle_and_multi_part(tmp_path: Path, make_image: MakeImage) -> None:
    make_image(tmp_path / "imgs" / "day1" / "x.png", 20, 10)
    holed = np.zeros((10, 20), dtype=bool)
    holed[1:8, 1:9] = True
    holed[3:5, 3:5] = False
    compressed = mask_utils.encode(np.asfortranarray(holed.astype(np.uint8)))
    compressed["counts"] = compressed["counts"].decode()
    runs = [int(v) for v in np.diff(np.flatnonzero(np.diff(np.r_[2, holed.T.ravel(), 2])))]
    if holed.T.ravel()[0]:
        runs = [0, *runs]
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "segmentation": compressed},
        {
            "id": 2,
            "image_id": 1,
            "category_id": 1,
            "segmentation": {"size": [10, 20], "counts": runs},
        },
        {
            "id": 3,
            "image_id": 1,
            "category_id": 2,
            "segmentation": [[10, 1, 13, 1, 13, 3, 10, 3], [15, 5, 19, 5, 19, 9, 15, 9]],
        },
    ]
    result = import_coco(_write_coco(tmp_path / "c.json", _dataset(annotations=anns)))
    assert result.warnings == []
    objects = result.images[0].objects
    assert len(objects) == 3
    for obj in objects[:2]:
        assert np.array_equal(region_to_mask(obj.region, 10, 20), holed)
    assert len(objects[2].region.parts) == 2
    expected = np.zeros((10, 20), dtype=bool)
    expected[1:3, 10:13] = expected[5:9, 15:19] = True
    assert np.array_equal(region_to_mask(objects[2].region, 10, 20), expected)


def test_import_bridged_polygon_keeps_its_hole(tmp_path: Path) -> None:
    # An outer square joined to an inner square by a zero-width bridge (as we export holes
    # in "polygon" mode): pycocotools fills it even-odd, and so must the import.
    ring = [0, 0, 8, 0, 8, 8, 0, 8, 0, 0, 3, 3, 3, 5, 5, 5, 5, 3, 3, 3]
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [ring]}]
    path = _write_coco(tmp_path / "c.json", _dataset(annotations=anns))
    result = import_coco(path)
    region = result.images[0].objects[0].region
    assert len(region.parts) == 1 and len(region.parts[0].holes) == 1
    coco = COCO(str(path))
    theirs = coco.annToMask(coco.loadAnns([1])[0]).astype(bool)
    assert np.array_equal(region_to_mask(region, 10, 20), theirs)


def test_import_problems_are_warnings(tmp_path: Path) -> None:
    anns = [
        {"id": 1, "image_id": 99, "category_id": 1, "segmentation": [[1, 1, 5, 1, 5, 4]]},
        {"id": 2, "image_id": 1, "category_id": 42, "segmentation": [[1, 1, 5, 1, 5, 4]]},
        {"id": 3, "image_id": 1, "category_id": 1, "segmentation": [[-3, 1, 25, 1, 5, 14]]},
        {"id": 4, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 5, 1, 5]]},
        {"id": 5, "image_id": 1, "category_id": 1, "segmentation": {"size": [10, 20]}},
        {
            "id": 6,
            "image_id": 1,
            "category_id": 1,
            "segmentation": {"size": [10, 20], "counts": "0"},  # truncated
        },
        {"id": 7, "image_id": 1, "category_id": 2, "segmentation": [], "bbox": [2, 3, 4, 5]},
        "not an annotation",
        {"id": 9, "image_id": [1], "category_id": {}, "segmentation": [[1, 1, 5, 1, 5, 4]]},
    ]
    result = import_coco(_write_coco(tmp_path / "c.json", _dataset(annotations=anns)))
    text = "\n".join(result.warnings)
    assert "image file not found" in text  # the image is not on disk
    assert "annotations[0]: unknown image id 99" in text
    assert "annotations[1]: unknown category id 42" in text
    assert "annotations[2]: coordinates outside the image, clipped" in text
    assert "annotations[3]: polygon 0 is not a flat list" in text
    assert "annotations[4]: malformed RLE" in text
    assert "annotations[5]: malformed RLE" in text
    assert "annotations[6]: no segmentation; its bbox is imported as a rectangle" in text
    assert "annotations[7]: not an object" in text
    assert "annotations[8]: unknown image id [1]" in text
    assert len(result.warnings) == 10
    objects = result.images[0].objects
    assert len(objects) == 2  # the clipped triangle and the box
    clipped = region_to_mask(objects[0].region, 10, 20)
    assert clipped.any() and objects[0].region.parts[0].exterior.max() <= 20
    box = region_to_mask(objects[1].region, 10, 20)
    assert box.sum() == 20 and box[3:8, 2:6].all()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"images": [\n  {"id": 1,,}\n]}', r"c\.json:2:12: invalid JSON"),
        ("[1, 2]", "top level is not a JSON object"),
        ('{"images": 3}', "'images' must be a list"),
        ('{"annotations": []}', "'images' must be a list"),
    ],
)
def test_import_malformed_file_is_one_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FormatError, match=message) as info:
        import_coco(path)
    assert "\n" not in str(info.value)


def test_import_missing_file_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="file not found"):
        import_coco(tmp_path / "nope.json")


@pytest.mark.parametrize("segmentation", ["auto", "polygon", "rle"])
def test_random_masks_reproduced_exactly(tmp_path: Path, segmentation: str) -> None:
    """Many parts, holes, islands in holes, diagonal contacts: annToMask == our mask."""
    import cv2

    from samdesk.core.document import AnnotationObject, LabelClass

    rng = np.random.default_rng(11)
    masks = []
    objects = []
    for k in range(15):
        noise = (rng.random((24, 31)) < 0.3).astype(np.uint8)
        mask = cv2.morphologyEx(noise, cv2.MORPH_CLOSE, np.ones((2, 2), np.uint8)).astype(bool)
        masks.append(mask)
        objects.append(AnnotationObject(1, mask_to_region(mask), id=str(k)))
    record = ImageRecord("x.png", 31, 24, objects=objects)
    project = Project(classes=[LabelClass(1, "blob", "#123456")], images=[record])
    out = tmp_path / "c.json"
    export_coco(project, [record], out, segmentation=segmentation)
    coco = COCO(str(out))
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) == len(masks)
    for ann, mask in zip(anns, masks, strict=True):
        assert np.array_equal(coco.annToMask(ann).astype(bool), mask), ann["id"]
        assert ann["area"] == mask.sum()
