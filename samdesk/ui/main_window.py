"""The main window: composes the canvas and panels and wires their signals; decides nothing."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

import samdesk
from samdesk.ui import gui_gc
from samdesk.ui import settings as user_settings
from samdesk.ui.annotator import Annotator, image_key
from samdesk.ui.canvas import CanvasView
from samdesk.ui.class_guard import install_class_guard
from samdesk.ui.drafts import install_drafts
from samdesk.ui.engine_bridge import EngineBridge
from samdesk.ui.feedback import install_feedback
from samdesk.ui.history import UndoRouter
from samdesk.ui.image_list import ImageListPanel
from samdesk.ui.overlay import show_work
from samdesk.ui.project_controller import ProjectController
from samdesk.ui.shortcuts_dialog import ShortcutsDialog
from samdesk.ui.start_page import install_start_page
from samdesk.ui.tool_bar import install_tool_bar
from samdesk.ui.tools import TOOL_CLASSES, Tool
from samdesk.ui.view_options import install_view_options
from samdesk.ui.workflow import install_workflow

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """samdesk's window. ``open_path`` opens a project file or a folder holding one."""

    # Quitting waits at most this long (seconds) for an encode in progress; None: join.
    shutdown_timeout: float | None = 1.0

    def __init__(self, *, checkpoint: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MainWindow")
        # Cycles holding widgets must be freed on this thread, never a worker's (gui_gc).
        gui_gc.install(QApplication.instance())
        self.checkpoint = checkpoint
        self.controller = ProjectController(self)
        self.canvas = CanvasView(self)
        checkpoint, engine_options = user_settings.engine_arguments(checkpoint)
        self.checkpoint = checkpoint
        self.engine = EngineBridge(checkpoint, self, **engine_options)
        self.annotator = Annotator(self.engine, self)
        self.tools: dict[str, Tool] = {
            cls.name: cls(self.canvas, self.annotator) for cls in TOOL_CLASSES
        }
        self.tool_actions: dict[str, QAction] = {}
        self.setCentralWidget(self.canvas)
        self._canvas_note = self._note_on(self.canvas.viewport())
        self.image_list = ImageListPanel(self)
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setMaximumBlockCount(2000)
        self._images_dock = self._dock(
            "Images", self.image_list, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self._log_dock = self._dock("Log", self.log_view, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._log_dock.hide()
        self._model_label = QLabel(self.engine.status)
        self._latency_label = QLabel("")
        self._cursor_label = QLabel("")
        self._zoom_label = QLabel("")
        for label in (self._cursor_label, self._zoom_label, self._latency_label, self._model_label):
            self.statusBar().addPermanentWidget(label)
        self._build_menus()
        self._wire()
        install_workflow(self)  # panels, dialogs, review states (samdesk.ui.workflow)
        install_tool_bar(self)  # tool bar, active-tool indicator, refine banner
        install_class_guard(self)  # accepting without a class asks for one
        install_drafts(self)  # unaccepted objects: asked about on leaving (samdesk.ui.drafts)
        install_start_page(self)  # recent projects, new, sample: until a project opens
        install_feedback(self)  # status texts that expire, model failures in the banner
        install_view_options(self)  # View → Hover Preview (persisted)
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

    @staticmethod
    def _note_on(viewport: QWidget) -> QLabel:
        """A centred message over the canvas (why an image is not shown); hidden at first."""
        note = QLabel(viewport, wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        note.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        note.setMargin(24)
        QVBoxLayout(viewport).addWidget(note)
        note.hide()
        return note

    def _action(
        self, menu, text: str, slot, shortcut: QKeySequence | str | list | None = None
    ) -> QAction:
        action = QAction(text, self)
        if isinstance(shortcut, list):
            action.setShortcuts([QKeySequence(k) for k in shortcut])
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        action.setProperty("menu_name", menu.title().replace("&", ""))
        menu.addAction(action)
        self.addAction(action)  # shortcuts work even while the menu bar is hidden
        return action

    def _build_edit_menu(self, bar) -> None:
        a = self.annotator
        edit = bar.addMenu("&Edit")
        # Ctrl+Z undoes the last change: an image's or the project's (samdesk.ui.history).
        self.history = UndoRouter(a.undo_group, self)
        for action in self.history.make_actions(self):
            action.setProperty("menu_name", "Edit")
            edit.addAction(action)
            self.addAction(action)
        edit.addSeparator()
        self._action(edit, "&Accept Object", a.accept, ["Return", "Enter", "Space"])
        self._action(edit, "&Discard Object", a.discard, "Escape")
        self._action(edit, "Remove &Last Point", a.remove_last, "Backspace")
        self._action(edit, "Next &Candidate", a.next_candidate, "Tab")
        self._action(edit, "Re&fine with SAM", a.refine_with_sam, "R")
        edit.addSeparator()
        self._action(edit, "De&lete Object", a.delete_selected, QKeySequence.StandardKey.Delete)
        self._action(edit, "&Hide/Show Object", a.toggle_selected_hidden, "Shift+H")

    def _build_tools_menu(self, bar) -> None:
        tools = bar.addMenu("&Tools")
        group = QActionGroup(self)
        for tool in self.tools.values():
            action = self._action(
                tools, tool.name, lambda _c=False, t=tool: self._use_tool(t), tool.shortcut
            )
            action.setCheckable(True)
            action.setStatusTip(tool.tip)
            action.setEnabled(not tool.needs_sam or self.engine.available)
            group.addAction(action)
            self.tool_actions[tool.name] = action
        tools.addSeparator()
        self._action(tools, "Bigger Brush", lambda: self.annotator.resize_brush(1.25), "]")
        self._action(tools, "Smaller Brush", lambda: self.annotator.resize_brush(0.8), "[")
        self._class_menu = bar.addMenu("&Class")

    def _on_model_availability(self, available: bool) -> None:
        for tool in self.tools.values():
            if tool.needs_sam:
                self.tool_actions[tool.name].setEnabled(available)
        if not available and self.canvas.tool is not None and self.canvas.tool.needs_sam:
            self._use_tool(self.tools["Polygon"])
        self.canvas.set_tool_waiting(self.annotator.waiting)

    def _use_tool(self, tool: Tool) -> None:
        self.canvas.set_tool(tool)
        self.tool_actions[tool.name].setChecked(True)
        self.statusBar().showMessage(tool.tip, 5000)

    def _rebuild_class_menu(self) -> None:
        menu = self._class_menu
        for action in menu.actions():
            self.removeAction(action)
        menu.clear()
        for label_class in self.annotator.classes:
            key = str(label_class.key) if label_class.key is not None else None
            self._action(
                menu,
                label_class.name,
                lambda _c=False, cid=label_class.id: self.annotator.set_class(cid),
                key,
            )

    def set_fill_opacity(self, opacity: float) -> None:
        self.canvas.set_fill_opacity(min(1.0, max(0.0, opacity)))
        self.statusBar().showMessage(f"Fill opacity {self.canvas.fill_opacity * 100:.0f}%", 3000)

    def _show_shortcuts(self) -> None:
        ShortcutsDialog(self.actions(), self).exec()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Open Project…", self._ask_open, QKeySequence.StandardKey.Open)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q")
        self._build_edit_menu(bar)
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
        show = self._action(
            view, "Show &Objects", lambda on: self.canvas.set_objects_visible(on), "H"
        )
        show.setCheckable(True)
        show.setChecked(True)
        self._action(
            view, "More Opaque", lambda: self.set_fill_opacity(self.canvas.fill_opacity + 0.1), "."
        )
        self._action(
            view,
            "More Transparent",
            lambda: self.set_fill_opacity(self.canvas.fill_opacity - 0.1),
            ",",
        )
        view.addSeparator()
        view.addAction(self._images_dock.toggleViewAction())
        view.addAction(self._log_dock.toggleViewAction())
        go = bar.addMenu("&Go")
        self._action(go, "&Next Image", lambda: self._step(1), "D")
        self._action(go, "&Previous Image", lambda: self._step(-1), "A")
        self._build_tools_menu(bar)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard Shortcuts", self._show_shortcuts, "F1")
        self._action(help_menu, "&About samdesk", self._about)

    def _wire(self) -> None:
        c = self.controller
        c.project_opened.connect(self._on_project_opened)
        c.image_shown.connect(self._on_image_shown)
        c.image_failed.connect(self._on_image_failed)
        c.error.connect(self.report_error)
        c.large_image_allowed.connect(self.engine.allow_large)
        self.image_list.image_activated.connect(c.show_image)
        self.canvas.cursor_moved.connect(
            lambda x, y: self._cursor_label.setText(f"x {x:.0f}  y {y:.0f}")
        )
        self.canvas.zoom_changed.connect(lambda s: self._zoom_label.setText(f"{s * 100:.0f}%"))
        a, e = self.annotator, self.engine
        a.draft_changed.connect(lambda: show_work(self.canvas, a))
        a.document_changed.connect(self._on_document_changed)
        a.selection_changed.connect(self.canvas.set_selected)
        a.selection_changed.connect(lambda _id: show_work(self.canvas, a))
        a.saved.connect(self.image_list.model.update_row)
        a.waiting_changed.connect(self.canvas.set_tool_waiting)
        a.converter.busy_changed.connect(self.canvas.set_busy)
        a.click_latency.connect(lambda ms: self._latency_label.setText(f"last click {ms:.0f} ms"))
        a.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        a.undo_group.cleanChanged.connect(lambda clean: self.setWindowModified(not clean))
        self.canvas.accept_requested.connect(a.accept)
        e.status_changed.connect(self._model_label.setText)
        e.availability_changed.connect(self._on_model_availability)
        e.error.connect(self.report_error)
        default = "SAM Points" if e.available else "Polygon"
        self._use_tool(self.tools[default])

    # ----- actions -----------------------------------------------------------------------
    def set_engine_options(self, checkpoint: str | None, **options: object) -> bool:
        """Use another model (None: none) or other engine options now, without a restart.

        ``options`` are ``EngineBridge``'s keywords. The bridge swaps its engine and keeps
        its connections; the object being built with SAM is discarded (its low-res logits
        belong to the old model). False when nothing changed.
        """
        if not self.engine.reconfigure(checkpoint, **options):
            return False
        self.checkpoint = self.engine.checkpoint
        if self.checkpoint is None:
            text = "No model: the SAM tools are off; polygon and brush work"
        else:
            text = f"Loading {Path(self.checkpoint).name}"
        if self.annotator.forget_engine_work():
            text += " — the object being built was discarded (it was made with the old model)"
        self.statusBar().showMessage(text, 10_000)
        return True

    def open_path(self, path: Path) -> bool:
        """Open a project; a plain image folder gets the offer to make one there."""
        if not self.drafts.confirm_leave("opening another project"):
            return False
        offered = self.start_page.open_or_offer(Path(path))
        return offered if offered is not None else self.controller.open(Path(path))

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
        self.annotator.set_project(store)
        self._rebuild_class_menu()
        # "Cache place: project" could not apply before a project was open.
        saved = user_settings.model_settings()  # the project's own cache is read first
        self.engine.set_cache_dir(saved.cache_dir(store.root), saved.cache_read_first(store.root))
        self.engine.set_images([image_key(store, record) for record in images])
        counts = [store.object_count(i) for i in range(len(images))]
        self.image_list.model.set_images(images, counts)
        self.image_list.check_files([str(store.image_abspath(r)) for r in images])
        self._update_title()
        if images:
            self.controller.show_image(0)

    def _on_image_shown(self, row: int, image, record) -> None:
        self.image_list.model.set_file_problem(row, None)  # it reads now (fixed meanwhile)
        self._canvas_note.hide()
        self.canvas.set_image(image)
        self.canvas.set_objects(record.objects, self.controller.store.project.classes)
        self.engine.set_current(image_key(self.controller.store, record))
        self.annotator.set_image(row, record)
        self.image_list.select_row(row)
        self._update_title()
        self.controller.prefetch(self.image_list.next_row(row))  # "next" is then instant

    def _on_image_failed(self, row: int, message: str) -> None:
        self.image_list.model.set_file_problem(row, message.split(": ", 1)[-1])
        self._canvas_note.setText(message)
        self._canvas_note.show()
        self.canvas.set_image(None)
        self.engine.set_current(None)
        self.annotator.set_image(None, None)
        self.image_list.select_row(row)

    def _on_document_changed(self, record) -> None:
        if record is self.annotator.record:
            self.canvas.set_objects(record.objects, self.annotator.classes)

    def _update_title(self) -> None:
        parts = ["samdesk"]
        store = self.controller.store
        if store is not None:
            parts.insert(0, store.project.name or store.root.name)
            row = self.controller.current_row
            if row is not None:
                parts.insert(0, self.controller.images[row].path + "[*]")  # unsaved marker
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
        self.image_list.shutdown()
        self.annotator.converter.shutdown()  # joins a conversion still running (seconds at most)
        if not self.engine.shutdown(timeout=self.shutdown_timeout):
            log.info("quitting while an encode finishes; it is abandoned (only a cache entry)")
        super().closeEvent(event)
