"""The window's side of unaccepted objects: the question on leaving, the status text.

The annotator keeps an unaccepted object per image (``samdesk.ui.draft_stash``); the
window must not lose them when the project is left. ``DraftGuard`` asks once, before
quitting or opening another project (new or existing), when any are pending:

    "2 unaccepted objects on images a.jpg, b.jpg" — Accept All / Discard / Cancel

Cancel keeps the window and the project as they are. A mask still being traced in the
background after Enter is finished first (it was accepted already), whatever the answer.

The workflow's close handling calls ``confirm_leave`` first on quit (Cancel keeps the
window open); ``MainWindow.open_path`` calls it before another project is opened.

``DraftGuard`` also keeps a permanent status-bar text while an object is being built
("Draft — Enter to accept, Esc to discard"), so a draft is never taken for saved work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from samdesk.ui.overlay import show_work

ACCEPT, DISCARD, CANCEL = "accept", "discard", "cancel"
DRAFT_STATUS = "Draft — Enter to accept, Esc to discard"
MAX_NAMES = 5  # image names listed in the question; the rest are counted


def pending_text(paths: list[str]) -> str:
    """ "N unaccepted object(s) on image(s) a, b" for the question and the status bar."""
    n = len(paths)
    names = ", ".join(paths[:MAX_NAMES])
    if n > MAX_NAMES:
        names += f" and {n - MAX_NAMES} more"
    return f"{n} unaccepted object{'s' if n != 1 else ''} on image{'s' if n != 1 else ''} {names}"


def ask_pending(parent: QWidget | None, paths: list[str], leaving: str) -> str:
    """Ask what to do with the unaccepted objects on ``paths``: ACCEPT, DISCARD or CANCEL."""
    box = QMessageBox(parent)
    box.setObjectName("PendingDraftsBox")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Unaccepted objects")
    box.setText(pending_text(paths))
    one = len(paths) == 1  # one draft per image
    it, they, objects = ("it", "It is", "an object") if one else ("them", "They are", "objects")
    box.setInformativeText(
        f"{they} not saved yet. Accept {it} as {objects} before {leaving}, or discard {it}?"
    )
    accept = box.addButton("Accept All", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(accept)
    box.setEscapeButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    if clicked is accept:
        return ACCEPT
    if clicked is discard:
        return DISCARD
    return CANCEL


class DraftGuard(QObject):
    """Guards the window's unaccepted objects (see the module docstring).

    ``ask(paths, leaving) -> ACCEPT | DISCARD | CANCEL`` asks the user (a message box by
    default; a script or test may put a function here).
    """

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.ask: Callable[[list[str], str], str] = lambda paths, leaving: ask_pending(
            window, paths, leaving
        )
        self.status = QLabel("")
        self.status.setObjectName("DraftStatus")
        self.status.setStyleSheet("font-weight: bold; padding: 0 6px;")
        # Permanent: a passing status message (a tool tip, "Saved") must not hide it.
        window.statusBar().insertPermanentWidget(0, self.status)
        self.status.hide()
        annotator = window.annotator
        annotator.draft_changed.connect(self.update_status)
        # The draft's stripes keep their width on screen: re-rendered at a new zoom.
        window.canvas.zoom_changed.connect(lambda _scale: show_work(window.canvas, annotator))

    def update_status(self) -> None:
        """Show the draft text while an object is being built; count the kept ones."""
        a = self.window.annotator
        current = a.draft is not None and not a.draft.is_empty
        others = len(a.stashed)
        parts = [DRAFT_STATUS] if current else []
        if others:
            parts.append(f"{others} unaccepted on other images")
        self.status.setText("  ·  ".join(parts))
        self.status.setVisible(bool(parts))
        self.window.image_list.model.set_drafts(set(a.pending_drafts()))  # ✎ in the list

    def confirm_leave(self, leaving: str = "leaving the project") -> bool:
        """Before the project is left: True to go on (the objects were accepted or
        discarded, or there were none), False when the user cancelled."""
        a = self.window.annotator
        if a.store is None:
            return True
        a.finish_conversion()
        pending = a.pending_drafts()
        if not pending:
            return True
        choice = self.ask(list(pending), leaving)
        if choice == ACCEPT:
            a.accept_pending_drafts()
        elif choice == DISCARD:
            a.discard_pending_drafts()
        else:
            return False
        self.update_status()
        return True


def install_drafts(window: Any) -> DraftGuard:
    """Add the unaccepted-object guard and status to ``window`` (and hand the project's
    class stack to its Undo); returns the guard."""
    guard = DraftGuard(window)
    window.drafts = guard
    # Class edits are undone by the window's Ctrl+Z too (samdesk.ui.history).
    window.history.add_project_stack(window.workflow.classes_panel.undo_stack)
    return guard
