"""What is not saved, in plain sight: failed saves, read-only projects, damaged files.

``SaveGuard`` keeps the images whose last save failed with the reason in words ("The
disk is full", "The folder … is read-only" — never a temporary file's name). While any
exist a banner says so with a Retry button; Retry, Ctrl+S and the next edit try again.
The edits stay in memory (the undo stacks stay dirty) until a save works. Quitting with
anything unsaved asks Save / Discard / Cancel.

A project opened from a read-only folder is view-only: the banner says why and edits are
refused with a message. An image whose annotation file is damaged shows the damage in the
banner; its first edit asks before the file is replaced (a copy of it is kept).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QMessageBox, QToolBar, QToolButton, QWidget

from samdesk.ui import theme

PROJECT_FILE = "the project file"
"""The key of a failed project-file save (classes, image list) in ``SaveGuard.failures``."""


def ask_unsaved(parent: QWidget | None, text: str) -> str:
    """Save / Discard / Cancel before quitting; returns "save", "discard" or "cancel"."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Unsaved changes")
    box.setText("Some changes are not saved.")
    box.setInformativeText(text)
    save = box.addButton("Try to Save", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard and Quit", QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    return "save" if clicked is save else "discard" if clicked is discard else "cancel"


def ask_overwrite(parent: QWidget | None, path: str, problem: str) -> bool:
    """May the damaged annotation file of ``path`` be replaced (a copy is kept)?"""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Damaged annotation file")
    box.setText(f"The annotations of {path} on disk are damaged; not all could be read.")
    box.setInformativeText(
        f"{problem}\n\nSave your changes anyway? The damaged file is copied first "
        "(“….damaged-<time>” next to it), so nothing is lost."
    )
    save = box.addButton("Save (keep a copy)", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Don't Save", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return box.clickedButton() is save


class SaveGuard(QObject):
    """Signals: changed(): the set of unsaved things or the banner text changed.

    ``ask_unsaved(text) -> "save" | "discard" | "cancel"`` and
    ``ask_overwrite(path, problem) -> bool`` ask the user (message boxes by default;
    tests put functions here).
    """

    changed = Signal()

    def __init__(self, window: Any, panel: Any) -> None:
        """``panel``: the Classes panel, whose project-file saves are watched too."""
        super().__init__(window)
        self.window = window
        self.failures: dict[str, str] = {}  # image path (or PROJECT_FILE) → reason in words
        self.ask_unsaved: Callable[[str], str] = lambda text: ask_unsaved(window, text)
        self.ask_overwrite: Callable[[str, str], bool] = lambda path, problem: ask_overwrite(
            window, path, problem
        )
        self._declined: set[str] = set()  # damaged images whose overwrite was declined
        self._build_banner()
        a = window.annotator
        a.save_failed.connect(self._on_save_failed)
        a.saved.connect(self._on_saved)
        a.document_changed.connect(lambda _record: self._retry_others())
        window.controller.project_opened.connect(self._on_project_opened)
        window.controller.image_shown.connect(lambda *_: self._refresh())
        window.controller.reloaded.connect(self._on_reloaded)
        panel.project_save_failed.connect(
            lambda exc: self.record_failure(PROJECT_FILE, self.reason(exc))
        )
        panel.classes_remapped.connect(self._on_classes_remapped)
        panel.image_save_failed.connect(self._on_save_failed)  # a class delete's images
        panel.image_saved.connect(self._on_image_saved)
        self._panel = panel
        window.controller.has_unsaved = lambda path: path in self.unsaved_paths()
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.WindowActivate:
            self.check_disk()  # back from elsewhere: another annotator may have saved
        return super().eventFilter(watched, event)

    def check_disk(self) -> None:
        """Take what other annotators saved: their classes, and the image on screen if
        it has no unsaved edits here (``ProjectController`` reloads it when shown)."""
        store = self.window.controller.store
        if store is None:
            return
        try:
            if store.project_changed_on_disk():
                remap = store.reload_project()
                self._panel.undo_stack.clear()  # its lists lack the other's classes
                self._panel._refill()
                self._panel.classes_changed.emit(list(store.project.classes))
                if remap:
                    self._on_classes_remapped(remap)
        except Exception as exc:  # a broken project file of someone else: say so, go on
            self.window.report_error(f"Could not read the project file again: {exc}")
        row = self.window.controller.current_row
        record = self.window.annotator.record
        if (
            row is not None
            and record is not None
            and store.changed_elsewhere(row)
            and record.path not in self.unsaved_paths()
        ):
            self.window.controller.show_image(row)
        self._refresh()

    # ----- banner ----------------------------------------------------------------------------
    def _build_banner(self) -> None:
        bar = QToolBar("Save problems", self.window)
        bar.setObjectName("SaveBannerBar")  # restoreState needs stable names
        bar.setMovable(False)
        self.label = QLabel(wordWrap=True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QToolButton(text="Retry (Ctrl+S)")
        self.retry_button.clicked.connect(self.save_all)
        bar.addWidget(self.label)
        bar.addWidget(self.retry_button)
        bar.setStyleSheet(theme.banner_style().replace("QFrame", "QToolBar"))
        self.banner = bar
        self.window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        bar.hide()

    def banner_text(self) -> str:
        """What the banner says now ("" when it is hidden)."""
        store = self.window.controller.store
        lines = []
        if store is not None and store.read_only:
            why = store.read_only_reason or "The project was opened read-only"
            lines.append(f"Read-only: {why}. You can look, but changes cannot be saved.")
        if self.failures:
            shown = sorted(self.failures.items())[:3]
            more = len(self.failures) - len(shown)
            text = "; ".join(f"{path}: {reason}" for path, reason in shown)
            lines.append(
                f"Not saved — {text}"
                + (f" (and {more} more)" if more > 0 else "")
                + ". Your changes are kept here; Retry or Ctrl+S saves them."
            )
        record = self.window.annotator.record
        if store is not None and record is not None:
            problem = store.unreadable(record.path)
            if problem and record.path not in self.failures:
                lines.append(
                    f"The annotation file of {record.path} is damaged: {problem}. "
                    "What could be read is shown; editing asks before the file is replaced."
                )
        return "\n".join(lines)

    def _marks(self) -> dict[str, str]:
        store = self.window.controller.store
        if store is None:
            return {}
        marks = {
            path: f"damaged annotation file: {text}"
            for path, text in store.damaged_images().items()
        }
        for path in store.changed_on_disk():
            marks.setdefault(path, "changed by another annotator (shown again when opened)")
        for path, reason in self.failures.items():
            if path != PROJECT_FILE:
                marks[path] = f"not saved: {reason}"
        return marks

    def _refresh(self) -> None:
        self.window.image_list.model.set_marks(self._marks())
        text = self.banner_text()
        self.label.setText(text)
        self.retry_button.setVisible(bool(self.failures))
        self.banner.setVisible(bool(text))
        title = self.window.windowTitle()
        for suffix in (" — NOT SAVED", " — READ-ONLY"):
            title = title.removesuffix(suffix)
        store = self.window.controller.store
        if store is not None and store.read_only:
            title += " — READ-ONLY"
        self.window.setWindowTitle(title + (" — NOT SAVED" if self.failures else ""))
        self.changed.emit()

    def _on_classes_remapped(self, remap: dict[int, int]) -> None:
        a = self.window.annotator
        if a.class_id in remap:
            a.set_class(remap[a.class_id])
        record = a.record
        if record is not None:
            self.window.canvas.set_objects(record.objects, a.classes)

    def _on_reloaded(self, path: str) -> None:
        stack = self._stack(path)
        if stack is not None:
            stack.clear()  # its history describes the objects before the other's changes
        self.window.statusBar().showMessage(
            f"{path} was changed by another annotator: showing the saved version", 10_000
        )

    # ----- saves -----------------------------------------------------------------------------
    def _on_project_opened(self) -> None:
        self.failures.clear()
        self._declined.clear()
        self._refresh()

    def reason(self, exc: BaseException) -> str:
        """Why a save failed, in words (``describe_save_error`` for this project)."""
        from samdesk.io.project import describe_save_error

        store = self.window.controller.store
        return describe_save_error(exc, store.root if store is not None else None)

    def _on_save_failed(self, path: str, exc: BaseException) -> None:
        from samdesk.io.project import DamagedAnnotationsError

        store = self.window.controller.store
        if isinstance(exc, DamagedAnnotationsError) and store is not None:
            if path not in self._declined and self.ask_overwrite(path, exc.problems):
                try:
                    store.allow_overwrite(path)
                except OSError as error:
                    self.record_failure(path, self.reason(error))
                    return
                self.save_image(path)
                return
            self._declined.add(path)
            self.record_failure(path, "its damaged annotation file was kept (not replaced)")
            return
        self.record_failure(path, self.reason(exc))

    def _on_saved(self, row: int, _count: int) -> None:
        store = self.window.controller.store
        if store is not None and 0 <= row < len(store.project.images):
            path = store.project.images[row].path
            if self.failures.pop(path, None) is not None:
                self._refresh()
        self._show_merges()

    def _on_image_saved(self, path: str) -> None:
        if self.failures.pop(path, None) is not None:
            self._refresh()
        self._show_merges()

    def _show_merges(self) -> None:
        """A save took in another annotator's objects: show them, and say what needed a
        decision (both versions of an object kept…) in the log."""
        store = self.window.controller.store
        if store is None:
            return
        a = self.window.annotator
        merged, store.merged_images[:] = list(store.merged_images), []
        for path in dict.fromkeys(merged):
            record = store.record(path)
            if record is a.record:
                a.document_changed.emit(record)  # canvas and objects panel redraw
            row = store.project.image_index(path)
            self.window.image_list.model.update_row(row, store.object_count(row))
        notes, store.merge_notes[:] = list(store.merge_notes), []
        for note in notes:
            self.window.report_error(f"Merged with another annotator's save: {note}")

    def record_failure(self, path: str, reason: str) -> None:
        """Note that ``path`` (an image, or PROJECT_FILE) is not saved, and why."""
        self.failures[path] = reason
        self.window.report_error(f"Not saved: {path}: {reason}")
        self._refresh()

    def _stack(self, path: str) -> Any:
        return self.window.annotator._stacks.get(path)

    def save_image(self, path: str) -> bool:
        """Save one image now; True if it worked (its stack becomes clean)."""
        store = self.window.controller.store
        from samdesk.io.project import DamagedAnnotationsError

        try:
            record = store.record(path)
            store.save_image(record)
        except DamagedAnnotationsError as exc:
            if path in self._declined:
                self._declined.discard(path)  # an explicit Save asks again
            self._on_save_failed(path, exc)
            return path not in self.failures
        except Exception as exc:  # reported in words; the edits stay in memory
            self.record_failure(path, self.reason(exc))
            return False
        stack = self._stack(path)
        if stack is not None:
            stack.setClean()
        self.failures.pop(path, None)
        self._refresh()
        self._show_merges()
        return True

    def unsaved_paths(self) -> list[str]:
        """Images with edits not on disk (failed saves, dirty undo stacks)."""
        paths = set(self.failures) - {PROJECT_FILE}
        for path, stack in self.window.annotator._stacks.items():
            if not stack.isClean() and stack.count():
                paths.add(path)
        return sorted(paths)

    def save_all(self) -> bool:
        """Save every unsaved image and the project file; True if all of it worked."""
        store = self.window.controller.store
        if store is None:
            return True
        if store.read_only:
            self._refresh()
            return not self.unsaved_paths() and not self.failures
        ok = all([self.save_image(path) for path in self.unsaved_paths()])
        ok = self.save_project() and ok
        self._refresh()
        return ok

    def _retry_others(self) -> None:
        """An edit: images whose save failed earlier are tried again (the edited one
        saves itself)."""
        store = self.window.controller.store
        if not self.failures or store is None or store.read_only:
            return
        current = self.window.annotator.record
        for path in list(self.failures):
            if path == PROJECT_FILE:
                self.save_project()
            elif path not in self._declined and (current is None or path != current.path):
                self.save_image(path)

    def save_project(self) -> bool:
        """Save the project file now; True if it worked."""
        try:
            self.window.controller.store.save_project()
        except Exception as exc:
            self.record_failure(PROJECT_FILE, self.reason(exc))
            return False
        if self.failures.pop(PROJECT_FILE, None) is not None:
            self._refresh()
        return True

    def confirm_close(self) -> bool:
        """Quit? Saves what is unsaved; asks when something still is. False: stay open."""
        while True:
            if self.window.controller.store is None:
                return True
            ok = self.save_all() if self.unsaved_paths() or self.failures else True
            unsaved = self.unsaved_paths()
            if ok and not unsaved and not self.failures:
                return True
            reasons = [f"{path}: {self.failures.get(path, 'not saved')}" for path in unsaved[:8]]
            if PROJECT_FILE in self.failures:
                reasons.append(f"{PROJECT_FILE}: {self.failures[PROJECT_FILE]}")
            answer = self.ask_unsaved("\n".join(reasons))
            if answer == "discard":
                return True
            if answer != "save":
                return False
