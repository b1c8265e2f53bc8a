"""The main window: composes the canvas and panels and wires their signals; decides nothing."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QWidget,
)

import samdesk
from samdesk.ui.canvas import CanvasView
from samdesk.ui.image_list import ImageListPanel
from samdesk.ui.project_controller import ProjectController


class MainWindow(QMainWindow):
    """samdesk's window. ``open_path`` opens a project file or a folder holding one."""

    def __init__(self, *, checkpoint: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.checkpoint = checkpoint
        self.controller = ProjectController(self)
        self.canvas = CanvasView(self)
        self.setCentralWidget(self.canvas)
        self.image_list = ImageListPanel(self)
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setMaximumBlockCount(2000)
        self._images_dock = self._dock(
            "Images", self.image_list, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self._log_dock = self._dock("Log", self.log_view, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._log_dock.hide()
        self._model_label = QLabel("No model")
        self._cursor_label = QLabel("")
        self._zoom_label = QLabel("")
        for label in (self._cursor_label, self._zoom_label, self._model_label):
            self.statusBar().addPermanentWidget(label)
        self._build_menus()
        self._wire()
        self._update_title()
        self.resize(1400, 900)
        self._restore_layout()

    # ----- construction ------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title}Dock")  # restoreState needs stable names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, menu, text: str, slot, shortcut: QKeySequence | str | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work even while the menu bar is hidden
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Open Project…", self._ask_open, QKeySequence.StandardKey.Open)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        view = bar.addMenu("&View")
        self._action(view, "&Fit to Window", self.canvas.fit_to_window, "F")
        self._action(
            view, "Zoom &In", lambda: self.canvas.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn
        )
        self._action(
            view, "Zoom &Out", lambda: self.canvas.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut
        )
        self._action(view, "&Actual Size", self.canvas.zoom_to_actual_size, "Ctrl+0")
        view.addSeparator()
        view.addAction(self._images_dock.toggleViewAction())
        view.addAction(self._log_dock.toggleViewAction())
        go = bar.addMenu("&Go")
        self._action(go, "&Next Image", lambda: self._step(1), "D")
        self._action(go, "&Previous Image", lambda: self._step(-1), "A")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About samdesk", self._about)

    def _wire(self) -> None:
        c = self.controller
        c.project_opened.connect(self._on_project_opened)
        c.image_shown.connect(self._on_image_shown)
        c.image_failed.connect(self._on_image_failed)
        c.error.connect(self.report_error)
        self.image_list.image_activated.connect(c.show_image)
        self.canvas.cursor_moved.connect(
            lambda x, y: self._cursor_label.setText(f"x {x:.0f}  y {y:.0f}")
        )
        self.canvas.zoom_changed.connect(lambda s: self._zoom_label.setText(f"{s * 100:.0f}%"))

    # ----- actions -----------------------------------------------------------------------
    def open_path(self, path: Path) -> bool:
        return self.controller.open(Path(path))

    def _ask_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", "", "samdesk projects (*.samdesk.yaml);;All files (*)"
        )
        if path:
            self.open_path(Path(path))

    def _step(self, delta: int) -> None:
        rows = self.image_list.visible_rows()
        if not rows:
            return
        current = self.controller.current_row
        if current in rows:
            position = min(max(rows.index(current) + delta, 0), len(rows) - 1)
        else:
            position = 0
        self.controller.show_image(rows[position])

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About samdesk",
            f"<b>samdesk {samdesk.__version__}</b><p>Image annotation with Segment Anything.</p>",
        )

    def report_error(self, message: str) -> None:
        """Show a problem without blocking: status bar for a while, and the log panel."""
        self.statusBar().showMessage(message, 10_000)
        self.log_view.appendPlainText(message)

    # ----- controller events ---------------------------------------------------------------
    def _on_project_opened(self) -> None:
        images = self.controller.images
        store = self.controller.store
        counts = [store.object_count(i) for i in range(len(images))]
        self.image_list.model.set_images(images, counts)
        self._update_title()
        if images:
            self.controller.show_image(0)

    def _on_image_shown(self, row: int, image, record) -> None:
        self.canvas.set_image(image)
        self.canvas.set_objects(record.objects, self.controller.store.project.classes)
        self.image_list.select_row(row)
        self._update_title()

    def _on_image_failed(self, row: int, message: str) -> None:
        self.canvas.set_image(None)
        self.image_list.select_row(row)

    def _update_title(self) -> None:
        parts = ["samdesk"]
        store = self.controller.store
        if store is not None:
            parts.insert(0, store.project.name or store.root.name)
            row = self.controller.current_row
            if row is not None:
                parts.insert(0, self.controller.images[row].path)
        self.setWindowTitle(" — ".join(parts))

    # ----- persistence -------------------------------------------------------------------
    def _restore_layout(self) -> None:
        settings = QSettings()
        geometry = settings.value("window/geometry")
        state = settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        settings = QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        self.controller.shutdown()
        super().closeEvent(event)
