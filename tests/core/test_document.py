"""Document helpers the undo commands call: each returns what undo needs."""

from __future__ import annotations

import pytest

from samdesk.core.document import (
    AnnotationObject,
    ImageRecord,
    LabelClass,
    PolygonPart,
    Project,
    Region,
)


def _obj(object_id: str, class_id: int = 1) -> AnnotationObject:
    return AnnotationObject(
        class_id, Region((PolygonPart([[0, 0], [1, 0], [1, 1]]),)), id=object_id
    )


def test_object_add_remove_replace_round_trip() -> None:
    record = ImageRecord("a.png")
    assert record.add_object(_obj("a")) == 0
    assert record.add_object(_obj("b")) == 1
    assert record.add_object(_obj("c"), index=0) == 0
    with pytest.raises(ValueError, match="already"):
        record.add_object(_obj("a"))
    index, removed = record.remove_object("b")
    assert (index, removed.id) == (2, "b")
    record.add_object(removed, index)  # undo of the removal
    assert [o.id for o in record.objects] == ["c", "a", "b"]
    old = record.replace_object(_obj("a", class_id=2))
    assert old.class_id == 1 and record.get_object("a").class_id == 2
    record.replace_object(old)  # undo of the replacement
    assert record.get_object("a") == old
    with pytest.raises(KeyError):
        record.remove_object("missing")


def test_class_lookup_and_next_id() -> None:
    project = Project(classes=[LabelClass(1, "car", "#ff0000"), LabelClass(5, "dog", "#00ff00")])
    assert project.class_by_id(5).name == "dog" and project.class_by_id(2) is None
    assert project.class_by_name("car").id == 1 and project.class_by_name("Car") is None
    assert project.next_class_id() == 6 and Project().next_class_id() == 1
    project.images = [ImageRecord("x.png"), ImageRecord("y.png")]
    assert project.image_index("y.png") == 1
    with pytest.raises(KeyError):
        project.image_index("z.png")


def test_regions_compare_by_value_and_are_read_only() -> None:
    a = Region((PolygonPart([[0, 0], [2, 0], [2, 2]], ([[0.5, 0.5], [1, 0.5], [1, 1]],)),))
    b = Region(
        [PolygonPart([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0]], [[[0.5, 0.5], [1, 0.5], [1, 1]]])]
    )
    assert a == b and hash(a) == hash(b)
    assert a != Region((PolygonPart([[0, 0], [2, 0], [2, 3]]),))
    assert Region().is_empty and not a.is_empty
    with pytest.raises(ValueError):
        a.parts[0].holes[0][0, 0] = 9.0


def test_polygon_options_round_trip_and_tolerate_bad_values() -> None:
    from samdesk.core.document import PolygonOptions

    settings: dict = {}
    assert PolygonOptions.from_settings(settings) == PolygonOptions(0.5, 4.0)
    PolygonOptions(1.25, 10.0).store_in(settings)
    assert PolygonOptions.from_settings(settings) == PolygonOptions(1.25, 10.0)
    bad = {"polygon_tolerance": "lots", "polygon_min_area": -3, "other": 1}
    assert PolygonOptions.from_settings(bad) == PolygonOptions()
    assert PolygonOptions.from_settings({"polygon_tolerance": True}) == PolygonOptions()
