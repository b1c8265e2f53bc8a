"""The object being built: its prompts, its current mask, and its own step history.

Plain data (no Qt). Each step (a point, a box, a brush stroke, a SAM answer) can be taken
back with "remove last point" (Backspace); this history is tool state, not the undo stack,
which only holds committed changes to the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from samdesk.core.document import ObjectSource
from samdesk.ui.tools.masks import MaskCrop, empty_crop


@dataclass(frozen=True)
class Candidate:
    """One of SAM's multimask answers to an ambiguous single click."""

    mask: MaskCrop
    score: float
    logits: npt.NDArray[np.float32]


@dataclass(frozen=True)
class DraftState:
    """An immutable snapshot of the draft (what Backspace goes back to)."""

    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box: tuple[float, float, float, float] | None = None
    mask: MaskCrop = field(default_factory=empty_crop)
    logits: npt.NDArray[np.float32] | None = None
    """1×256×256 low-res logits of ``mask`` when SAM produced it (the next mask prompt)."""
    score: float | None = None
    polygon: tuple[tuple[float, float], ...] = ()
    source: ObjectSource = ObjectSource.SAM


class Draft:
    """The object being built on the current image (one at a time).

    ``target_id`` is set when an existing object is being refined: accepting replaces it.
    """

    def __init__(self, class_id: int, target_id: str | None = None) -> None:
        self.class_id = class_id
        self.target_id = target_id
        self.state = DraftState()
        self._history: list[DraftState] = []
        self.candidates: list[Candidate] = []
        self.candidate_index = 0

    # Shortcuts to the current state.
    @property
    def points(self) -> tuple[tuple[float, float], ...]:
        return self.state.points

    @property
    def labels(self) -> tuple[int, ...]:
        return self.state.labels

    @property
    def box(self) -> tuple[float, float, float, float] | None:
        return self.state.box

    @property
    def mask(self) -> MaskCrop:
        return self.state.mask

    @property
    def polygon(self) -> tuple[tuple[float, float], ...]:
        return self.state.polygon

    @property
    def has_prompt(self) -> bool:
        return bool(self.state.points) or self.state.box is not None

    @property
    def is_empty(self) -> bool:
        s = self.state
        return not s.points and s.box is None and s.mask.is_empty and not s.polygon

    def step(self, **changes: object) -> None:
        """A new step (undoable with :meth:`back`); candidates belong to the old state."""
        self._history.append(self.state)
        self.state = replace(self.state, **changes)
        self.candidates = []

    def update(self, **changes: object) -> None:
        """Change the current step in place (a SAM answer to the step's prompt)."""
        self.state = replace(self.state, **changes)

    def back(self) -> bool:
        """Return to the state before the last step; False when there is none."""
        if not self._history:
            return False
        self.state = self._history.pop()
        self.candidates = []
        return True

    @property
    def steps(self) -> int:
        return len(self._history)


def draft_region(draft: Draft, tolerance: float, min_area: float):
    """The draft's geometry as a document Region (polygon drawn, or mask traced).

    Returns an empty Region when there is nothing to accept (an empty mask, a polygon
    with fewer than three vertices).
    """
    from samdesk.core.document import PolygonPart, Region
    from samdesk.core.geometry import make_valid_region
    from samdesk.ui.tools.masks import crop_to_region

    if draft.polygon:
        if len(draft.polygon) < 3:
            return Region()
        return make_valid_region(Region((PolygonPart(np.asarray(draft.polygon)),)))
    return crop_to_region(draft.mask, tolerance, min_area)


def draft_prompt_record(draft: Draft) -> dict | None:
    """The SAM prompt that produced the draft, as the document keeps it (provenance)."""
    if not draft.has_prompt:
        return None
    return {
        "points": [list(p) for p in draft.points],
        "labels": list(draft.labels),
        "box": list(draft.box) if draft.box is not None else None,
    }


def candidates_from(masks, scores, low_res_logits) -> list[Candidate]:
    """SAM's multimask answer (C×H×W masks, C scores, C×256×256 logits) as candidates."""
    from samdesk.ui.tools.masks import MaskCrop

    return [
        Candidate(MaskCrop(np.asarray(mask, bool)).tight(), float(score), logits[None].copy())
        for mask, score, logits in zip(masks, scores, low_res_logits, strict=True)
    ]
