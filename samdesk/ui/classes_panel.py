"""The Classes panel: add, rename, recolour, reorder and delete the project's label classes.

Undo: class edits go on one project-level ``QUndoStack`` (``ClassesPanel.undo_stack``),
separate from the per-image stacks of the annotator, because a class belongs to the whole
project, not to the image on screen. Each command stores the class list before and after
(a handful of small records), and ``redo``/``undo`` put one of them in place and save the
project file. Deleting a class that still has objects also rewrites those images (the
objects are deleted or moved to another class); that command stores each touched image's
object list before and after, so it is undone as a whole. Because the per-image undo
histories would then refer to objects that changed behind their back, the window clears
them after such a delete (``objects_rewritten``).

Keyboard digits follow the list order: the first nine classes get keys 1-9, the tenth 0.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QButtonGroup,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from samdesk.core.document import LabelClass

ID_ROLE = Qt.ItemDataRole.UserRole + 1

Apply = Callable[[list[LabelClass]], None]


def renumber_keys(classes: list[LabelClass]) -> list[LabelClass]:
    """Copies of ``classes`` with keys 1..9, 0 by position (None from the eleventh on)."""
    out = []
    for i, c in enumerate(classes):
        key = (i + 1) % 10 if i < 10 else None
        out.append(replace(c, key=key))
    return out


def swatch(color: str, size: int = 14) -> QIcon:
    """A small square of ``color`` with a thin contrasting frame (reads on light and dark)."""
    from PySide6.QtGui import QPainter

    from samdesk.ui.theme import text_on

    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(color))
    painter = QPainter(pixmap)
    painter.setPen(text_on(color))
    painter.drawRect(0, 0, size - 1, size - 1)
    painter.end()
    return QIcon(pixmap)


class ClassListCommand(QUndoCommand):
    """Replace the project's class list by ``after``; undo puts ``before`` back."""

    def __init__(
        self, apply: Apply, before: list[LabelClass], after: list[LabelClass], text: str
    ) -> None:
        super().__init__(text)
        self._apply = apply
        self.before = copy.deepcopy(before)
        self.after = copy.deepcopy(after)

    def redo(self) -> None:
        self._apply(copy.deepcopy(self.after))

    def undo(self) -> None:
        self._apply(copy.deepcopy(self.before))


class DeleteClassCommand(ClassListCommand):
    """Delete a class and delete or move its objects on every image (one undo step)."""

    def __init__(
        self,
        apply: Apply,
        before: list[LabelClass],
        after: list[LabelClass],
        store: Any,
        images: list[tuple[str, list, list]],
        rewritten: Callable[[], None],
        saved: Callable[[str, BaseException | None], None] = lambda path, exc: None,
    ) -> None:
        """``saved(path, exc)`` hears each image's save: ``exc`` is None when it worked."""
        super().__init__(apply, before, after, "Delete class")
        self._store = store
        self._images = images  # (path, objects before, objects after)
        self._rewritten = rewritten
        self._saved = saved

    def _set_objects(self, index: int) -> None:
        # Every image gets its new objects in memory first; a failed save (full disk…) is
        # handed to ``saved`` and the loop goes on, so memory stays consistent and the save
        # guard keeps it for a retry. Nothing may escape: Qt cannot undo a half-done redo.
        for path, *versions in self._images:
            try:
                record = self._store.load_image_annotations(path)
                record.objects = list(versions[index])
                self._store.save_image(record)
            except Exception as exc:
                self._saved(path, exc)
            else:
                self._saved(path, None)
        self._rewritten()

    def redo(self) -> None:
        self._set_objects(1)
        super().redo()

    def undo(self) -> None:
        super().undo()
        self._set_objects(0)


