"""Unaccepted objects kept per image (a mixin of ``Annotator``, kept apart for size).

The rule (one for every way of leaving an image, and for leaving the project):

* Leaving an image (A/D, the image list, N, Ctrl+Enter, a failed load) never drops the
  object being built: it is kept in memory for that image (``stashed``) and comes back,
  prompts, mask and Backspace history intact, when the user returns to the image.
* Leaving the project (quit, another project, a new project) with unaccepted objects
  asks once: accept them all, discard them, or cancel (``samdesk.ui.drafts``).

Nothing is asked on every image change because paging through images while an object is
half-built is normal work (checking the next frame, then coming back); a question each
time would be answered by reflex and protect nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from samdesk.core.document import AnnotationObject, ImageRecord, Region
from samdesk.ui.commands import AddObjectCommand, ReplaceObjectCommand
from samdesk.ui.tools.draft import Draft, draft_prompt_record, draft_region
from samdesk.ui.tools.masks import crop_to_region, polygon_options


@dataclass
class StashedDraft:
    """A draft left on an image; ``needs_decode``: SAM's answer to its last prompt had
    not come back (asked again when the image is shown)."""

    draft: Draft
    needs_decode: bool = False


class DraftStashMixin:
    """Needs the ``Annotator``'s state (record, draft, store, classes, _stacks, converter,
    _pending, _pending_kind, _needs_decode) and its signals."""

    stashed: dict[str, StashedDraft]

    # ----- leaving and coming back -----------------------------------------------------------
    def _stash_draft(self) -> None:
        """The image on screen is being left: keep its unaccepted object for later."""
        self.end_stroke()  # a stroke in progress ends as on release (nothing half-painted)
        draft, record = self.draft, self.record
        if record is None or draft is None or draft.is_empty:
            return
        waiting = self._needs_decode or (
            self._pending is not None and self._pending_kind != "hover"
        )
        self.stashed[record.path] = StashedDraft(draft, waiting)
        self.message.emit(f"The unaccepted object on {record.path} is kept: come back to accept it")

    def _restore_draft(self, record: ImageRecord) -> None:
        """The image is shown again: its unaccepted object is the draft again."""
        kept = self.stashed.pop(record.path, None)
        if kept is None:
            return
        draft = kept.draft
        if self.classes and all(c.id != draft.class_id for c in self.classes):
            # Its class was deleted meanwhile: it takes the current one (shown, not hidden).
            draft.class_id = self.class_id if self.class_id is not None else self.classes[0].id
        self.draft = draft
        self.draft_changed.emit()
        if kept.needs_decode:
            self._decode_draft("click")

    def _forget_draft(self, draft: Draft) -> None:
        """``draft`` was accepted (perhaps after its image was left): not pending any more."""
        for path, kept in list(self.stashed.items()):
            if kept.draft is draft:
                del self.stashed[path]

    def _strip_stashed_logits(self) -> None:
        """The model was swapped: drafts kept on other images keep their masks and
        prompts, but the old model's logits must not reach the new one."""
        for kept in self.stashed.values():
            kept.draft.update(logits=None)
            kept.draft.candidates = []

    # ----- what is pending ---------------------------------------------------------------------
    def pending_drafts(self) -> dict[str, Draft]:
        """Image path → its unaccepted object: the kept ones and the one on screen."""
        pending = {path: kept.draft for path, kept in self.stashed.items()}
        if self.record is not None and self.draft is not None and not self.draft.is_empty:
            pending[self.record.path] = self.draft
        return pending

    def finish_conversion(self) -> bool:
        """Convert the mask being accepted in the background now, on this thread, and add
        it (quitting or closing the project must not drop work the user accepted).
        True when there was one."""
        conversion = self.converter.current
        if conversion is None:
            return False
        self.converter.cancel()  # its background result is ignored from now on
        region = crop_to_region(conversion.crop, *polygon_options(self.store))
        command = conversion.build(region)
        if command is not None:
            conversion.stack.push(command)
        self.draft_changed.emit()
        return True

    def _draft_command(self, draft: Draft, record: ImageRecord, region: Region) -> Any:
        """The undo command that adds ``draft`` as an object (or replaces the object it
        refines) with the geometry ``region``; says what it did in the status bar."""
        from samdesk.ui.naming import new_object_label

        prompt = draft_prompt_record(draft)
        old = None
        if draft.target_id is not None:
            old = next((o for o in record.objects if o.id == draft.target_id), None)
        if old is not None:
            new = replace(
                old,
                class_id=draft.class_id,
                region=region,
                prompt=prompt or old.prompt,
                source=draft.state.source,  # true to how the new geometry was made
            )
            self.message.emit(f"Refined {self.describe(old)}")
            return ReplaceObjectCommand(record, new, self._changed, "Refine object")
        obj = AnnotationObject(draft.class_id, region, draft.state.source, prompt=prompt)
        self.message.emit(f"Added {new_object_label(record, obj, self.classes)}")
        return AddObjectCommand(record, obj, self._changed)

    def accept_pending_drafts(self) -> list[str]:
        """Add every unaccepted object to its image (each its own undo step, autosaved).

        Masks are traced here, synchronously (this runs when the project is left). Returns
        the images whose object could not be added (no mask yet, an empty polygon).
        """
        self.finish_conversion()
        if getattr(self, "read_only", False):  # view-only: nothing can be written
            failed = list(self.pending_drafts())
            self.message.emit("The project is read-only: the unaccepted objects are not saved")
            self.discard_pending_drafts()
            return failed
        tolerance, min_area = polygon_options(self.store)
        failed = []
        for path, draft in self.pending_drafts().items():
            stack = self._stacks.get(path)
            try:
                record = self.store.record(path)
            except (KeyError, ValueError):
                record = None
            region = draft_region(draft, tolerance, min_area)
            if stack is None or record is None or region.is_empty:
                failed.append(path)
                continue
            known = {c.id for c in self.classes}
            if draft.class_id not in known:  # its class was deleted: the current one
                if self.class_id not in known:
                    failed.append(path)  # never an object of no class
                    continue
                draft.class_id = self.class_id
            stack.push(self._draft_command(draft, record, region))
        self.discard_pending_drafts()
        if failed:
            self.message.emit(
                "Nothing to accept (no mask yet, or no class) on "
                + ", ".join(failed)
                + ": not added"
            )
        return failed

    def discard_pending_drafts(self) -> None:
        """Drop every unaccepted object (the user said so)."""
        self.stashed.clear()
        if self.draft is not None:
            self.discard()
