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

from samdesk.core.document import ImageRecord, LabelClass

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

    ``object_id`` is None when the whole image was left out.
    """

    image: str
    object_id: str | None
    reason: str


@dataclass
class ExportReport:
    """What an export wrote: counts, what was left out (with reasons), and warnings
    about things written in a lossy or unusual way (holes bridged, duplicates...)."""

    images: int = 0
    objects: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def skip(self, image: str, object_id: str | None, reason: str) -> None:
        self.skipped.append(Skipped(image, object_id, reason))

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
