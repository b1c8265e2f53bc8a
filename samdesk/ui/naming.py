"""Objects and classes named the way the user sees them ("truck.jpg #2 (dog)").

Messages in the status bar and the log never show internal ids (uuid hex, class ids):
an object is its image's file name, its number in the Objects panel (1-based, drawing
order) and its class name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

from samdesk.core.document import AnnotationObject, ImageRecord, LabelClass

NO_CLASS = "no class"


def class_name(classes: Iterable[LabelClass], class_id: int | None) -> str:
    """The name of class ``class_id``, or "no class" when it is not (or no longer) defined."""
    return next((c.name for c in classes if c.id == class_id), NO_CLASS)


def object_label(
    record: ImageRecord | None,
    obj: AnnotationObject | str | None,
    classes: Iterable[LabelClass],
) -> str:
    """ "truck.jpg #2 (dog)" for ``obj`` (an object or its id) on ``record``.

    An object not (or no longer) on the image is "truck.jpg, a new object (dog)" when it is
    an object, "truck.jpg, an object" for an unknown id: never the id itself.
    """
    image = PurePosixPath(record.path).name if record is not None else "this image"
    object_id = obj if isinstance(obj, str) else getattr(obj, "id", None)
    index = (
        next(
            (i for i, o in enumerate(record.objects) if o.id == object_id),
            None,
        )
        if record is not None
        else None
    )
    if index is not None and record is not None:
        obj = record.objects[index]
    if isinstance(obj, AnnotationObject):
        name = class_name(classes, obj.class_id)
        where = f"#{index + 1}" if index is not None else "a new object"
        sep = " " if index is not None else ", "
        return f"{image}{sep}{where} ({name})"
    return f"{image}, an object"


def new_object_label(
    record: ImageRecord, obj: AnnotationObject, classes: Iterable[LabelClass]
) -> str:
    """The label ``obj`` will have once added on top of ``record``'s objects."""
    image = PurePosixPath(record.path).name
    return f"{image} #{len(record.objects) + 1} ({class_name(classes, obj.class_id)})"
