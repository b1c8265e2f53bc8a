"""Help → Keyboard Shortcuts: a table generated from the window's actions (never stale)."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

EXTRA_ROWS = (
    ("Canvas", "Add including point (SAM tools)", "Left click"),
    ("Canvas", "Add excluding point (SAM tools)", "Right click / Shift+click"),
    ("Canvas", "Pan", "Middle drag / Space+drag"),
    ("Canvas", "Zoom around the cursor", "Wheel"),
)


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str, str]]:
    """(menu, action, shortcuts) for every action that has a shortcut, in menu order."""
    rows = []
    for action in actions:
        keys = action.shortcuts()
        if not keys:
            continue
        text = action.text().replace("&", "").rstrip("…")
        menu = action.property("menu_name") or ""
        shown = " / ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
        rows.append((str(menu), text, shown))
    return rows


class ShortcutsDialog(QDialog):
    """Lists every action's shortcut; the table is built when the dialog opens."""

    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        rows = shortcut_rows(actions) + list(EXTRA_ROWS)
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Menu", "Action", "Shortcut"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 620)