class DeleteClassDialog(QDialog):
    """Ask what happens to the objects of a class being deleted."""

    def __init__(
        self, doomed: LabelClass, count: int, others: list[LabelClass], parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Delete class “{doomed.name}”")
        self.delete_objects = QRadioButton(f"Delete its {count} objects")
        self.move_objects = QRadioButton("Move them to class:")
        self.target = QComboBox()
        for c in others:
            self.target.addItem(swatch(c.color), c.name, c.id)
        group = QButtonGroup(self)
        group.addButton(self.delete_objects)
        group.addButton(self.move_objects)
        self.move_objects.setEnabled(bool(others))
        (self.move_objects if others else self.delete_objects).setChecked(True)
        self.move_objects.toggled.connect(self.target.setEnabled)
        self.target.setEnabled(self.move_objects.isChecked())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"“{doomed.name}” has {count} objects in this project."))
        layout.addWidget(self.delete_objects)
        row = QHBoxLayout()
        row.addWidget(self.move_objects)
        row.addWidget(self.target, 1)
        layout.addLayout(row)
        layout.addWidget(buttons)

    def choice(self) -> int | None:
        """The class id to move the objects to, or None to delete them."""
        return self.target.currentData() if self.move_objects.isChecked() else None


class ClassesPanel(QWidget):
    """Signals:
    classes_changed(object): the project's class list after an edit (or undo/redo).
    class_activated(int): the user picked a class to draw with.
    objects_rewritten(): a class delete changed objects on several images.
    error(str): a message for the user.
    project_save_failed(object): saving the project file failed (the exception).
    classes_remapped(object): {old id: new id} — another annotator took our new class ids.
    image_save_failed(str, object): a class delete could not save an image (path, exception);
        its objects stay changed in memory (``samdesk.ui.save_state`` shows it and retries).
    image_saved(str): a class delete (or its undo) saved an image.
    """

    classes_changed = Signal(object)
    class_activated = Signal(int)
    objects_rewritten = Signal()
    error = Signal(str)
    project_save_failed = Signal(object)  # the exception; the project file is not saved
    classes_remapped = Signal(object)  # {old id: new id}: another annotator took our new ids
    image_save_failed = Signal(str, object)  # path, exception
    image_saved = Signal(str)  # path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store: Any = None
        self.undo_stack = QUndoStack(self)
        self.list = QListWidget()
        self.list.setIconSize(QSize(14, 14))
        self.list.setEditTriggers(
            QListWidget.EditTrigger.DoubleClicked | QListWidget.EditTrigger.EditKeyPressed
        )
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.itemClicked.connect(lambda item: self.class_activated.emit(item.data(ID_ROLE)))
        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        self.buttons: dict[str, QToolButton] = {}
        for name, tip, slot in (
            ("+", "Add a class (asks for its name)", self.ask_new_class),
            ("✎", "Rename the selected class (F2)", self._rename_selected),
            ("◐", "Change the colour of the selected class", self._recolour_selected),
            ("▲", "Move up", lambda: self._move_selected(-1)),
            ("▼", "Move down", lambda: self._move_selected(1)),
            ("−", "Delete the selected class", self._delete_selected),
        ):
            button = QToolButton(text=name, toolTip=tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[name] = button
        buttons.addStretch(1)
        stack = self.undo_stack
        for text, run, can, tip in (
            ("↶", stack.undo, stack.canUndoChanged, stack.undoTextChanged),
            ("↷", stack.redo, stack.canRedoChanged, stack.redoTextChanged),
        ):
            button = QToolButton(text=text, enabled=False)
            button.clicked.connect(run)
            can.connect(button.setEnabled)
            verb = "Undo" if text == "↶" else "Redo"
            tip.connect(lambda t, b=button, v=verb: b.setToolTip(f"{v} {t}".strip()))
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self._filling = False
        self._current: int | None = None

    # ----- model ---------------------------------------------------------------------------
    @property
    def classes(self) -> list[LabelClass]:
        return self.store.project.classes if self.store is not None else []

    def set_project(self, store: Any) -> None:
        self.store = store
        self.undo_stack.clear()
        self._refill()

    def set_current(self, class_id: int | None) -> None:
        """Mark the class the annotator draws with (bold)."""
        self._current = class_id
        self._refill()

    def _refill(self) -> None:
        self._filling = True
        selected = self.selected_id()
        self.list.clear()
        for c in self.classes:
            key = f"{c.key}  " if c.key is not None else "    "
            item = QListWidgetItem(swatch(c.color), f"{key}{c.name}")
            item.setData(ID_ROLE, c.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            font = item.font()
            font.setBold(c.id == self._current)
            item.setFont(font)
            self.list.addItem(item)
            if c.id == selected:
                self.list.setCurrentItem(item)
        self._filling = False

    def selected_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(ID_ROLE) if item is not None else None

    def select(self, class_id: int) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(ID_ROLE) == class_id:
                self.list.setCurrentRow(i)

    def _apply(self, classes: list[LabelClass]) -> None:
        """Put ``classes`` in the project and save the project file (commands call this)."""
        self.store.project.classes[:] = classes
        remap: dict[int, int] = {}
        try:
            remap = self.store.save_project() or {}
        except Exception as exc:  # reported in words; the save guard retries it
            from samdesk.io.project import describe_save_error

            self.error.emit(f"Could not save the classes: {describe_save_error(exc)}")
            self.project_save_failed.emit(exc)
        self._refill()
        # The store merged in other annotators' classes (and may have moved a new one).
        merged = list(self.store.project.classes)
        if [c.id for c in merged] != [c.id for c in classes]:
            # The class history holds lists without their classes: undoing one of those
            # would delete their classes. It goes (after this command is on the stack).
            QTimer.singleShot(0, self.undo_stack.clear)
        self.classes_changed.emit(merged)
        if remap:
            self.classes_remapped.emit(remap)

    def _image_saved(self, path: str, exc: BaseException | None) -> None:
        if exc is None:
            self.image_saved.emit(path)
        else:
            self.image_save_failed.emit(path, exc)

    def _push(self, after: list[LabelClass], text: str) -> None:
        self.undo_stack.push(
            ClassListCommand(self._apply, self.classes, renumber_keys(after), text)
        )

    # ----- edits ---------------------------------------------------------------------------
    def add_class(self, name: str | None = None, color: str | None = None) -> int | None:
        """Add a class (a free name and palette colour by default); returns its id."""
        if self.store is None:
            return None
        from samdesk.io._formats import palette_color

        project = self.store.project
        new_id = project.next_class_id()
        if name is not None and not isinstance(name, str):
            # A button's ``checked`` bool must never become a class name ("False").
            raise TypeError(f"a class name must be a string, got {name!r}")
        names = {c.name for c in self.classes}
        if name is None:
            name = self.free_name()
        elif name in names:
            self.error.emit(f"A class named “{name}” exists already")
            return None
        color = color or palette_color(len(self.classes))
        self._push([*self.classes, LabelClass(new_id, name, color)], "Add class")
        self.select(new_id)
        return new_id

    def free_name(self) -> str:
        """A name no class has yet ("class 4")."""
        names = {c.name for c in self.classes}
        n = len(self.classes) + 1
        while f"class {n}" in names:
            n += 1
        return f"class {n}"

    def ask_new_class(self, *, label: str = "Name of the new class:") -> int | None:
        """Ask for a name (the "+" button, Edit → Add Class) and add the class; its id, or
        None when cancelled or refused (a duplicate name is reported through ``error``)."""
        if self.store is None:
            self.error.emit("Open a project first")
            return None
        dialog = QInputDialog(self)
        dialog.setObjectName("NewClassNameDialog")
        dialog.setWindowTitle("New class")
        dialog.setLabelText(label)
        dialog.setTextValue(self.free_name())
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        name = dialog.textValue().strip()
        dialog.deleteLater()  # not kept hidden under the panel (nor as the active window)
        if not accepted:
            return None
        if not name:
            self.error.emit("A class needs a name")
            return None
        return self.add_class(name)

    def rename_class(self, class_id: int, name: str) -> bool:
        name = name.strip()
        if not name or any(c.name == name and c.id != class_id for c in self.classes):
            self.error.emit(f"“{name}” is empty or already used by another class")
            self._refill()
            return False
        after = [replace(c, name=name) if c.id == class_id else c for c in self.classes]
        if after != self.classes:
            self._push(after, "Rename class")
        return True

    def recolour_class(self, class_id: int, color: str) -> None:
        color = QColor(color).name()
        after = [replace(c, color=color) if c.id == class_id else c for c in self.classes]
        if after != self.classes:
            self._push(after, "Recolour class")

    def move_class(self, class_id: int, delta: int) -> None:
        after = list(self.classes)
        index = next(i for i, c in enumerate(after) if c.id == class_id)
        target = min(max(index + delta, 0), len(after) - 1)
        if target != index:
            after.insert(target, after.pop(index))
            self._push(after, "Reorder classes")
            self.select(class_id)

    def object_usage(self, class_id: int) -> dict[str, int]:
        """Images with objects of ``class_id``: project path → count (loads annotations)."""
        usage: dict[str, int] = {}
        for index, record in enumerate(self.store.project.images):
            if self.store.object_count(index) == 0:
                continue  # known from the index: no need to load this image
            record = self.store.load_image_annotations(index)
            count = sum(1 for o in record.objects if o.class_id == class_id)
            if count:
                usage[record.path] = count
        return usage

    def ask_delete_choice(self, doomed: LabelClass, count: int) -> tuple[bool, int | None]:
        """(go ahead, class id to move the objects to or None to delete them)."""
        others = [c for c in self.classes if c.id != doomed.id]
        dialog = DeleteClassDialog(doomed, count, others, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False, None
        return True, dialog.choice()

    def delete_class(self, class_id: int) -> bool:
        """Delete a class; if it has objects, ask whether to delete or move them."""
        doomed = self.store.project.class_by_id(class_id)
        if doomed is None:
            return False
        after = renumber_keys([c for c in self.classes if c.id != class_id])
        usage = self.object_usage(class_id)
        if not usage:
            self.undo_stack.push(ClassListCommand(self._apply, self.classes, after, "Delete class"))
            return True
        go, target = self.ask_delete_choice(doomed, sum(usage.values()))
        if not go:
            return False
        images = []
        for path in usage:
            objects = self.store.load_image_annotations(path).objects
            if target is None:
                new = [o for o in objects if o.class_id != class_id]
            else:
                new = [
                    replace(o, class_id=target) if o.class_id == class_id else o for o in objects
                ]
            images.append((path, list(objects), new))
        self.undo_stack.push(
            DeleteClassCommand(
                self._apply,
                self.classes,
                after,
                self.store,
                images,
                self.objects_rewritten.emit,
                self._image_saved,
            )
        )
        return True

    # ----- UI glue -------------------------------------------------------------------------
    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        text = item.text().strip()
        # The item shows "<key>  <name>"; an edit may keep or drop the key prefix.
        if text[:1].isdigit() and "  " in text:
            text = text.split("  ", 1)[1]
        class_id = item.data(ID_ROLE)
        # Later: the rename refills the list, which must not happen inside the editor's commit.
        QTimer.singleShot(0, lambda: self.rename_class(class_id, text))

    def _rename_selected(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.editItem(item)

    def _recolour_selected(self) -> None:
        class_id = self.selected_id()
        label_class = self.store.project.class_by_id(class_id) if class_id is not None else None
        if label_class is None:
            return
        color = QColorDialog.getColor(QColor(label_class.color), self, "Class colour")
        if color.isValid():
            self.recolour_class(class_id, color.name())

    def _move_selected(self, delta: int) -> None:
        class_id = self.selected_id()
        if class_id is not None:
            self.move_class(class_id, delta)

    def _delete_selected(self) -> None:
        class_id = self.selected_id()
        if class_id is not None:
            self.delete_class(class_id)
