"""The annotator: the object being built, SAM requests, selection, classes and undo.

Tools turn mouse gestures into calls here; the annotator decides what they mean, asks the
engine for masks, and commits finished work to the document only through undo commands
(one ``QUndoStack`` per image in a ``QUndoGroup``). It never paints: the canvas listens to
its signals.

Decoding is latest-wins end to end: at most one prompt is in flight from here; the live
preview under the cursor submits the newest cursor position only when the previous answer
has come back, so it runs at the rate the decoder sustains and never lags behind a queue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoGroup, QUndoStack

from samdesk.core.document import AnnotationObject, ImageRecord, LabelClass, ObjectSource, Region
from samdesk.ui.accepting import Conversion, RegionConverter
from samdesk.ui.commands import (
    RemoveObjectCommand,
    ReplaceObjectCommand,
    set_class,
    set_hidden,
)
from samdesk.ui.draft_stash import DraftStashMixin, StashedDraft
from samdesk.ui.engine_bridge import EngineBridge, now
from samdesk.ui.refining import RefineMixin
from samdesk.ui.strokes import BrushStrokesMixin
from samdesk.ui.tools.draft import Draft, candidates_from, draft_region
from samdesk.ui.tools.masks import (
    MaskCrop,
    low_res_logits,
    polygon_options,
)


class Annotator(DraftStashMixin, RefineMixin, BrushStrokesMixin, QObject):
    """Signals:
    draft_changed(): the object being built (or the hover preview) changed.
    document_changed(object): an ImageRecord's objects changed (after a command).
    saved(int, int): row, object count — the image's annotations were written.
    selection_changed(object): the selected object id, or None.
    class_changed(int): the current class id.
    click_latency(float): milliseconds from a click to its mask being shown.
    waiting_changed(bool): whether SAM tools are waiting for the image's embedding.
    message(str): a short note for the status bar.
    class_needed(): an object was to be accepted but the project has no class for it.
    save_failed(str, object): image path, exception — an autosave failed (the edit stays in
        memory, the stack dirty; ``samdesk.ui.save_state`` shows it and retries).
    """

    draft_changed = Signal()
    document_changed = Signal(object)
    saved = Signal(int, int)
    selection_changed = Signal(object)
    class_changed = Signal(int)
    click_latency = Signal(float)
    waiting_changed = Signal(bool)
    message = Signal(str)
    class_needed = Signal()
    save_failed = Signal(str, object)

    def __init__(self, engine: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.undo_group = QUndoGroup(self)
        self.store: Any = None
        self.row: int | None = None
        self.record: ImageRecord | None = None
        self.classes: list[LabelClass] = []
        self.class_id: int | None = None
        self.draft: Draft | None = None
        self.stashed: dict[str, StashedDraft] = {}
        """Unaccepted objects of images not on screen, by image path (``draft_stash``)."""
        self.hover: MaskCrop | None = None
        self.hover_score: float | None = None
        self.hover_enabled = True  # View → Hover Preview (samdesk.ui.view_options)
        self.selected_id: str | None = None
        self.brush_radius = 12.0
        self._stacks: dict[str, QUndoStack] = {}
        self._pending: Any = None  # the Prompt in flight from here
        self._pending_kind = ""
        self._pending_started = 0.0
        self._hover_next: tuple[float, float] | None = None
        self._needs_decode = False
        self._accept_when_ready = False
        self._stroke: dict[str, Any] | None = None
        self.stroke_dirty: tuple[int, int, int, int] | None = None
        """While ``draft_changed`` is emitted for a brush dab painted in place: its rect."""
        self.converter = RegionConverter(self)
        self.converter.finished.connect(self._on_converted)
        self.converter.failed.connect(self.message)
        engine.decoded.connect(self._on_decoded)
        engine.decode_failed.connect(self._on_decode_failed)
        engine.embedding_ready.connect(self._on_embedding_ready)

    # ----- project and image ---------------------------------------------------------------
    def set_project(self, store: Any) -> None:
        """A project was opened: forget the previous one's stacks and drafts (asked about)."""
        self.converter.cancel()  # its stack goes
        self.stashed.clear()
        for stack in self._stacks.values():
            stack.indexChanged.disconnect(self._on_index_changed)
            self.undo_group.removeStack(stack)
            stack.deleteLater()
        self._stacks.clear()
        self.store = store
        self.classes = list(store.project.classes) if store is not None else []
        self.record = None
        self.row = None
        self._reset_image_state()
        self.set_class(self.classes[0].id if self.classes else None)

    def set_image(self, row: int | None, record: ImageRecord | None) -> None:
        """The image on screen changed (its annotations loaded); drafts kept per image."""
        self._stash_draft()
        self.row, self.record = row, record
        self._reset_image_state()
        if record is None:
            self.undo_group.setActiveStack(None)
            return
        stack = self._stacks.get(record.path)
        if stack is None:
            stack = QUndoStack(self.undo_group)  # unlimited by default
            stack.setProperty("image_path", record.path)
            # A bound method (not a lambda): Qt drops the connection when the annotator
            # goes, so a stack destroyed with the window never saves into a closed project.
            stack.indexChanged.connect(self._on_index_changed)
            self._stacks[record.path] = stack
        # A read-only project is view-only: without an active stack every edit is refused.
        self.undo_group.setActiveStack(None if self.read_only else stack)
        self.waiting_changed.emit(self.waiting)
        self._restore_draft(record)

    def image_size(self) -> tuple[int, int]:
        """(width, height) of the image on screen."""
        r = self.record
        return (r.width, r.height) if r is not None else (0, 0)

    def _reset_image_state(self) -> None:
        self._accept_when_ready = False
        self.draft = None
        self.hover = None
        self._pending = None
        self._hover_next = None
        self._needs_decode = False
        self._stroke = None
        self.select(None)
        self.draft_changed.emit()

    @property
    def read_only(self) -> bool:
        """The project cannot be saved (opened from a read-only folder): view only."""
        return bool(getattr(self.store, "read_only", False))

    def _refuse_read_only(self) -> bool:
        if self.read_only and self.record is not None:
            self.message.emit("This project is read-only: changes cannot be made or saved")
            return True
        return False

    @property
    def stack(self) -> QUndoStack | None:
        return self.undo_group.activeStack()

    # ----- SAM readiness ---------------------------------------------------------------------
    @property
    def sam_available(self) -> bool:
        return self.engine.available

    @property
    def waiting(self) -> bool:
        """SAM tools wait: a model is there but this image's embedding is not (yet)."""
        return self.engine.available and self.record is not None and not self.engine.is_ready()

    def _on_embedding_ready(self, _key: str) -> None:
        self.waiting_changed.emit(False)
        if self._needs_decode:  # the user clicked while waiting: that they did ask for
            self._needs_decode = False
            self._decode_draft("click")

    def forget_engine_work(self) -> bool:
        """The model was swapped: drop requests in flight, the preview and a draft built on
        SAM's answers (its low-res logits are the old model's). True: a draft was dropped."""
        draft = self.draft
        lost = draft is not None and (draft.has_prompt or draft.state.logits is not None)
        lost = lost and not self._frozen(quiet=True)  # being accepted: its mask is final
        self.draft = None if lost else draft
        self._strip_stashed_logits()
        self.hover = self._pending = self._hover_next = None
        self._needs_decode = self._accept_when_ready = False
        self.draft_changed.emit()  # the waiting state follows the bridge's availability_changed
        return lost

    # ----- classes and selection -------------------------------------------------------------
    def set_class(self, class_id: int | None) -> None:
        """Make ``class_id`` current; it also applies to the draft and the selected object."""
        self.class_id = class_id
        if class_id is None:
            return
        if self.draft is not None:
            self.draft.class_id = class_id
            self.draft_changed.emit()
        obj = self.selected_object()
        if obj is not None and obj.class_id != class_id:
            self.push(
                ReplaceObjectCommand(
                    self.record, set_class(obj, class_id), self._changed, "Change class"
                )
            )
        self.class_changed.emit(class_id)

    def pick_class_key(self, key: int) -> bool:
        """Number key ``key`` pressed: pick the class bound to it (LabelClass.key)."""
        for label_class in self.classes:
            if label_class.key == key:
                self.set_class(label_class.id)
                return True
        return False

    def class_color(self, class_id: int | None) -> str:
        for label_class in self.classes:
            if label_class.id == class_id:
                return label_class.color
        return "#ff00ff"

    def select(self, object_id: str | None) -> None:
        if object_id == self.selected_id:
            return
        self.selected_id = object_id
        self.selection_changed.emit(object_id)

    def selected_object(self) -> AnnotationObject | None:
        if self.record is None or self.selected_id is None:
            return None
        try:
            return self.record.get_object(self.selected_id)
        except KeyError:
            return None

    # ----- committing ------------------------------------------------------------------------
    def push(self, command: Any) -> None:
        """Put a document change on the current image's stack (runs its redo())."""
        if self._refuse_read_only():
            return
        if self.stack is not None:
            self.stack.push(command)

    def _changed(self, record: ImageRecord) -> None:
        selected = self.selected_id
        # The selected object is gone (undo of its creation, deletion): unselect it.
        if (
            record is self.record
            and selected is not None
            and all(o.id != selected for o in record.objects)
        ):
            self.select(None)
        self.document_changed.emit(record)

    def _on_index_changed(self, _index: int) -> None:
        stack = self.sender()
        if isinstance(stack, QUndoStack) and self.store is not None:
            path = stack.property("image_path")
            try:
                record = self.store.record(path)
            except (KeyError, ValueError):
                return
            self._autosave(record, stack)

    def _autosave(self, record: ImageRecord, stack: QUndoStack) -> None:
        """Save the image after each change (push, undo, redo); clean when it worked."""
        try:
            self.store.save_image(record)
        except Exception as exc:  # the stack stays dirty: the title shows unsaved work
            from samdesk.io.project import describe_save_error

            reason = describe_save_error(exc, getattr(self.store, "root", None))
            self.message.emit(f"Could not save {record.path}: {reason}")
            self.save_failed.emit(record.path, exc)
            return
        stack.setClean()
        try:
            row = self.store.project.image_index(record.path)
        except KeyError:
            return
        self.saved.emit(row, len(record.objects))

    def accept(self) -> bool:
        """Turn the draft into an object of the current class (or the refined object).

        Pressed while the answer to the draft's last prompt is still coming (a fast
        Enter after a click), the draft is accepted as soon as that answer is shown. A mask
        slow to trace is converted in the background (``converter``): the draft is frozen
        until the object is added (input on it is ignored) and Escape cancels.
        """
        draft, record, stack = self.draft, self.record, self.stack
        if draft is not None and self._refuse_read_only():
            return False
        if draft is None or record is None or stack is None or self._frozen():
            return False
        known = {c.id for c in self.classes}
        if draft.class_id not in known:  # never an object of no class ("? (id 0)")
            if self.class_id not in known:
                self.message.emit("This object needs a class: name one to accept it")
                self.class_needed.emit()
                return False
            draft.class_id = self.class_id
        if self._pending is not None and self._pending_kind != "hover":
            self._accept_when_ready = True
            return True

        def build(region: Region) -> Any:  # on the GUI thread, right before the push
            if region.is_empty:
                self.message.emit("Nothing to accept: the object is empty")
                return None
            if self.draft is draft:
                self._finish_draft()
            self._forget_draft(draft)  # accepted after its image was left: not pending
            return self._draft_command(draft, record, region)

        if draft.polygon:  # a drawn polygon: nothing to trace
            command = build(draft_region(draft, *polygon_options(self.store)))
            if command is not None:
                stack.push(command)
            return command is not None
        return self._convert(Conversion(draft.mask, stack, build, draft=draft))

    def _convert(self, conversion: Conversion) -> bool:
        pushed = self.converter.run(conversion, *polygon_options(self.store))
        if pushed is None:
            self.message.emit("Converting the mask to polygons… (Escape cancels)")
            return True
        return pushed

    def _frozen(self, quiet: bool = False) -> bool:
        """A mask of this image converts: its draft and objects wait (input is ignored)."""
        current = self.converter.current
        if current is None or current.stack is not self.stack:
            return False
        if not quiet:
            self.message.emit("Still converting the object… (Escape cancels)")
        return True

    def _on_converted(self, conversion: Conversion, pushed: bool) -> None:
        if pushed and conversion.stack is not self.stack:
            self.message.emit(f"Object saved to {conversion.stack.property('image_path')}")
        self.draft_changed.emit()  # a stroke's preview ends

    def _finish_draft(self) -> None:
        self.draft = None
        self._pending = None
        self._accept_when_ready = False
        self.select(None)
        self.draft_changed.emit()

    def discard(self) -> None:
        """Escape: drop the draft; with no draft, clear the selection.

        While the object is converting, Escape cancels that (nothing is added) and the
        draft is editable again; a brush stroke on an object is dropped.
        """
        if self._frozen(quiet=True):
            self.converter.cancel()
            self.message.emit("Accept cancelled")
            self.draft_changed.emit()
        elif self.draft is not None or self.hover is not None:
            if self.refine_target is not None:
                self.message.emit(f"Refining cancelled: {self.describe(self.refine_target)} kept")
            self.draft = None
            self.hover = None
            self._pending = None
            self._needs_decode = False
            self._accept_when_ready = False
            self.draft_changed.emit()
        else:
            self.select(None)

    def remove_last(self) -> bool:
        """Backspace: take back the draft's last step (point, box, stroke, vertex)."""
        draft = self.draft
        if draft is None or self._frozen():
            return False
        if not draft.back() or draft.is_empty:
            self.draft = None
        self._pending = None
        self.draft_changed.emit()
        return True

    def delete_selected(self) -> None:
        if self.selected_object() is not None and not self._frozen():
            text = f"Deleted {self.describe(self.selected_id)} (Ctrl+Z brings it back)"
            self.push(RemoveObjectCommand(self.record, self.selected_id, self._changed))
            self.message.emit(text)

    def toggle_selected_hidden(self) -> None:
        obj = self.selected_object()
        if obj is not None:
            text = "Show object" if obj.hidden else "Hide object"
            self.push(
                ReplaceObjectCommand(
                    self.record, set_hidden(obj, not obj.hidden), self._changed, text
                )
            )

    # ----- SAM prompts -----------------------------------------------------------------------
    def _new_draft(self) -> Draft:
        """The draft the next prompt goes to: the one being built, or a new object.

        A selected object is never refined by a plain click: refining is the explicit
        mode of :meth:`start_refine`; a click with an object selected starts a new object.
        """
        if self.draft is not None:
            return self.draft
        self.select(None)
        draft = Draft(self.class_id if self.class_id is not None else 0)
        self.draft = draft
        self.hover = None
        return draft

    def add_point(self, x: float, y: float, positive: bool) -> None:
        """A click of a SAM tool: a point of the object being built."""
        if not self.sam_available or self.record is None or self._frozen():
            return
        draft = self._new_draft()
        draft.step(points=(*draft.points, (x, y)), labels=(*draft.labels, int(positive)))
        self._decode_draft("click")
        self.draft_changed.emit()

    def set_box(self, box: tuple[float, float, float, float]) -> None:
        """A box drawn with the SAM box tool (XYXY image pixels)."""
        if not self.sam_available or self.record is None or self._frozen():
            return
        x0, y0, x1, y1 = box
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        draft = self._new_draft()
        draft.step(box=box)
        self._decode_draft("click")
        self.draft_changed.emit()

    def refine_with_sam(self) -> None:
        """Feed the draft's (edited) mask back to SAM as its mask prompt, with its prompts."""
        if not self.sam_available or self.record is None or self._frozen():
            return
        if self.draft is None and not self.start_refine():
            return  # R on a selected object: the explicit refine mode, visibly
        draft = self._new_draft()
        if draft.mask.is_empty:
            return
        draft.step(logits=low_res_logits(draft.mask, self.image_size()))
        self._decode_draft("refine")
        self.draft_changed.emit()

    def _prompt_for(self, draft: Draft) -> Any:
        from samdesk.engine import Prompt

        s = draft.state
        points = np.asarray(s.points, np.float32).reshape(-1, 2) if s.points else None
        labels = np.asarray(s.labels, np.int32) if s.points else None
        box = np.asarray(s.box, np.float32) if s.box is not None else None
        return Prompt(points, labels, box, s.logits)

    def _decode_draft(self, kind: str) -> None:
        draft = self.draft
        if draft is None or (not draft.has_prompt and draft.state.logits is None):
            return
        self._submit(self._prompt_for(draft), kind)

    def _submit(self, prompt: Any, kind: str) -> None:
        if not self.engine.is_ready():
            if kind != "hover":
                self._needs_decode = True  # asked for: decode as soon as the image is ready
                self.message.emit("Waiting for the image embedding…")
            return
        self._pending, self._pending_kind = prompt, kind
        self._pending_started = now()
        self.engine.submit(prompt)

    def hover_at(self, x: float, y: float) -> None:
        """Live preview: the mask a click at (x, y) would give, before the first click."""
        if not self.hover_enabled:
            return
        if self.draft is not None or not self.engine.is_ready():
            return
        if self._pending is not None:
            self._hover_next = (x, y)  # sent when the answer in flight is back
            return
        self._submit_hover(x, y)

    def _submit_hover(self, x: float, y: float) -> None:
        from samdesk.engine import Prompt

        self._hover_next = None
        prompt = Prompt(np.asarray([[x, y]], np.float32), np.asarray([1], np.int32))
        self._submit(prompt, "hover")

    def hover_end(self) -> None:
        """The cursor left the image or the tool changed: no preview."""
        self._hover_next = None
        if self.hover is not None:
            self.hover = None
            self.draft_changed.emit()
        if self._pending_kind == "hover":
            self._pending = None

    def next_candidate(self) -> None:
        """Tab: cycle SAM's three candidates of an ambiguous single click."""
        from samdesk.engine import Prompt

        draft = self.draft
        if draft is None or self._frozen():
            return
        if draft.candidates:
            draft.candidate_index = (draft.candidate_index + 1) % len(draft.candidates)
            self._show_candidate(draft)
            return
        if len(draft.points) != 1 or draft.box is not None or not self.engine.is_ready():
            self.message.emit("Candidates are offered for a single click")
            return
        s = draft.state
        prompt = Prompt(
            np.asarray(s.points, np.float32), np.asarray(s.labels, np.int32), output="all"
        )
        self._submit(prompt, "candidates")

    def _show_candidate(self, draft: Draft) -> None:
        c = draft.candidates[draft.candidate_index]
        draft.update(mask=c.mask, logits=c.logits, score=c.score, source=ObjectSource.SAM)
        self.message.emit(
            f"Candidate {draft.candidate_index + 1}/{len(draft.candidates)}, "
            f"predicted IoU {c.score:.2f}"
        )
        self.draft_changed.emit()

    def _on_decoded(self, result: Any) -> None:
        if result.prompt is not self._pending:
            return  # superseded or discarded meanwhile
        kind = self._pending_kind
        self._pending = None
        if kind == "hover":
            best = result.best
            self.hover = MaskCrop(best.mask, best.offset)
            self.hover_score = best.score
            self.draft_changed.emit()
        elif kind == "candidates" and self.draft is not None:
            self._take_candidates(self.draft, result)
        elif self.draft is not None:
            best = result.best
            self.draft.update(  # SAM made this geometry, whatever the draft started from
                mask=MaskCrop(best.mask, best.offset),
                logits=best.low_res_logits,
                score=best.score,
                source=ObjectSource.SAM,
            )
            self.draft_changed.emit()
            self.click_latency.emit((now() - self._pending_started) * 1000.0)
        if self._accept_when_ready:
            self._accept_when_ready = False
            self.accept()
        if self._hover_next is not None and self.draft is None:
            self._submit_hover(*self._hover_next)

    def _take_candidates(self, draft: Draft, result: Any) -> None:
        draft.candidates = candidates_from(result.masks, result.scores, result.low_res_logits)
        best = int(np.argmax(result.scores))
        # The shown mask is the best; Tab moves on to the next one.
        draft.candidate_index = (best + 1) % len(draft.candidates)
        self._show_candidate(draft)

    def _on_decode_failed(self, message: str) -> None:
        self._pending = None
        self._accept_when_ready = False
        self.message.emit(f"SAM: {message}")

    # ----- polygon drawing -------------------------------------------------------------------
    def add_polygon_vertex(self, x: float, y: float) -> None:
        if self.record is None or self._frozen():
            return
        if self.draft is None or not self.draft.polygon:
            if self.draft is not None and not self.draft.is_empty:
                self.message.emit("Accept or discard the object being built first")
                return
            self.draft = Draft(self.class_id if self.class_id is not None else 0)
            self.draft.update(source=ObjectSource.POLYGON)
            self.hover = None
        self.draft.step(polygon=(*self.draft.polygon, (x, y)))
        self.draft_changed.emit()

    def replace_object(self, new: AnnotationObject, text: str) -> None:
        """Commit an edited version of an existing object (a vertex drag) as one command."""
        if self.record is not None:
            self.push(ReplaceObjectCommand(self.record, new, self._changed, text))


def image_key(store: Any, record: ImageRecord) -> str:
    """The engine's key of an image: its absolute path as a string."""
    return str(Path(store.image_abspath(record)))
