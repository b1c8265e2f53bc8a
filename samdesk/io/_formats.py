"""Shared pieces of the exchange formats (COCO, YOLO): reports, errors, ring helpers.

Private to ``samdesk.io``: the public names are re-exported by ``coco`` and ``yolo``.
Geometry follows the document's convention (``samdesk.core.document``): continuous
coordinates of the upright image, pixel (r, c) covers [c, c+1) x [r, r+1).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.polygon import orient

from samdesk.core.document import (
    AnnotationObject,
    ImageRecord,
    LabelClass,
    PolygonPart,
    Region,
)

REPORT_HEADER = "samdesk export report"
"""First line of every export report file: a file starting otherwise is not ours and is
never overwritten."""

# Colours for classes created by an import (the formats carry no colour). Tableau 10.
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
# evenodd_region rasterises at most this many pixels (an image of unknown size with absurd
# coordinates would otherwise allocate gigabytes).
_MAX_RASTER_PIXELS = 200_000_000
# After this many warnings of one kind, the rest are only counted: a broken 10 000-image
# dataset should give a readable report, not 10 000 lines.
_MAX_WARNINGS_PER_KIND = 20


class FormatError(ValueError):
    """A file cannot be read or written at all (not JSON, wrong top-level structure...).

    The message is one line meant for the user, e.g. ``"a.json:3:14: invalid JSON: ..."``.
    Problems with single entries are warnings in the result instead.
    """


@dataclass(frozen=True)
class Skipped:
    """One image or object left out of an export, and why.

    ``object_id`` is None when the whole image was left out. ``label`` names the object the
    way the user sees it: ``"truck.jpg #2 (dog)"`` (its 1-based place on the image, its
    class); empty for a whole image.
    """

    image: str
    object_id: str | None
    reason: str
    label: str = ""


def unknown_class_reason(class_id: int) -> str:
    """Why an object whose class is missing from the project is left out of an export
    (old projects may hold such objects; the window shows them as "? (id N)")."""
    return f"its class id {class_id} is not in the project's classes"


def object_label(record: ImageRecord, obj: AnnotationObject, classes: list[LabelClass]) -> str:
    """``"truck.jpg #2 (dog)"``: the object as the user finds it in the window's object list
    (its 1-based position on the image and its class name)."""
    try:
        number = next(i for i, o in enumerate(record.objects, 1) if o is obj)
    except StopIteration:
        number = 0
    name = next((c.name for c in classes if c.id == obj.class_id), f"class {obj.class_id}")
    return f"{record.path} #{number} ({name})"


@dataclass
class ExportReport:
    """What an export wrote: counts, what was left out (with reasons), and warnings
    about things written in a lossy or unusual way (holes bridged, duplicates...)."""

    images: int = 0
    objects: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    format: str = ""
    written: list[str] = field(default_factory=list)
    """Files and folders written (paths as given to the exporter), for the report file."""

    def skip(self, image: str, object_id: str | None, reason: str, label: str = "") -> None:
        self.skipped.append(Skipped(image, object_id, reason, label))

    def change(self, label: str, what: str) -> None:
        """Record that an object was written, but not as it is in the project."""
        self.warnings.append(f"{label}: {what}")

    def text(self) -> str:
        """The full report: the summary, then every skipped image/object with its reason
        (what ``export-report.txt`` holds and the Export dialog shows)."""
        lines = [REPORT_HEADER, f"format: {self.format}" if self.format else ""]
        lines += [self.summary(), ""]
        if self.written:
            lines += ["written:", *(f"  {w}" for w in self.written), ""]
        if self.skipped:
            lines.append("skipped, one by one:")
            for s in self.skipped:
                what = s.label or (s.image if s.object_id is None else f"{s.image} {s.object_id}")
                lines.append(f"  {what}: {s.reason}")
        return "\n".join(line for line in lines if line is not None) + "\n"

    def summary(self) -> str:
        """A few human-readable lines: counts, then skipped items grouped by reason."""
        skipped_images = sum(1 for s in self.skipped if s.object_id is None)
        skipped_objects = len(self.skipped) - skipped_images
        lines = [
            f"exported {self.images} images, {self.objects} objects; "
            f"skipped {skipped_images} images, {skipped_objects} objects"
        ]
        for reason, count in Counter(s.reason for s in self.skipped).most_common():
            lines.append(f"  skipped ({count}): {reason}")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass
class ImportResult:
    """What an import read.

    ``images[i].path`` is POSIX and relative to ``image_root`` (the folder the dataset's
    file names are relative to); callers that store the records in a project re-base
    the paths onto the project folder. ``classes`` keep the dataset's ids (COCO) or
    its 0..N-1 indices (YOLO). Objects have ``source=ObjectSource.IMPORT``.
    """

    classes: list[LabelClass]
    images: list[ImageRecord]
    image_root: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def object_count(self) -> int:
        return sum(len(image.objects) for image in self.images)


class WarningLog:
    """Collects warnings, keeping at most ``_MAX_WARNINGS_PER_KIND`` lines per kind."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._counts: Counter[str] = Counter()

    def add(self, kind: str, message: str) -> None:
        self._counts[kind] += 1
        if self._counts[kind] <= _MAX_WARNINGS_PER_KIND:
            self._lines.append(message)

    def lines(self) -> list[str]:
        extra = [
            f"... and {n - _MAX_WARNINGS_PER_KIND} more warnings like: {kind}"
            for kind, n in self._counts.items()
            if n > _MAX_WARNINGS_PER_KIND
        ]
        return self._lines + extra


