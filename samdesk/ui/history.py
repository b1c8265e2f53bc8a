"""One Undo for the user: Ctrl+Z undoes the last change, whatever it touched.

Object edits live on one ``QUndoStack`` per image (the annotator's ``QUndoGroup``), class
edits on the project's stack (the Classes panel's). The user does not know that: after
deleting a class, Ctrl+Z must bring the class back, and after drawing an object, remove
the object. ``UndoRouter`` stamps every change pushed on any of these stacks with an
increasing number and routes Undo to whichever candidate (the image on screen's stack,
the project stacks) holds the most recent change; Redo goes to the stack whose change
was undone last.

Undo on an image that is not on screen is not offered: its change would happen unseen.
"""

from __future__ import annotations

import itertools
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoGroup, QUndoStack


class UndoRouter(QObject):
    """Routes Undo/Redo between the active image stack and the project stacks.

    Signals: changed(): what Undo/Redo would do changed (texts, enabled states).
    """

    changed = Signal()

    def __init__(self, group: QUndoGroup, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.group: QUndoGroup | None = group
        self.project_stacks: list[QUndoStack] = []
        self._counter = itertools.count(1)
        # Per stack: [(command object, stamp)] for commands 0..count-1 as last seen.
        self._stamps: dict[QUndoStack, list[tuple[Any, int]]] = {}
        self._index: dict[QUndoStack, int] = {}
        self._undone: list[QUndoStack] = []  # stacks in the order their commands were undone
        self._acting = False
        group.activeStackChanged.connect(self._on_active_changed)
        group.destroyed.connect(self._on_group_destroyed)

    def _on_group_destroyed(self) -> None:
        # The window is going: stacks destroyed after the group must not reach it.
        self.group = None
        self.project_stacks = []

    # ----- stacks ----------------------------------------------------------------------------
    def add_project_stack(self, stack: QUndoStack) -> None:
        """A project-level stack (class edits) that Undo may route to."""
        self.project_stacks.append(stack)
        self._watch(stack)

    def _watch(self, stack: QUndoStack) -> None:
        if stack in self._index:
            return
        self._index[stack] = stack.index()
        self._stamps[stack] = [(stack.command(i), 0) for i in range(stack.index())]
        # Bound methods (not lambdas): Qt drops them when the router goes with its window.
        stack.indexChanged.connect(self._on_index_signal)
        stack.destroyed.connect(self._forget)
        self.changed.emit()

    def _on_index_signal(self, index: int) -> None:
        stack = self.sender()
        if isinstance(stack, QUndoStack):
            self._on_index(stack, index)

    def _forget(self, stack: QObject | None = None) -> None:
        stack = stack if stack is not None else self.sender()
        self._index.pop(stack, None)
        self._stamps.pop(stack, None)
        self._undone = [s for s in self._undone if s is not stack]

    def _on_active_changed(self, stack: QUndoStack | None) -> None:
        if stack is not None:
            self._watch(stack)
        self.changed.emit()

    def _on_index(self, stack: QUndoStack, index: int) -> None:
        if self.group is None:
            return
        old = self._index.get(stack, 0)
        self._index[stack] = index
        stamps = self._stamps.setdefault(stack, [])
        if index > old and not self._acting:
            # A push, or a redo from elsewhere (the panel's own buttons): a redo keeps the
            # command objects in place, a push puts a new one at index - 1.
            for i in range(old, index):
                command = stack.command(i)
                if i < len(stamps) and stamps[i][0] is command:
                    continue  # redone from elsewhere: keeps its stamp
                del stamps[i:]
                stamps.append((command, next(self._counter)))
            if index == stack.count():
                self._undone = [s for s in self._undone if s is not stack]
        self.changed.emit()

    # ----- routing ---------------------------------------------------------------------------
    def _candidates(self) -> list[QUndoStack]:
        if self.group is None:
            return []
        active = self.group.activeStack()
        stacks = [active] if active is not None else []
        return stacks + [s for s in self.project_stacks if s is not active]

    def _last_stamp(self, stack: QUndoStack) -> int:
        index = stack.index()
        stamps = self._stamps.get(stack, [])
        if index == 0:
            return -1
        return stamps[index - 1][1] if index - 1 < len(stamps) else 0

    def undo_target(self) -> QUndoStack | None:
        """The stack holding the most recent change the user can see, or None."""
        stacks = [s for s in self._candidates() if s.canUndo()]
        return max(stacks, key=self._last_stamp, default=None)

    def redo_target(self) -> QUndoStack | None:
        """The candidate stack whose change was undone last, or None."""
        candidates = self._candidates()
        for stack in reversed(self._undone):
            if stack in candidates and stack.canRedo():
                return stack
        return next((s for s in candidates if s.canRedo()), None)

    def undo(self) -> bool:
        stack = self.undo_target()
        if stack is None:
            return False
        self._acting = True
        try:
            stack.undo()
        finally:
            self._acting = False
        self._undone.append(stack)
        self.changed.emit()
        return True

    def redo(self) -> bool:
        stack = self.redo_target()
        if stack is None:
            return False
        self._acting = True
        try:
            stack.redo()
        finally:
            self._acting = False
        for i in range(len(self._undone) - 1, -1, -1):
            if self._undone[i] is stack:
                del self._undone[i]
                break
        self.changed.emit()
        return True

    # ----- actions ---------------------------------------------------------------------------
    def make_actions(self, parent: QObject) -> tuple[QAction, QAction]:
        """Edit → Undo (Ctrl+Z) and Redo (Ctrl+Shift+Z, Ctrl+Y), kept up to date."""
        undo = QAction("&Undo", parent)
        undo.setShortcuts([QKeySequence("Ctrl+Z")])
        redo = QAction("&Redo", parent)
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        undo.triggered.connect(self.undo)
        redo.triggered.connect(self.redo)

        def update() -> None:
            u, r = self.undo_target(), self.redo_target()
            undo.setEnabled(u is not None)
            redo.setEnabled(r is not None)
            undo.setText(f"&Undo {u.undoText()}".rstrip() if u is not None else "&Undo")
            redo.setText(f"&Redo {r.redoText()}".rstrip() if r is not None else "&Redo")

        self.changed.connect(update)
        update()
        return undo, redo
