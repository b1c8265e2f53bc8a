"""The start page: what an empty window shows (no project open yet).

Recent projects (kept in settings, newest first), "New project from a folder…", "Open a
project…" and "Open the sample". ``install_start_page(window)`` puts the canvas and this
page in a stack as the window's central widget; the page is shown until a project opens.

It also answers ``samdesk FOLDER`` (and a dropped folder) for a plain image folder that
holds no project yet: ``open_or_offer`` asks whether to make one there and then runs the
New Project dialog prefilled with that folder.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from samdesk.ui import settings as user_settings

PROJECT_SUFFIX = ".samdesk.yaml"  # samdesk.io.project.PROJECT_SUFFIX (io is not needed here)


def _short(folder: Path) -> str:
    """``folder`` with the home folder written as "~" (shorter, and what users recognise)."""
    try:
        return str(Path("~") / folder.relative_to(Path.home()))
    except (ValueError, RuntimeError):
        return str(folder)


def folder_without_project(path: Path) -> bool:
    """Whether ``path`` is a folder with no ``*.samdesk.yaml`` in it (a plain image folder)."""
    return path.is_dir() and not any(path.glob(f"*{PROJECT_SUFFIX}"))


def ask_make_project(parent: QWidget | None, folder: Path) -> bool:
    """Ask whether to make a project in ``folder`` (which has none); True: yes."""
    answer = QMessageBox.question(
        parent,
        "Make a project here?",
        f"{folder} is not a samdesk project yet.\n\nMake a project from the images in this "
        "folder? Nothing in the folder is changed; samdesk adds its project file and a "
        ".samdesk folder beside the images.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes,
    )
    return answer == QMessageBox.StandardButton.Yes


class StartPage(QWidget):
    """Signals: new_project_requested(), open_requested(), sample_requested(),
    recent_requested(str): a project file from the recent list."""

    new_project_requested = Signal()
    open_requested = Signal()
    sample_requested = Signal()
    recent_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("StartPage")
        title = QLabel("<span style='font-size:22pt;font-weight:600'>samdesk</span>")
        subtitle = QLabel(
            "<span style='font-size:12pt'>Image annotation with Segment Anything</span>"
        )
        self.new_button = QPushButton("New project from a folder…")
        self.open_button = QPushButton("Open a project…")
        self.sample_button = QPushButton("Open the sample")
        self.new_button.setToolTip("Pick a folder of images; samdesk makes a project there")
        self.sample_button.setToolTip("A copy of the bundled sample project, to try things")
        for button in (self.new_button, self.open_button, self.sample_button):
            button.setMinimumHeight(34)
        self.new_button.setDefault(True)
        self.new_button.clicked.connect(self.new_project_requested)
        self.open_button.clicked.connect(self.open_requested)
        self.sample_button.clicked.connect(self.sample_requested)
        actions = QVBoxLayout()
        actions.addWidget(QLabel("<b>Start</b>"))
        for button in (self.new_button, self.open_button, self.sample_button):
            actions.addWidget(button)
        hint = QLabel("You can also drop a project file or an image folder on this window.")
        hint.setWordWrap(True)
        hint.setEnabled(False)
        actions.addWidget(hint)
        actions.addStretch(1)
        self.recent_list = QListWidget()
        self.recent_list.setObjectName("RecentProjects")
        self.recent_list.setMinimumWidth(360)
        self.recent_list.setSpacing(2)
        self.recent_list.itemActivated.connect(self._on_recent)
        self.recent_list.itemClicked.connect(self._on_recent)
        self.no_recent = QLabel("No recent projects yet.")
        self.no_recent.setEnabled(False)
        recent = QVBoxLayout()
        recent.addWidget(QLabel("<b>Recent projects</b>"))
        recent.addWidget(self.recent_list, 1)
        recent.addWidget(self.no_recent)
        recent.addStretch(0)  # takes the space only while the list is hidden
        panel = QFrame()
        panel.setObjectName("StartPanel")
        panel.setMaximumWidth(820)
        grid = QGridLayout(panel)
        grid.setContentsMargins(32, 28, 32, 28)
        grid.setHorizontalSpacing(36)
        grid.addWidget(title, 0, 0, 1, 2)
        grid.addWidget(subtitle, 1, 0, 1, 2)
        grid.setRowMinimumHeight(2, 16)
        grid.addLayout(actions, 3, 0)
        grid.addLayout(recent, 3, 1)
        grid.setColumnStretch(1, 1)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(panel, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the recent projects from settings."""
        self.recent_list.clear()
        for path in user_settings.recent_projects():
            file = Path(path)
            name = file.name.removesuffix(PROJECT_SUFFIX) if file.is_file() else file.name
            item = QListWidgetItem()  # the label below draws the text
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{name}, in {file.parent}")
            item.setToolTip(path)
            self.recent_list.addItem(item)
            # Two lines as a label: the name stands out, the folder is secondary. The label
            # ignores the mouse, so clicks still reach the list.
            label = QLabel(
                f"<b>{html.escape(name)}</b><br><small>{html.escape(_short(file.parent))}</small>"
            )
            label.setContentsMargins(6, 4, 6, 4)
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            item.setSizeHint(label.sizeHint())
            self.recent_list.setItemWidget(item, label)
        has = self.recent_list.count() > 0
        self.recent_list.setVisible(has)
        self.no_recent.setVisible(not has)

    def recent_paths(self) -> list[str]:
        return [
            self.recent_list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.recent_list.count())
        ]

    def _on_recent(self, item: QListWidgetItem) -> None:
        self.recent_requested.emit(item.data(Qt.ItemDataRole.UserRole))

    def showEvent(self, event: Any) -> None:
        self.refresh()  # another window (or a test) may have changed the list
        super().showEvent(event)