def palette_color(index: int) -> str:
    """A "#rrggbb" colour for the ``index``-th imported class."""
    return _PALETTE[index % len(_PALETTE)]


def polygons_of(geom: shapely.Geometry) -> list[shapely.Polygon]:
    """The non-empty polygons in any geometry (collections flattened), oriented."""
    found: list[shapely.Polygon] = []
    for part in shapely.get_parts(geom):
        if isinstance(part, shapely.Polygon):
            if part.area > 0:
                found.append(orient(part, 1.0))
        elif isinstance(part, shapely.MultiPolygon | shapely.GeometryCollection):
            found += polygons_of(part)
    return found


def repair(geom: shapely.Geometry) -> shapely.Geometry:
    """A valid areal geometry for possibly self-intersecting input.

    GEOS' "linework" repair assigns areas by parity, i.e. the even-odd rule that
    pycocotools and OpenCV's fillPoly rasterise with: a ring joined to its holes or to
    other parts by zero-width bridges comes back as the polygon-with-holes it encodes.
    """
    if geom.is_valid:
        return geom
    return shapely.union_all(polygons_of(shapely.make_valid(geom)))


def ring_coords(ring: shapely.LinearRing) -> npt.NDArray[np.float64]:
    """N×2 float64 (x, y) vertices of a ring without the repeated closing vertex."""
    return np.asarray(ring.coords, dtype=np.float64)[:-1]


