"""New Project from Folder: pick a folder of images, name the project, scan sub-folders.

The dialog counts the images it would list (common types, TIFF and WebP included: the
suffixes of ``samdesk.core.images.IMAGE_EXTENSIONS``) as the user types, so an empty or
wrong folder is visible before anything is written. ``accept()`` creates the project file
(``ProjectStore.create``); ``store`` holds it afterwards.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from samdesk.io.class_names import classes_from_names
from samdesk.ui import theme
from samdesk.ui.class_names_field import ClassNamesField


class NewProjectDialog(QDialog):
    """Create a project in an existing folder. After ``accept()``, ``store`` is the project."""

    def __init__(self, folder: str | Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New Project from Folder")
        self.store = None
        self.folder_edit = QLineEdit(str(folder) if folder else "")
        self.folder_edit.setPlaceholderText("Folder with the images")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Defaults to the folder's name")
        self.recursive = QCheckBox("Include images in sub-folders")
        self.recursive.setChecked(True)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.classes_field = ClassNamesField()  # samdesk.ui.class_names_field
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Folder:", row)
        form.addRow("Name:", self.name_edit)
        form.addRow("", self.recursive)
        form.addRow("Classes:", self.classes_field)
        form.addRow(self.info)
        form.addRow(self.buttons)
        self.folder_edit.textChanged.connect(self._refresh)
        self.recursive.toggled.connect(self._refresh)
        self.resize(560, 0)
        self._refresh()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Folder with images", self.folder_edit.text()
        )
        if folder:
            self.folder_edit.setText(folder)

    def image_count(self) -> int | None:
        """Images the project would list now; None when the folder is not a folder."""
        from samdesk.core.images import scan_images

        folder = Path(self.folder_edit.text().strip()).expanduser()
        if not self.folder_edit.text().strip() or not folder.is_dir():
            return None
        try:
            return len(scan_images(folder, self.recursive.isChecked()))
        except OSError:
            return None

    def _refresh(self) -> None:
        self.classes_field.suggest_from(self.folder_edit.text().strip())
        count = self.image_count()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(count is not None)
        if count is None:
            self._say("Choose an existing folder.", error=bool(self.folder_edit.text().strip()))
        else:
            self._say(
                f"{count} images found (JPEG, PNG, TIFF, WebP, BMP, …)."
                + ("" if count else " You can add images to the folder later.")
            )

    def _say(self, text: str, *, error: bool = False) -> None:
        self.info.setText(text)
        color = theme.error_color().name() if error else ""
        self.info.setStyleSheet(f"color:{color}" if color else "")

    def accept(self) -> None:
        """Create the project; on failure the reason is shown and the dialog stays open."""
        from samdesk.io.project import ProjectStore

        folder = Path(self.folder_edit.text().strip()).expanduser()
        try:
            self.store = ProjectStore.create(
                folder,
                self.name_edit.text().strip() or None,
                recursive=self.recursive.isChecked(),
                classes=classes_from_names(self.classes_field.names()),
            )
        except FileExistsError as exc:
            self._say(f"{exc}. Use File → Open Project to open it.", error=True)
            return
        except OSError as exc:
            self._say(f"Could not create the project: {exc}", error=True)
            return
        super().accept()
