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
from typing import Any

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
    """How an object's geometry was made (kept true through edits).

    ``sam``: SAM's mask (also after refining any object with SAM: SAM made the geometry);
    ``polygon``: drawn vertex by vertex; ``brush``: painted; ``import``: read from a file.
    A brush or eraser stroke on a ``sam``/``polygon``/``import`` object makes it
    ``sam+brush``/``polygon+brush``/``import+brush`` (see ``brushed``).
    """

    SAM = "sam"
    POLYGON = "polygon"
    BRUSH = "brush"
    IMPORT = "import"
    SAM_BRUSH = "sam+brush"
    POLYGON_BRUSH = "polygon+brush"
    IMPORT_BRUSH = "import+brush"

    def brushed(self) -> ObjectSource:
        """The source after a brush/eraser stroke on geometry of this source."""
        return _BRUSHED.get(self, self)


_BRUSHED = {
    ObjectSource.SAM: ObjectSource.SAM_BRUSH,
    ObjectSource.POLYGON: ObjectSource.POLYGON_BRUSH,
    ObjectSource.IMPORT: ObjectSource.IMPORT_BRUSH,
}


def as_ring(points: npt.ArrayLike) -> Ring:
    """``points`` (N×2 array-like of (x, y), N ≥ 3, not closed) as a read-only float64 Ring.

    A read-only *view* is returned when ``points`` is already float64, so the caller's own
    array stays writeable but the Region cannot be changed behind an undo command's back.
    """
    ring = np.asarray(points, dtype=np.float64).view()
    if ring.ndim != 2 or ring.shape[1] != 2 or ring.shape[0] < 3:
        raise ValueError(f"a ring must be an N×2 array with N >= 3, got shape {ring.shape}")
    check_coordinates(ring)
    ring.flags.writeable = False
    return ring


COORDINATE_LIMIT = 1e6
"""No vertex lies farther than this many pixels from the origin. Far beyond any real image
(a 100,000 px aerial mosaic fits), and it keeps NaN's cousins out: a vertex at 1e300 makes
GEOS fail and any rasterisation allocate absurd buffers."""


def check_coordinates(points: npt.NDArray[np.float64]) -> None:
    """ValueError unless every value of ``points`` is finite and within ±COORDINATE_LIMIT."""
    if points.size == 0:
        return
    if not np.isfinite(points).all():
        raise ValueError("a vertex coordinate is not a finite number (NaN or infinity)")
    largest = float(np.abs(points).max())
    if largest > COORDINATE_LIMIT:
        raise ValueError(
            f"a vertex coordinate ({largest:g}) is beyond ±{COORDINATE_LIMIT:g} pixels"
        )


OUTSIDE_MARGIN = 10_000
"""Pixels an object may reach outside a small image (see ``check_region_in_image``)."""


def check_region_in_image(region: Region, width: int, height: int) -> None:
    """ValueError if ``region`` reaches absurdly far outside a ``width``×``height`` image.

    Objects may stick out (imports, a polygon dragged past the border, a tiny test image),
    so the allowed box is the image grown on every edge by ``OUTSIDE_MARGIN`` pixels or
    twice its larger side, whichever is more: generous, yet it stops coordinates that
    would make a crop of the object larger than any image. An unknown size (0) checks only
    the absolute limit (done when the rings were built).
    """
    if width <= 0 or height <= 0 or region.is_empty:
        return
    margin = max(2 * max(width, height), OUTSIDE_MARGIN)
    for part in region.parts:
        for ring in (part.exterior, *part.holes):
            x, y = ring[:, 0], ring[:, 1]
            if (
                x.min() < -margin
                or y.min() < -margin
                or x.max() > width + margin
                or y.max() > height + margin
            ):
                raise ValueError(
                    f"the object lies far outside the {width}×{height} image "
                    f"(x {x.min():g}…{x.max():g}, y {y.min():g}…{y.max():g})"
                )


def _ring_key(ring: Ring) -> bytes:
    # + 0.0 folds -0.0 into 0.0 so that equal rings hash equally.
    return np.ascontiguousarray(ring + 0.0).tobytes()


@dataclass(frozen=True, eq=False)
class PolygonPart:
    """One connected part of a region: an exterior ring and zero or more hole rings.

    Rings are normalised to read-only N×2 float64 arrays on construction (lists work too).
    Equality compares the vertex arrays exactly (same vertices, same order).
    """

    exterior: Ring
    holes: tuple[Ring, ...] = ()

    def __post_init__(self) -> None:
        # Frozen dataclass: object.__setattr__ is the documented way to normalise fields.
        object.__setattr__(self, "exterior", as_ring(self.exterior))
        object.__setattr__(self, "holes", tuple(as_ring(h) for h in self.holes))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PolygonPart):
            return NotImplemented
        return (
            len(self.holes) == len(other.holes)
            and np.array_equal(self.exterior, other.exterior)
            and all(np.array_equal(a, b) for a, b in zip(self.holes, other.holes, strict=True))
        )

    def __hash__(self) -> int:
        return hash((_ring_key(self.exterior), *(_ring_key(h) for h in self.holes)))


@dataclass(frozen=True)
class Region:
    """The geometry of one object: one or more parts, each possibly with holes.

    Immutable: edits produce a new Region (so undo commands can keep the old one).
    Geometry operations (area, bbox, rasterisation, mask tracing) are in
    ``samdesk.core.geometry``.
    """

    parts: tuple[PolygonPart, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))

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


CLASS_KEYS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 0)
"""The digit keys classes get, in keyboard order (the tenth class gets 0)."""


