"""The annotation document: project, label classes, images and their objects.

Plain data (dataclasses + numpy), no Qt, no torch. The UI edits it only through undo
commands that call the methods here; the project store (``samdesk.io.project``) reads
and writes it; the formats (``samdesk.io.coco``, ``samdesk.io.yolo``) convert it.

Coordinate convention (used everywhere in samdesk):
    Continuous image coordinates of the *upright* image (EXIF orientation applied), origin
    at the top-left corner of the top-left pixel, x to the right, y down, in pixels.
    Pixel (row r, column c) covers the square [c, c+1) x [r, r+1); its centre is
    (c + 0.5, r + 0.5). Polygon vertices lie on this continuous plane, so a polygon traced
    along pixel edges has integer vertices and encloses exactly the mask's pixels.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Ring = npt.NDArray[np.float64]
"""A closed polygon ring: N×2 float64 array of (x, y) vertices, N ≥ 3, not repeating the
first vertex at the end. Exterior rings are counter-clockwise in the y-down image plane's
mathematical sense as shapely orients them; consumers must not rely on orientation."""


class ReviewState(str, enum.Enum):
    """Review state of one image."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class ObjectSource(str, enum.Enum):
    """Where an object's geometry came from."""

    SAM = "sam"
    POLYGON = "polygon"
    BRUSH = "brush"
    IMPORT = "import"


@dataclass(frozen=True)
class PolygonPart:
    """One connected part of a region: an exterior ring and zero or more hole rings."""

    exterior: Ring
    holes: tuple[Ring, ...] = ()


@dataclass(frozen=True)
class Region:
    """The geometry of one object: one or more parts, each possibly with holes.

    Immutable: edits produce a new Region (so undo commands can keep the old one).
    """

    parts: tuple[PolygonPart, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.parts


@dataclass
class LabelClass:
    """A label class. ``color`` is "#rrggbb"; ``key`` is an optional keyboard digit 0-9."""

    id: int
    name: str
    color: str
    key: int | None = None


def new_object_id() -> str:
    """A fresh, globally unique object id (hex uuid4)."""
    return uuid.uuid4().hex


@dataclass
class AnnotationObject:
    """An annotated instance on one image.

    ``class_id`` refers to ``LabelClass.id``. ``prompt`` optionally records the SAM prompt
    that produced the geometry (points/labels/box in image coordinates) for provenance.
    """

    class_id: int
    region: Region
    source: ObjectSource = ObjectSource.POLYGON
    id: str = field(default_factory=new_object_id)
    prompt: dict | None = None
    hidden: bool = False


@dataclass
class ImageRecord:
    """One image of the project.

    ``path`` is POSIX-style and relative to the project folder (so the folder can be moved);
    ``width``/``height`` are of the upright image (0 while not yet known).
    """

    path: str
    width: int = 0
    height: int = 0
    state: ReviewState = ReviewState.NEW
    objects: list[AnnotationObject] = field(default_factory=list)


@dataclass
class Project:
    """A project: classes and images. ``images`` keeps the user's order."""

    classes: list[LabelClass] = field(default_factory=list)
    images: list[ImageRecord] = field(default_factory=list)
    name: str = ""
