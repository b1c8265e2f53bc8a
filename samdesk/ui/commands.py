"""Undo commands: every change to an image's objects goes through one of these.

``redo()`` calls a pure ``ImageRecord`` method and keeps what it returns; ``undo()`` puts
the stored old value back. Regions are immutable, so storing the old object is storing
the changed geometry only (a polygon outline, never a full-frame mask). Saving is not
done here: the annotator saves the image whenever its stack's index changes (push, undo,
redo), so a command never writes a file twice or from inside ``redo()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtGui import QUndoCommand

from samdesk.core.document import AnnotationObject, ImageRecord

Changed = Callable[[ImageRecord], None]


class _ImageCommand(QUndoCommand):
    """A command on one image; ``changed(record)`` is called after each redo/undo."""

    def __init__(self, text: str, record: ImageRecord, changed: Changed) -> None:
        super().__init__(text)
        self.record = record
        self._changed = changed

    def _notify(self) -> None:
        self._changed(self.record)


class AddObjectCommand(_ImageCommand):
    """Add a new object (on top, or at ``index``)."""

    def __init__(
        self, record: ImageRecord, obj: AnnotationObject, changed: Changed, index: int | None = None
    ) -> None:
        super().__init__("Add object", record, changed)
        self.obj = obj
        self._index = index

    def redo(self) -> None:
        self._index = self.record.add_object(self.obj, self._index)
        self._notify()

    def undo(self) -> None:
        self.record.remove_object(self.obj.id)
        self._notify()


class RemoveObjectCommand(_ImageCommand):
    """Delete an object; undo puts it back at its former position in the drawing order."""

    def __init__(self, record: ImageRecord, object_id: str, changed: Changed) -> None:
        super().__init__("Delete object", record, changed)
        self.object_id = object_id
        self._index = 0
        self._obj: AnnotationObject | None = None

    def redo(self) -> None:
        self._index, self._obj = self.record.remove_object(self.object_id)
        self._notify()

    def undo(self) -> None:
        assert self._obj is not None
        self.record.add_object(self._obj, self._index)
        self._notify()


class ReplaceObjectCommand(_ImageCommand):
    """Replace an object by a new version with the same id (geometry, class, visibility).

    One gesture (a vertex drag, a brush stroke, a SAM refinement) is one of these: the tool
    edits a preview while the mouse is down and pushes the final object on release.
    """

    def __init__(
        self, record: ImageRecord, new: AnnotationObject, changed: Changed, text: str
    ) -> None:
        super().__init__(text, record, changed)
        self.new = new
        self.old: AnnotationObject | None = None

    def redo(self) -> None:
        self.old = self.record.replace_object(self.new)
        self._notify()

    def undo(self) -> None:
        assert self.old is not None
        self.record.replace_object(self.old)
        self._notify()


def set_class(obj: AnnotationObject, class_id: int) -> AnnotationObject:
    """A copy of ``obj`` with another class (same id)."""
    return replace(obj, class_id=class_id)


def set_hidden(obj: AnnotationObject, hidden: bool) -> AnnotationObject:
    """A copy of ``obj`` shown or hidden (same id)."""
    return replace(obj, hidden=hidden)
