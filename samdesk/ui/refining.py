"""Refining an existing object: an explicit, visible mode of the annotator (a mixin of
``Annotator``, kept apart for size).

A plain SAM click never touches the selected object (it starts a new one). Refining is
asked for — "Refine Selected Object" (Shift+R, the tool bar), or R ("Refine with SAM") on
a selected object — and the window shows a banner while it lasts. The object's mask
becomes the draft (and SAM's first mask prompt); Enter replaces the object's geometry
(its ``source`` becomes how the new geometry was made: ``sam`` once SAM answered),
Escape leaves the object as it was.
"""

from __future__ import annotations

from samdesk.core.document import AnnotationObject
from samdesk.ui.naming import object_label
from samdesk.ui.tools.draft import Draft
from samdesk.ui.tools.masks import low_res_logits, region_crop


class RefineMixin:
    """The refine mode. Needs the ``Annotator``'s state (record, draft, classes, hover)
    and its ``message``/``draft_changed`` signals."""

    @property
    def refine_target(self) -> str | None:
        """The id of the object being refined (the explicit refine mode), or None."""
        return self.draft.target_id if self.draft is not None else None

    def start_refine(self) -> bool:
        """Refine the selected object: its mask becomes the draft (SAM's first mask prompt)
        and clicks add points to it; Enter replaces its geometry, Escape leaves it as it is."""
        obj = self.selected_object()
        if self.record is None or self._frozen():
            return False
        if self.refine_target is not None:
            return True
        if obj is None:
            self.message.emit("Select an object first (Select tool, V), then refine it")
            return False
        if self.draft is not None and not self.draft.is_empty:
            self.message.emit("Accept or discard the object being built first")
            return False
        draft = Draft(obj.class_id, obj.id)
        crop = region_crop(obj.region)
        logits = low_res_logits(crop, self.image_size()) if self.sam_available else None
        draft.update(mask=crop, logits=logits, source=obj.source)
        self.draft, self.hover = draft, None
        self.message.emit(f"Refining {self.describe(obj)} — click to add points; Esc cancels")
        self.draft_changed.emit()
        return True

    def describe(self, obj: AnnotationObject | str | None) -> str:
        """``obj`` as the user sees it: "truck.jpg #2 (dog)" (see ``samdesk.ui.naming``)."""
        return object_label(self.record, obj, self.classes)
