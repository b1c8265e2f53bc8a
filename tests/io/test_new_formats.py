"""LabelMe, masks PNG and VOC files as other tools write them: what samdesk reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from samdesk.core.geometry import region_bbox, region_to_mask
from samdesk.io.labelme import import_labelme
from samdesk.io.masks_png import import_masks_png
from samdesk.io.voc import import_voc
from tests.io.conftest import write_image


def _shape(label: str, points: list, kind: str = "polygon", group_id: int | None = None) -> dict:
    return {
        "label": label,
        "points": points,
        "group_id": group_id,
        "description": "",
        "shape_type": kind,
        "flags": {},
    }


def test_labelme_shapes_groups_and_problems(tmp_path: Path) -> None:
    write_image(tmp_path / "a.jpg", 40, 30)
    shapes = [
        _shape("car", [[2, 2], [10, 6]], "rectangle"),
        _shape("dog", [[20, 2], [26, 2], [26, 8], [20, 8]], group_id=1),
        _shape("dog", [[30, 2], [36, 2], [36, 8], [30, 8]], group_id=1),
        _shape("ball", [[20, 20], [24, 20]], "circle"),
        _shape("road", [[0, 29], [39, 29]], "linestrip"),
        _shape("flat", [[1, 1], [5, 5], [9, 9]]),
    ]
    data = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": "a.jpg"}
    # A byte-order mark and no imageData/imageHeight/imageWidth: labelme reads it, so do we.
    (tmp_path / "a.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(data).encode())
    (tmp_path / "orphan.json").write_text(
        json.dumps({**data, "imagePath": "gone.jpg"}), encoding="utf-8"
    )
    result = import_labelme(tmp_path)
    (record,) = result.images
    names = {c.id: c.name for c in result.classes}
    objects = {names[o.class_id]: o for o in record.objects}
    assert set(objects) == {"car", "dog", "ball"}
    assert region_bbox(objects["car"].region) == (2, 2, 10, 6)
    assert len(objects["dog"].region.parts) == 2  # one object: same label and group_id
    ball = region_to_mask(objects["ball"].region, 30, 40)
    assert abs(int(ball.sum()) - round(np.pi * 16)) <= 4
    text = "\n".join(result.warnings)
    assert "a.json: shapes[4]: linestrip shape has no area, skipped" in text
    assert "a.json: shapes[5]: zero-area polygon" in text
    assert "orphan.json: image 'gone.jpg' not found" in text


def test_voc_one_based_inclusive_boxes(tmp_path: Path) -> None:
    write_image(tmp_path / "JPEGImages" / "x.jpg", 50, 40)
    xml = """<annotation><filename>x.jpg</filename>
      <size><width>50</width><height>40</height><depth>3</depth></size>
      <object><name>cat</name><difficult>1</difficult>
        <bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>5</ymax></bndbox></object>
      <object><name>cat</name><bndbox><xmin>a</xmin></bndbox></object>
    </annotation>"""
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "x.xml").write_text(xml, encoding="utf-8")
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Main" / "val.txt").write_text("x\n", encoding="utf-8")
    result = import_voc(tmp_path)
    (record,) = result.images
    assert record.path == "x.jpg" and record.split == "val"
    (obj,) = record.objects
    mask = region_to_mask(obj.region, 40, 50)
    assert mask[0:5, 0:10].all() and mask.sum() == 50  # pixels 1..10 × 1..5, 1-based
    text = "\n".join(result.warnings)
    assert "Annotations/x.xml: object 2: box coordinates must be numbers" in text
    assert "Annotations/x.xml: object 1: 'difficult' flag not kept" in text


def test_voc_refuses_entities(tmp_path: Path) -> None:
    write_image(tmp_path / "x.jpg", 20, 20)
    bomb = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><annotation>&e;</annotation>'
    (tmp_path / "x.xml").write_text(bomb, encoding="utf-8")
    result = import_voc(tmp_path)
    assert not result.images and "DTDs and entities are not allowed" in result.warnings[0]


def test_semantic_only_masks_one_object_per_class(tmp_path: Path) -> None:
    write_image(tmp_path / "JPEGImages" / "m.png", 20, 10)
    semantic = np.zeros((10, 20), dtype=np.uint8)
    semantic[1:3, 1:3] = 1
    semantic[6:9, 10:15] = 1  # a second region of class 1: same object (semantic)
    semantic[5, 5] = 2
    semantic[0, 19] = 255  # ignore: no object
    (tmp_path / "SegmentationClass").mkdir()
    png = Image.fromarray(semantic, mode="P")
    png.putpalette([0, 0, 0, 128, 64, 128, 0, 0, 142] + [255] * (253 * 3))  # as mmseg writes
    png.save(tmp_path / "SegmentationClass" / "m.png")
    (tmp_path / "classes.txt").write_text("background\nroad\ncar\n", encoding="utf-8")
    result = import_masks_png(tmp_path)
    (record,) = result.images
    names = {c.id: c.name for c in result.classes}
    found = {names[o.class_id]: region_to_mask(o.region, 10, 20) for o in record.objects}
    assert set(found) == {"road", "car"}
    assert np.array_equal(found["road"], semantic == 1)
    assert np.array_equal(found["car"], semantic == 2)


def test_labelme_image_path_stays_inside_the_imported_folder(tmp_path: Path) -> None:
    outside = write_image(tmp_path / "private" / "secret.jpg", 20, 20)
    folder = tmp_path / "dataset"
    folder.mkdir()
    shapes = [_shape("car", [[2, 2], [10, 6]], "rectangle")]
    for name, image_path in (("up.json", "../private/secret.jpg"), ("abs.json", str(outside))):
        data = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": image_path}
        (folder / name).write_text(json.dumps(data), encoding="utf-8")
    write_image(folder / "abs.png", 20, 20)  # the image beside abs.json is used instead
    result = import_labelme(folder)
    assert [r.path for r in result.images] == ["abs.png"]
    text = "\n".join(result.warnings)
    assert "up.json: imagePath ../private/secret.jpg: points outside the dataset folder" in text
    assert "abs.json: imagePath" in text and "absolute paths are not read" in text
    assert "up.json: image '../private/secret.jpg' not found" in text


def test_mask_png_of_the_wrong_size_is_skipped_before_decoding(tmp_path: Path) -> None:
    write_image(tmp_path / "JPEGImages" / "m.png", 20, 10)
    (tmp_path / "SegmentationObject").mkdir()
    Image.new("I;16", (3000, 2000)).save(tmp_path / "SegmentationObject" / "m.png")
    result = import_masks_png(tmp_path)
    (record,) = result.images
    assert record.objects == []
    assert "SegmentationObject/m.png: mask is 3000x2000, the image 20x10" in result.warnings[0]


def test_voc_filename_cannot_leave_the_dataset(tmp_path: Path) -> None:
    write_image(tmp_path / "private.jpg", 20, 20)
    dataset = tmp_path / "voc"
    (dataset / "Annotations").mkdir(parents=True)
    xml = "<annotation><filename>../../private.jpg</filename></annotation>"
    (dataset / "Annotations" / "x.xml").write_text(xml, encoding="utf-8")
    result = import_voc(dataset)
    assert result.images == []
    assert "points outside the dataset folder" in result.warnings[0]
