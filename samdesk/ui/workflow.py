"""The annotation workflow around the canvas: projects, review states, panels and dialogs.

``install_workflow(window)`` is called once by the main window. It adds the Classes and
Objects docks, the File/Go/Settings menu entries (new project, recent projects, import,
export, next unfinished, mark done, model settings, model manager), drag-and-drop of a
project, the "no model yet" banner, the unexpected-error hooks and the last save on quit.
It wires signals and keeps no document state of its own: the store is the controller's,
objects are edited through the annotator's undo commands, classes through the Classes
panel's project-level undo stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QToolBar, QToolButton

from samdesk.core.document import ReviewState
from samdesk.ui import settings as user_settings
from samdesk.ui import theme
from samdesk.ui.classes_panel import ClassesPanel
from samdesk.ui.errors_log import ErrorReporter
from samdesk.ui.objects_panel import ObjectsPanel
from samdesk.ui.save_state import SaveGuard


def paths_from_mime(mime: Any) -> list[Path]:
    """Local files/folders in a drag's mime data."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class Workflow(QObject):
    """The workflow parts of one main window (see the module docstring)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.classes_panel = ClassesPanel(window)
        self.objects_panel = ObjectsPanel(window)
        self.classes_dock = window._dock(
            "Classes", self.classes_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.objects_dock = window._dock(
            "Objects", self.objects_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.objects_panel.attach(window.annotator)
        self.errors = ErrorReporter(self)
        self.dialogs: list[Any] = []  # open modeless dialogs, shut down on quit
        self.actions: dict[str, QAction] = {}
        self._build_menus()
        self._build_banner()
        self.save_guard = SaveGuard(
            window, self.classes_panel
        )  # failed saves, read-only, damaged files
        self._wire()
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        # Only take over the exception hooks nobody else owns (a test runner may own them).
        import sys

        if sys.excepthook is sys.__excepthook__:
            self.errors.install()

    # ----- menus ---------------------------------------------------------------------------
    def _menu(self, title: str) -> QMenu:
        for action in self.window.menuBar().actions():
            menu = action.menu()
            if menu is not None and menu.title().replace("&", "") == title:
                return menu
        return self.window.menuBar().addMenu(title)

    def _add(
        self,
        menu: QMenu,
        name: str,
        text: str,
        slot: Any,
        shortcut: str | list[str] | QKeySequence.StandardKey | None = None,
        before: QAction | None = None,
    ) -> QAction:
        action = QAction(text, self.window)
        if isinstance(shortcut, list):
            action.setShortcuts([QKeySequence(k) for k in shortcut])
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        action.setProperty("menu_name", menu.title().replace("&", ""))
        menu.insertAction(before, action) if before is not None else menu.addAction(action)
        self.window.addAction(action)  # shortcuts work even while the menu bar is hidden
        self.actions[name] = action
        return action

    def _build_menus(self) -> None:
        w = self.window
        file_menu = self._menu("File")
        first = file_menu.actions()[0] if file_menu.actions() else None
        self._add(file_menu, "new", "&New Project from Folder…", self.new_project, "Ctrl+N", first)
        self.recent_menu = QMenu("Open &Recent", file_menu)
        after_open = file_menu.actions()[2] if len(file_menu.actions()) > 2 else None
        file_menu.insertMenu(after_open, self.recent_menu)
        quit_action = file_menu.actions()[-1]
        file_menu.insertSeparator(quit_action)
        self._add(
            file_menu, "save", "&Save", self.save_all, QKeySequence.StandardKey.Save, quit_action
        )
        self._add(
            file_menu,
            "import",
            "&Import Annotations…",
            self.show_import,
            "Ctrl+Shift+I",
            quit_action,
        )
        self._add(file_menu, "export", "&Export…", self.show_export, "Ctrl+E", quit_action)
        file_menu.insertSeparator(quit_action)
        self._rebuild_recent()

        edit = self._menu("Edit")
        edit.addSeparator()
        undo = self.classes_panel.undo_stack.createUndoAction(w, "Undo Class Edit")
        redo = self.classes_panel.undo_stack.createRedoAction(w, "Redo Class Edit")
        for action, key in ((undo, "Ctrl+Alt+Z"), (redo, "Ctrl+Alt+Shift+Z")):
            action.setShortcut(QKeySequence(key))
            action.setProperty("menu_name", "Edit")
            edit.addAction(action)
            w.addAction(action)
        self._add(
            edit, "add_class", "Add &Class…", self.classes_panel.ask_new_class, "Ctrl+Shift+N"
        )

        go = self._menu("Go")
        go.addSeparator()
        self._add(
            go, "next_unfinished", "Next &Unfinished Image", self.next_unfinished, ["N", "Shift+D"]
        )
        self._add(
            go,
            "done_next",
            "Mark &Done and Go to Next Unfinished",
            self.mark_done_and_next,
            ["Ctrl+Return", "Ctrl+Enter"],
        )
        self._add(
            go, "in_progress", "Mark &In Progress", self.mark_in_progress, "Ctrl+Shift+Return"
        )

        view = self._menu("View")
        view.addAction(self.classes_dock.toggleViewAction())
        view.addAction(self.objects_dock.toggleViewAction())

        settings = QMenu("&Settings", w.menuBar())
        help_action = next(
            (a for a in w.menuBar().actions() if a.menu() and "Help" in a.menu().title()), None
        )
        w.menuBar().insertMenu(help_action, settings)
        self._add(settings, "model_settings", "&Model…", self.show_model_settings, "Ctrl+,")
        self._add(
            settings, "model_manager", "Model &Manager…", self.show_model_manager, "Ctrl+Shift+M"
        )
        self._add(settings, "polygon_settings", "&Polygons…", self.show_polygon_settings)

    def _rebuild_recent(self) -> None:
        menu = self.recent_menu
        menu.clear()
        recent = user_settings.recent_projects()
        for path in recent:
            action = menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _c=False, p=path: self.window.open_path(Path(p)))
        if recent:
            menu.addSeparator()
            menu.addAction("Clear List", self._clear_recent)
        menu.setEnabled(bool(recent))

    def _clear_recent(self) -> None:
        user_settings.clear_recent_projects()
        self._rebuild_recent()

    # ----- the no-model banner -------------------------------------------------------------
    def _build_banner(self) -> None:
        bar = QToolBar("Model", self.window)
        bar.setObjectName("ModelBannerBar")  # restoreState needs stable names
        bar.setMovable(False)
        label = QLabel(
            "No SAM model yet: the polygon and brush tools work. Get one in "
            "<a href='manager'>Settings → Model Manager</a> (MobileSAM is small and fast), "
            "or choose a checkpoint file in <a href='settings'>Settings → Model</a>."
        )
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        label.linkActivated.connect(
            lambda link: (
                self.show_model_manager() if link == "manager" else self.show_model_settings()
            )
        )
        close = QToolButton(text="✕", toolTip="Hide this message")
        close.clicked.connect(bar.hide)
        bar.addWidget(label)
        bar.addWidget(close)
        self.banner = bar
        self.banner_label = label
        self.window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self._restyle()
        bar.setVisible(not self.window.engine.available)
        if not self.window.engine.available:
            self.window.statusBar().showMessage(
                "No SAM model: open Settings → Model Manager to download one.", 15_000
            )

    def _restyle(self) -> None:
        self.banner.setStyleSheet(theme.banner_style().replace("QFrame", "QToolBar"))
        self.classes_panel._refill()
        self.objects_panel.refresh()

    # ----- wiring --------------------------------------------------------------------------
    def _wire(self) -> None:
        w, c, a = self.window, self.window.controller, self.window.annotator
        c.project_opened.connect(self._on_project_opened)
        c.image_shown.connect(lambda *_: self.objects_panel.refresh())
        c.image_failed.connect(lambda *_: self.objects_panel.refresh())
        a.class_changed.connect(self.classes_panel.set_current)
        a.saved.connect(self._on_saved)
        self.classes_panel.class_activated.connect(a.set_class)
        self.classes_panel.classes_changed.connect(self._on_classes_changed)
        self.classes_panel.objects_rewritten.connect(self._on_objects_rewritten)
        self.classes_panel.error.connect(w.report_error)
        w.engine.availability_changed.connect(lambda ok: self.banner.setVisible(not ok))
        self.errors.unexpected_error.connect(self._on_unexpected)
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(lambda _scheme: self._restyle())

    def _on_project_opened(self) -> None:
        store = self.window.controller.store
        self.classes_panel.set_project(store)
        self.classes_panel.set_current(self.window.annotator.class_id)
        self.objects_panel.refresh()
        user_settings.add_recent_project(store.path)
        self._rebuild_recent()

    def _on_classes_changed(self, classes: list) -> None:
        w = self.window
        w.annotator.classes = list(classes)
        if w.annotator.class_id not in {c.id for c in classes}:
            w.annotator.set_class(classes[0].id if classes else None)
        w._rebuild_class_menu()
        record = w.annotator.record
        if record is not None:
            w.canvas.set_objects(record.objects, w.annotator.classes)
        self.objects_panel.refresh()

    def _on_objects_rewritten(self) -> None:
        """A class delete changed objects on many images: per-image histories are stale."""
        w = self.window
        for stack in w.annotator.undo_group.stacks():
            stack.clear()
        store = w.controller.store
        for row in range(len(store.project.images)):
            w.image_list.model.update_row(row, store.object_count(row))
        w.annotator.select(None)
        record = w.annotator.record
        if record is not None:
            w.canvas.set_objects(record.objects, w.annotator.classes)

    def _on_saved(self, row: int, count: int) -> None:
        """An image with objects leaves the "new" state by itself."""
        store = self.window.controller.store
        if store is None or row >= len(store.project.images):
            return
        record = store.project.images[row]
        if record.state is ReviewState.NEW and count > 0:
            self.set_state(row, ReviewState.IN_PROGRESS)

    def _on_unexpected(self, message: str, first: bool) -> None:
        self.window.report_error(message)
        if first:
            self.window._log_dock.show()

    # ----- projects ------------------------------------------------------------------------
    def new_project(self, folder: str | None = None) -> Any:
        """Ask for a folder and create a project there; it is opened at once."""
        from samdesk.ui.new_project_dialog import NewProjectDialog

        dialog = NewProjectDialog(folder, self.window)
        if dialog.exec() == NewProjectDialog.DialogCode.Accepted and dialog.store is not None:
            self.window.open_path(dialog.store.path)
            for warning in dialog.store.warnings:  # files the scan skipped (a FIFO *.png…)
                self.window.report_error(warning)
        return dialog

    def open_dropped(self, paths: list[Path]) -> bool:
        """Open a dropped project file, or the project in a dropped folder."""
        for path in paths:
            if (path.is_file() and path.name.endswith(".samdesk.yaml")) or path.is_dir():
                return self.window.open_path(path)
        self.window.report_error("Drop a *.samdesk.yaml project file or a project folder")
        return False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if paths_from_mime(event.mimeData()):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            paths = paths_from_mime(event.mimeData())
            if paths:
                event.acceptProposedAction()
                self.open_dropped(paths)
                return True
        elif kind == QEvent.Type.Close and watched is self.window:
            # Unaccepted objects first: those accepted are then saved like any edit.
            drafts = getattr(self.window, "drafts", None)  # samdesk.ui.drafts
            if drafts is not None and not drafts.confirm_leave("quitting"):
                event.ignore()  # the user chose to stay: nothing shuts down
                return True
            if not self.save_guard.confirm_close():
                event.ignore()  # the user chose to stay: nothing shuts down
                return True
            self.before_close()
        return super().eventFilter(watched, event)

    def save_all(self) -> None:
        """Write the current image and the project file now (autosave does it anyway)."""
        w = self.window
        if w.controller.store is None:
            return
        # Every unsaved image, not only the one on screen (a failed save elsewhere is
        # retried too); failures stay in the banner with their reason.
        if self.save_guard.save_all():
            w.statusBar().showMessage("Saved", 3000)

    def before_close(self) -> None:
        """Quit: save what is unsaved, stop our background work (the window stops the rest)."""
        w = self.window
        store = w.controller.store
        if store is not None:
            for stack in w.annotator.undo_group.stacks():
                if not stack.isClean() and stack.count():
                    record = getattr(stack.command(0), "record", None)
                    if record is not None:
                        try:
                            store.save_image(record)
                            stack.setClean()
                        except Exception as exc:
                            reason = self.save_guard.reason(exc)
                            w.report_error(f"Could not save {record.path}: {reason}")
        for dialog in self.dialogs:
            dialog.shutdown()
        self.dialogs.clear()
        self.errors.uninstall()

    # ----- review states -------------------------------------------------------------------
    def set_state(self, row: int, state: ReviewState) -> None:
        w = self.window
        store = w.controller.store
        try:
            store.set_state(row, state)
        except Exception as exc:  # the state stays in memory; the banner offers Retry
            path = store.project.images[row].path
            self.save_guard.record_failure(path, self.save_guard.reason(exc))
            return
        w.image_list.model.update_row(row, store.object_count(row))

    def next_unfinished(self) -> bool:
        """Show the next image (in the list's order, wrapping) that is not done."""
        w = self.window
        store = w.controller.store
        if store is None:
            return False
        rows = w.image_list.visible_rows() or list(range(len(store.project.images)))
        current = w.controller.current_row
        start = rows.index(current) + 1 if current in rows else 0
        for row in rows[start:] + rows[:start]:
            if row != current and store.project.images[row].state is not ReviewState.DONE:
                w.controller.show_image(row)
                return True
        w.statusBar().showMessage("Every image is done", 5000)
        return False

    def mark_done_and_next(self) -> None:
        row = self.window.controller.current_row
        if row is None:
            return
        self.set_state(row, ReviewState.DONE)
        self.next_unfinished()

    def mark_in_progress(self) -> None:
        row = self.window.controller.current_row
        if row is not None:
            self.set_state(row, ReviewState.IN_PROGRESS)

    # ----- dialogs -------------------------------------------------------------------------
    def _project_file(self) -> Path | None:
        store = self.window.controller.store
        if store is None:
            self.window.report_error("Open a project first")
            return None
        self.save_all()
        return store.path

    def _keep(self, dialog: Any) -> Any:
        self.dialogs.append(dialog)
        dialog.finished.connect(lambda _r, d=dialog: self._forget(d))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _forget(self, dialog: Any) -> None:
        # The dialog's own done() has stopped its worker already.
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)

    def show_export(self) -> Any:
        from samdesk.ui.export_dialog import ExportDialog

        path = self._project_file()
        if path is None:
            return None
        dialog = ExportDialog(path, self.window)
        dialog.finished_export.connect(
            lambda text, ok: self.window.report_error(text.splitlines()[0]) if not ok else None
        )
        return self._keep(dialog)

    def show_import(self) -> Any:
        from samdesk.ui.import_dialog import ImportDialog, refresh_window

        path = self._project_file()
        if path is None:
            return None
        # Merged into the window's own store (one writer), never into a second copy.
        dialog = ImportDialog(path, self.window, store=self.window.controller.store)
        # Also after a failure: the classes (written first) and images up to it are in.
        dialog.imported.connect(lambda _text, _ok: refresh_window(self.window))
        return self._keep(dialog)

    def show_model_settings(self) -> Any:
        from samdesk.ui.model_settings import ModelSettingsDialog

        engine = self.window.engine
        dialog = ModelSettingsDialog(
            self.window, in_use=engine.checkpoint, in_use_works=engine.loaded
        )
        dialog.accepted.connect(self._model_changed)
        return self._keep(dialog)

    def show_polygon_settings(self) -> Any:
        from samdesk.ui.polygon_settings import PolygonSettingsDialog

        store = self.window.controller.store
        if store is None:
            self.window.statusBar().showMessage("Open a project first", 5000)
            return None
        return self._keep(PolygonSettingsDialog(store, self.window))

    def show_model_manager(self) -> Any:
        from samdesk.ui.model_manager import ModelManagerDialog

        dialog = ModelManagerDialog(self.window)
        dialog.model_chosen.connect(lambda _path: self._model_changed())
        return self._keep(dialog)

    def _model_changed(self) -> None:
        """The saved model settings changed: the window's engine follows them at once."""
        store = self.window.controller.store
        root = store.root if store is not None else None
        checkpoint, options = user_settings.engine_arguments(None, root)
        if not self.window.set_engine_options(checkpoint, **options):
            self.window.statusBar().showMessage("Model settings saved (nothing changed)", 5000)


def install_workflow(window: Any) -> Workflow:
    """Add the workflow (panels, menus, dialogs) to ``window``; returns it."""
    workflow = Workflow(window)
    window.workflow = workflow
    return workflow


__all__ = ["Workflow", "install_workflow", "paths_from_mime"]
