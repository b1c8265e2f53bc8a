"""Brush strokes of the annotator (a mixin of ``Annotator``, kept apart for size).

A stroke paints into the draft's own copy of its mask, or into a copy of the selected
object's mask; a stroke on an object becomes one undo command on release, its polygon
traced by the annotator's ``RegionConverter`` (in the background when it is slow).
"""

from __future__ import annotations

from typing import Any

from samdesk.core.document import AnnotationObject, ObjectSource, Region
from samdesk.ui.accepting import Conversion
from samdesk.ui.commands import RemoveObjectCommand, ReplaceObjectCommand
from samdesk.ui.tools.draft import Draft
from samdesk.ui.tools.masks import MaskCrop, paint_segment, region_crop


class BrushStrokesMixin:
    """Brush and eraser on the draft or the selected object. Needs the ``Annotator``'s
    state (record, draft, stack, converter, brush_radius, _stroke) and signals."""

    # ----- brush strokes ---------------------------------------------------------------------
    def begin_stroke(self, x: float, y: float, value: bool) -> None:
        """Brush (value True) or eraser (False) pressed at (x, y)."""
        if self.record is None or self._frozen():
            return
        obj = self.selected_object() if self.draft is None else None
        if obj is not None:
            base = region_crop(obj.region)  # a fresh array: the stroke paints into it
            self._stroke = {"object": obj, "crop": base, "last": (x, y), "value": value}
        else:
            if self.draft is None:
                if not value:
                    return  # erasing nothing
                self.draft = Draft(self.class_id if self.class_id is not None else 0)
                self.draft.update(source=ObjectSource.BRUSH)
                self.hover = None
            # The stroke paints into its own copy: the step before it keeps the old mask
            # (Backspace), and an edited mask is no longer SAM's own answer (no logits).
            own = MaskCrop(self.draft.mask.mask.copy(), self.draft.mask.offset)
            source = self.draft.state.source.brushed()  # a SAM mask painted on: "sam+brush"
            self.draft.step(mask=own, logits=None, source=source)
            self._stroke = {"object": None, "crop": own, "last": (x, y), "value": value}
        self.stroke_to(x, y)

    def stroke_to(self, x: float, y: float) -> None:
        stroke = self._stroke
        if stroke is None:
            return
        crop, changed = paint_segment(
            stroke["crop"],
            stroke["last"],
            (x, y),
            self.brush_radius,
            stroke["value"],
            self.image_size(),
        )
        if crop is stroke["crop"]:
            self.stroke_dirty = changed  # painted in place: the overlay redoes this rect
        stroke["crop"], stroke["last"] = crop, (x, y)
        if stroke["object"] is None and self.draft is not None:
            self.draft.update(mask=crop)
        self.draft_changed.emit()
        self.stroke_dirty = None

    @property
    def stroke_preview(self) -> tuple[str, MaskCrop] | None:
        """(object id, mask) while a stroke edits an existing object."""
        s, converting = self._stroke, self.converter.current
        if s is None and converting is not None and converting.stack is self.stack:
            return converting.preview  # the stroke converts: still shown
        if s is None or s["object"] is None:
            return None
        return s["object"].id, s["crop"]

    def end_stroke(self) -> None:
        """Mouse released: an edit of an existing object becomes one undo command."""
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return
        obj, record, crop = stroke["object"], self.record, stroke["crop"].tight()
        if obj is not None and record is not None and self.stack is not None:

            def build(region: Region) -> Any:
                if all(o.id != obj.id for o in record.objects):
                    return None  # deleted meanwhile (an undo): nothing to edit
                if region.is_empty:
                    return RemoveObjectCommand(record, obj.id, self._changed)
                new = AnnotationObject(
                    obj.class_id, region, obj.source.brushed(), obj.id, obj.prompt, obj.hidden
                )
                return ReplaceObjectCommand(record, new, self._changed, "Brush stroke")

            self._convert(Conversion(crop, self.stack, build, preview=(obj.id, crop)))
        elif self.draft is not None:
            self.draft.update(mask=self.draft.mask.tight())
        self.draft_changed.emit()

    def resize_brush(self, factor: float) -> None:
        self.brush_radius = float(min(500.0, max(1.0, self.brush_radius * factor)))
        self.message.emit(f"Brush size {self.brush_radius * 2:.0f} px")
        self.draft_changed.emit()