class StartPageHost(QObject):
    """Glue between the page and one main window (built by ``install_start_page``).

    While the page shows, the window's docks (empty without a project) are hidden; the
    ones that were visible come back when a project opens, and before the window saves
    its layout on close, so the user's layout is never changed by the start page.
    ``ask_make_project(folder) -> bool`` asks before making a project in a plain folder
    (tests put a function here).
    """

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self._hidden_docks: list[QDockWidget] = []
        self.page = StartPage()
        self.ask_make_project: Callable[[Path], bool] = lambda folder: ask_make_project(
            window, folder
        )
        canvas = window.takeCentralWidget()
        self.stack = QStackedWidget(window)
        self.stack.addWidget(self.page)
        self.stack.addWidget(canvas)
        self.canvas = canvas
        window.setCentralWidget(self.stack)
        self.page.new_project_requested.connect(lambda: window.workflow.new_project())
        self.page.open_requested.connect(window._ask_open)
        self.page.sample_requested.connect(self.open_sample)
        self.page.recent_requested.connect(lambda path: window.open_path(Path(path)))
        window.controller.project_opened.connect(self.show_canvas)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window:
            if event.type() == QEvent.Type.Show and self.showing and not self._hidden_docks:
                # After the window restored its saved layout: hide what shows nothing yet.
                self._hidden_docks = [
                    d for d in self.window.findChildren(QDockWidget) if d.isVisible()
                ]
                for dock in self._hidden_docks:
                    dock.hide()
            elif event.type() == QEvent.Type.Close:
                self._restore_docks()  # before closeEvent saves the layout
        return super().eventFilter(watched, event)

    def _restore_docks(self) -> None:
        docks, self._hidden_docks = self._hidden_docks, []
        for dock in docks:
            dock.show()

    @property
    def showing(self) -> bool:
        """Whether the start page (not the canvas) is on screen."""
        return self.stack.currentWidget() is self.page

    def show_canvas(self) -> None:
        self.stack.setCurrentWidget(self.canvas)
        self._restore_docks()

    def open_sample(self) -> bool:
        from samdesk.io.sample import working_sample_project

        try:
            folder = working_sample_project()
        except OSError as exc:
            self.window.report_error(f"Cannot open the sample project: {exc}")
            return False
        return self.window.open_path(folder)

    def open_or_offer(self, path: Path) -> bool | None:
        """For a folder without a project: ask, then the New Project dialog prefilled.

        Returns None when ``path`` is not such a folder (the caller opens it as usual),
        else whether a project was made and opened.
        """
        if not folder_without_project(path):
            return None
        if not self.ask_make_project(path):
            self.window.statusBar().showMessage(f"{path} has no samdesk project", 8000)
            return False
        dialog = self.window.workflow.new_project(str(path))
        return dialog.store is not None


def install_start_page(window: Any) -> StartPageHost:
    """Show the start page in ``window`` until a project opens; returns its host."""
    host = StartPageHost(window)
    window.start_page = host
    return host


__all__ = ["StartPage", "StartPageHost", "folder_without_project", "install_start_page"]
