"""Settings → Polygons: how this project's masks become polygons.

The values live in the project file (``Project.settings``, see ``PolygonOptions``), so a
team annotating one project gets the same outlines; they apply to objects accepted from
now on (existing objects keep their polygons).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QWidget

from samdesk.core.document import PolygonOptions


class PolygonSettingsDialog(QDialog):
    """Edit the open project's ``PolygonOptions``; ``accept()`` saves the project file."""

    def __init__(self, store: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Polygon Settings")
        self.store = store
        current = PolygonOptions.from_settings(store.project.settings)
        self.tolerance = QDoubleSpinBox(minimum=0.0, maximum=10.0, singleStep=0.25, decimals=2)
        self.tolerance.setSuffix(" px")
        self.tolerance.setValue(current.tolerance)
        self.tolerance.setToolTip(
            "How far a simplified outline may stray from the mask's pixel edges (0: exact)"
        )
        self.min_area = QDoubleSpinBox(minimum=0.0, maximum=100_000.0, singleStep=1.0, decimals=1)
        self.min_area.setSuffix(" px²")
        self.min_area.setValue(current.min_area)
        self.min_area.setToolTip("Specks and pinholes smaller than this are dropped")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Simplification tolerance:", self.tolerance)
        form.addRow("Minimum part area:", self.min_area)
        form.addRow(buttons)

    def options(self) -> PolygonOptions:
        return PolygonOptions(self.tolerance.value(), self.min_area.value())

    def accept(self) -> None:
        self.options().store_in(self.store.project.settings)
        self.store.save_project()
        super().accept()