def join_rings(rings: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    """Join several rings into one closed path with zero-width bridges.

    The scheme of Ultralytics' ``merge_multi_segment``: consecutive rings are connected
    at their closest pair of vertices; the path runs out through the first ring, the
    first halves of the middle rings and the whole last ring, then back through the
    other halves of the middle rings. Every bridge is walked once in each direction, so
    even-odd and non-zero fills (pycocotools, OpenCV) ignore it and the filled area is the
    XOR of the rings: disjoint parts stay disjoint and hole rings stay holes. Each ring
    keeps its own orientation, so non-zero fill works when holes run opposite to their
    exterior. Returns M×2 float64, not closed.
    """
    if len(rings) == 1:
        return rings[0]
    # entry[i]/exit[i]: vertex index where the path enters/leaves ring i.
    entry = [0] * len(rings)
    exit_ = [0] * len(rings)
    for i in range(1, len(rings)):
        a, b = rings[i - 1], rings[i]
        d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        exit_[i - 1], entry[i] = (int(k) for k in np.unravel_index(np.argmin(d), d.shape))
    out: list[npt.NDArray[np.float64]] = []
    back: list[npt.NDArray[np.float64]] = []
    last = len(rings) - 1
    for i, ring in enumerate(rings):
        start = exit_[i] if i == 0 else entry[i]
        r = np.roll(ring, -start, axis=0)
        closed = np.concatenate([r, r[:1]])
        if i in (0, last):
            out.append(closed)  # a full loop back to where the bridge leaves/arrives
        else:
            k = (exit_[i] - entry[i]) % len(ring)
            out.append(closed[: k + 1])  # entry → exit one way round
            back.append(closed[k:])  # exit → entry the other way round, on the way back
    out += back[::-1]
    return np.concatenate(out)


def evenodd_region(
    rings: list[npt.NDArray[np.float64]], width: int = 0, height: int = 0
) -> tuple[Region, bool]:
    """The region that consumers rasterise for the given rings, filled even-odd.

    ``rings``: N×2 float64 (x, y) rings in our continuous convention, all belonging to one
    polygon as a file writes it (COCO: one flat list; YOLO: one line; LabelMe: one shape).
    ``width``/``height``: the image size (0 if unknown: no clipping).

    A simple (valid) single ring is kept with its vertices as they are. Anything else
    (self-intersecting, joined by zero-width bridges the way ``join_rings`` and Ultralytics'
    ``merge_multi_segment`` write parts and holes) is rasterised the way pycocotools
    (``frPyObjects`` + ``decode``) and OpenCV's ``fillPoly`` fill it, even-odd at the pixel
    centres (``region_to_mask``), and its parts and holes are traced back from that mask
    (``mask_to_region``), so the imported object covers exactly the pixels a trainer sees.
    GEOS' repair cannot do this: it merges a bridge walked twice into one edge and loses the
    pixels along it. Returns (region, was_rasterised); an empty region for zero area.
    """
    from samdesk.core.geometry import mask_to_region, region_to_mask

    if len(rings) == 1:
        polygon = shapely.Polygon(rings[0])
        if polygon.is_valid:
            if polygon.area <= 0:
                return Region(), False
            return Region((PolygonPart(ring_coords(orient(polygon, 1.0).exterior)),)), False
    points = np.concatenate(rings)
    x0, y0 = np.floor(points.min(axis=0)).astype(np.int64)
    x1, y1 = np.ceil(points.max(axis=0)).astype(np.int64)
    if width > 0 and height > 0:
        x0, y0 = max(int(x0), 0), max(int(y0), 0)
        x1, y1 = min(int(x1), width), min(int(y1), height)
    if x1 <= x0 or y1 <= y0:
        return Region(), True
    if (x1 - x0) * (y1 - y0) > _MAX_RASTER_PIXELS:
        # No image size to clip to and absurd coordinates: GEOS' repair, not a huge raster.
        return _repaired(rings), False
    region = Region(tuple(PolygonPart(r) for r in rings))
    mask = region_to_mask(region, int(y1 - y0), int(x1 - x0), offset=(float(x0), float(y0)))
    return mask_to_region(mask, offset=(int(x0), int(y0))), True


def image_problem(path: Path) -> str | None:
    """Why the image at ``path`` cannot be exported, or None if it decodes.

    The same check as the viewer's (``check_image`` decodes like ``read_image``), so an image the
    window refuses to show (missing, truncated, not an image) is never exported as if it
    were fine. Huge images are allowed: the size limit guards the viewer's memory only.
    """
    from samdesk.core.images import ImageReadError, check_image  # lazy: pillow

    if not path.is_file():
        return "image file not found"
    try:
        check_image(path)
    except (OSError, ValueError, ImageReadError) as e:
        return f"image cannot be read: {e}"
    return None


def imported_image_size(image: Path, log: WarningLog, where: str) -> tuple[int, int] | None:
    """The image's real (width, height) from its header, or None after logging
    ``"{where}: cannot read the image (…), skipped"`` (importers trust no file's word)."""
    from samdesk.core.images import ImageReadError, image_size  # lazy: pillow

    try:
        return image_size(image)
    except (OSError, ValueError, ImageReadError) as e:
        log.add("unreadable", f"{where}: cannot read the image ({e}), skipped")
        return None


def _repaired(rings: list[npt.NDArray[np.float64]]) -> Region:
    from samdesk.core.geometry import region_from_shapely

    polygons = [p for r in rings for p in polygons_of(repair(shapely.Polygon(r)))]
    return region_from_shapely(shapely.union_all(polygons)) if polygons else Region()
