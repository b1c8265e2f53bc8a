"""The classes of a new project: a typed list, or loaded from a names file.

A small widget of its own, so the New Project dialog (and any other place) can put it
where it fits: a text box with one class name a line, a "Load…" button for
``classes.txt`` / ``data.yaml`` / ``*.names``, and a line saying what will be created.
``suggest_from(folder)`` fills it from a names file lying in the images folder, unless
the user has typed something.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from samdesk.io.class_names import NamesFileError, clean_names, find_names_file, read_class_names
from samdesk.ui import theme

NAMES_FILTER = "Class names (classes.txt *.txt *.names data.yaml *.yaml *.yml);;All files (*)"


class ClassNamesField(QWidget):
    """Signals: names_changed(object): the list of names now (after typing or loading)."""

    names_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QPlainTextEdit()
        self.edit.setObjectName("ClassNamesEdit")
        self.edit.setPlaceholderText("One class a line, e.g.\ncar\ndog\nperson")
        self.edit.setTabChangesFocus(True)
        self.edit.setFixedHeight(96)
        self.load_button = QPushButton("Load classes.txt / data.yaml…")
        self.load_button.clicked.connect(lambda _checked=False: self._browse())
        self.info = QLabel()
        self.info.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.load_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        layout.addLayout(row)
        layout.addWidget(self.info)
        self._loaded_from: Path | None = None
        self._typed = False
        self._suggested = False  # the names came from a file in the images folder
        self.edit.textChanged.connect(self._on_text_changed)
        self._filling = False
        self._show_info()

    def names(self) -> list[str]:
        """The class names, in order, each once (commas separate names too)."""
        text = self.edit.toPlainText().replace(",", "\n")
        return clean_names(text.splitlines())

    def set_names(self, names: list[str]) -> None:
        self._filling = True
        self.edit.setPlainText("\n".join(names))
        self._filling = False
        self._show_info()

    def load(self, path: str | Path) -> bool:
        """Fill the list from a names file; False (and the reason shown) when it fails."""
        try:
            names = read_class_names(path)
        except NamesFileError as exc:
            self._show_info(str(exc), error=True)
            return False
        if not names:
            self._show_info(f"{Path(path).name} holds no class names", error=True)
            return False
        self._loaded_from = Path(path)
        self.set_names(names)
        return True

    def suggest_from(self, folder: str | Path) -> bool:
        """Load the names file in ``folder`` if there is one and nothing was typed; the
        names suggested by another folder go when this one has none."""
        if self._typed:
            return False
        found = None
        if str(folder).strip() and Path(folder).is_dir():
            found = find_names_file(folder)
        if found is None:
            if self._suggested:
                self._suggested, self._loaded_from = False, None
                self.set_names([])
            return False
        if found == self._loaded_from:
            return False
        self._suggested = self.load(found)
        return self._suggested

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Class names file", "", NAMES_FILTER)
        if path and self.load(path):
            self._suggested = False  # chosen by the user: kept whatever the folder

    def _on_text_changed(self) -> None:
        if not self._filling:
            self._typed = bool(self.edit.toPlainText().strip())
            self._loaded_from, self._suggested = None, False
        self._show_info()

    def _show_info(self, error_text: str | None = None, *, error: bool = False) -> None:
        names = self.names()
        if error_text is not None:
            text = error_text
        elif not names:
            text = (
                "No classes yet: type them or load a names file. Without a class, "
                "samdesk asks for one when you accept the first object."
            )
        else:
            keys = ", ".join(f"{(i + 1) % 10}: {n}" for i, n in enumerate(names[:10]))
            more = f" (+{len(names) - 10} without a key)" if len(names) > 10 else ""
            source = f" from {self._loaded_from.name}" if self._loaded_from else ""
            text = f"{len(names)} classes{source} — keys {keys}{more}"
        self.info.setText(text)
        color = theme.error_color().name() if error else ""
        self.info.setStyleSheet(f"color:{color}" if color else "")
        self.names_changed.emit(names)