def free_class_key(classes: list[LabelClass]) -> int | None:
    """The first digit of 1–9, 0 no class in ``classes`` uses yet; None when all are taken."""
    used = {c.key for c in classes}
    return next((k for k in CLASS_KEYS if k not in used), None)


def new_object_id() -> str:
    """A fresh, globally unique object id (hex uuid4)."""
    return uuid.uuid4().hex


@dataclass
class AnnotationObject:
    """An annotated instance on one image.

    ``class_id`` refers to ``LabelClass.id``. ``prompt`` optionally records the SAM prompt
    that produced the geometry (points/labels/box in image coordinates) for provenance.
    ``crowd``: COCO's ``iscrowd: 1`` — one region covering a group of instances (people in
    a crowd) that evaluators ignore instead of counting as misses; kept through import and
    export so a COCO dataset's crowd regions are not turned into ordinary objects.
    """

    class_id: int
    region: Region
    source: ObjectSource = ObjectSource.POLYGON
    id: str = field(default_factory=new_object_id)
    prompt: dict | None = None
    hidden: bool = False
    crowd: bool = False


@dataclass
class ImageRecord:
    """One image of the project.

    ``path`` is POSIX-style and relative to the project folder (so the folder can be moved);
    ``width``/``height`` are of the upright image (0 while not yet known).
    ``split``: the dataset split the image belongs to ("train", "val", "test"; "" = none):
    data, not part of the path, so that re-exporting an imported split dataset keeps each
    image in its split instead of nesting the old split folders.
    """

    path: str
    width: int = 0
    height: int = 0
    state: ReviewState = ReviewState.NEW
    objects: list[AnnotationObject] = field(default_factory=list)
    split: str = ""

    # Pure edit helpers for the UI's undo commands: each returns what undo needs to restore.

    def object_index(self, object_id: str) -> int:
        """Position of the object with ``object_id``; KeyError if there is none."""
        for index, obj in enumerate(self.objects):
            if obj.id == object_id:
                return index
        raise KeyError(f"no object {object_id!r} on image {self.path!r}")

    def get_object(self, object_id: str) -> AnnotationObject:
        """The object with ``object_id``; KeyError if there is none."""
        return self.objects[self.object_index(object_id)]

    def check_object(self, obj: AnnotationObject) -> None:
        """ValueError if ``obj``'s geometry cannot belong to this image (see
        ``check_region_in_image``; non-finite or huge vertices never make a Region)."""
        if not isinstance(obj.region, Region):
            raise ValueError(f"object {obj.id!r}: region must be a Region")
        check_region_in_image(obj.region, self.width, self.height)

    def add_object(self, obj: AnnotationObject, index: int | None = None) -> int:
        """Insert ``obj`` at ``index`` (default: on top, i.e. last); returns its index.

        ValueError for a duplicate id or geometry far outside the image (``check_object``).
        """
        self.check_object(obj)
        if any(o.id == obj.id for o in self.objects):
            raise ValueError(f"object id {obj.id!r} is already on image {self.path!r}")
        index = len(self.objects) if index is None else index
        self.objects.insert(index, obj)
        return index

    def remove_object(self, object_id: str) -> tuple[int, AnnotationObject]:
        """Remove the object; returns (its former index, the object) for undo."""
        index = self.object_index(object_id)
        return index, self.objects.pop(index)

    def replace_object(self, obj: AnnotationObject) -> AnnotationObject:
        """Put ``obj`` in place of the object with the same id; returns the old one.

        ValueError for geometry far outside the image (``check_object``).
        """
        index = self.object_index(obj.id)
        self.check_object(obj)
        old, self.objects[index] = self.objects[index], obj
        return old


@dataclass
class Project:
    """A project: classes and images. ``images`` keeps the user's order."""

    classes: list[LabelClass] = field(default_factory=list)
    images: list[ImageRecord] = field(default_factory=list)
    name: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    """Free-form per-project settings (plain YAML-able values), owned by the UI."""

    def class_by_id(self, class_id: int) -> LabelClass | None:
        """The class with ``class_id``, or None."""
        return next((c for c in self.classes if c.id == class_id), None)

    def class_by_name(self, name: str) -> LabelClass | None:
        """The class named ``name`` (exact match), or None."""
        return next((c for c in self.classes if c.name == name), None)

    def next_class_id(self) -> int:
        """A free class id: one more than the largest in use (1 for an empty project)."""
        return max((c.id for c in self.classes), default=0) + 1

    def image_index(self, path: str) -> int:
        """Position of the image with project-relative POSIX ``path``; KeyError if absent."""
        for index, image in enumerate(self.images):
            if image.path == path:
                return index
        raise KeyError(f"no image {path!r} in the project")


@dataclass(frozen=True)
class PolygonOptions:
    """How masks become polygons for this project (kept in ``Project.settings``).

    ``tolerance``: topology-preserving simplification, in pixels (0 keeps every pixel
    corner). ``min_area``: parts and holes smaller than this many square pixels are dropped.
    """

    tolerance: float = 0.5
    min_area: float = 4.0

    TOLERANCE_KEY = "polygon_tolerance"
    MIN_AREA_KEY = "polygon_min_area"

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> PolygonOptions:
        """The options in ``settings``; a missing, non-numeric or negative value is the
        default (a hand-edited project file must not break accepting objects)."""

        def number(key: str, default: float) -> float:
            value = settings.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                return default
            return float(value)

        return cls(number(cls.TOLERANCE_KEY, cls.tolerance), number(cls.MIN_AREA_KEY, cls.min_area))

    def store_in(self, settings: dict[str, Any]) -> None:
        """Write the options into a project's ``settings`` mapping."""
        settings[self.TOLERANCE_KEY] = self.tolerance
        settings[self.MIN_AREA_KEY] = self.min_area
