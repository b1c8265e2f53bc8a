"""Objects are named as the user sees them ("truck.jpg #2 (dog)"), never by internal id."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt

from samdesk.core.document import AnnotationObject, ImageRecord, LabelClass, PolygonPart, Region
from samdesk.ui.naming import new_object_label, object_label
from tests.ui.workflow_support import SMALL, SQUARE, add_polygon, isolated_settings  # noqa: F401

HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_object_label():
    classes = [LabelClass(1, "car", "#000000", 1), LabelClass(2, "dog", "#000000", 2)]
    square = Region((PolygonPart(SQUARE),))
    a, b = AnnotationObject(1, square), AnnotationObject(2, square)
    record = ImageRecord("photos/truck.jpg", 10, 10, objects=[a, b])
    assert object_label(record, b, classes) == "truck.jpg #2 (dog)"
    assert object_label(record, a.id, classes) == "truck.jpg #1 (car)"
    stray = AnnotationObject(9, square)
    assert object_label(record, stray, classes) == "truck.jpg, a new object (no class)"
    assert object_label(record, "0" * 32, classes) == "truck.jpg, an object"
    assert new_object_label(record, stray, classes) == "truck.jpg #3 (no class)"


def test_status_messages_name_objects(qtbot, manual_window):
    window, annotator = manual_window, manual_window.annotator
    messages: list[str] = []
    annotator.message.connect(messages.append)
    add_polygon(annotator, SQUARE, class_id=1)
    add_polygon(annotator, SMALL, class_id=2)
    assert messages[-1] == "Added img0.png #2 (dog)"
    annotator.select(annotator.record.objects[1].id)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Delete)
    assert messages[-1].startswith("Deleted img0.png #2 (dog)")
    assert window.statusBar().currentMessage() == messages[-1]
    assert not any(HEX_ID.search(m) for m in messages)
