"""The tool bar, the active-tool indicator and the refine mode's banner.

``install_tool_bar(window)`` is called once by the main window after the workflow. It
puts the window's tool actions (one ``QActionGroup``, shared with the Tools menu, so the
active tool is checked in both) on a tool bar with icons (``samdesk/ui/resources``) and
their shortcuts in the tooltips, adds "Refine Selected Object" (Shift+R) to the bar and
the Edit menu, shows the active tool and its hint as a permanent status-bar widget, shows
a banner over the canvas while an object is refined, and switches to SAM Points when a
model becomes usable, unless the user has picked a tool themselves.
"""

from __future__ import annotations

from html import escape
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QLabel, QToolBar

from samdesk.ui import theme
from samdesk.ui.resources import resource_path

TOOL_ICONS = {
    "SAM Points": "tool-sam-points.svg",
    "SAM Box": "tool-sam-box.svg",
    "Brush": "tool-brush.svg",
    "Eraser": "tool-eraser.svg",
    "Polygon": "tool-polygon.svg",
    "Select": "tool-select.svg",
}
REFINE_ICON = "tool-refine.svg"
REFINE_SHORTCUT = "Shift+R"
HINT_PX = 340  # the longest tool hint shown in the status bar, in pixels


def icon(name: str) -> QIcon:
    """The icon in ``samdesk/ui/resources/<name>`` (an empty icon if it is missing)."""
    path = resource_path(name)
    return QIcon(str(path)) if path.is_file() else QIcon()


def shortcut_text(action: QAction) -> str:
    """The action's first shortcut as the platform writes it ("Shift+R"), or ""."""
    return action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)


class ToolBar(QObject):
    """The tool bar of one main window (see the module docstring)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.user_chose_tool = False
        self.bar = QToolBar("Tools", window)
        self.bar.setObjectName("ToolsBar")  # restoreState needs stable names
        self.bar.setIconSize(QSize(24, 24))
        self.bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        for name, action in window.tool_actions.items():
            action.setIcon(icon(TOOL_ICONS.get(name, "")))
            tool = window.tools[name]
            action.setToolTip(f"{name} ({shortcut_text(action)}) — {tool.tip}")
            # triggered is emitted for the user's choices only (menu, bar, shortcut), never
            # for the window's own _use_tool: the automatic switch must not override them.
            action.triggered.connect(self._on_user_choice)
            action.toggled.connect(lambda checked, n=name: self._show_tool(n) if checked else None)
            self.bar.addAction(action)
        self.bar.addSeparator()
        self.refine_action = self._refine_action()
        self.bar.addAction(self.refine_action)
        banner = getattr(getattr(window, "workflow", None), "banner", None)
        if banner is not None:  # the no-model banner goes on its own row below
            window.insertToolBar(banner, self.bar)
            window.insertToolBarBreak(banner)
        else:
            window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.bar)
        self.tool_label = QLabel()
        self.tool_label.setObjectName("ActiveToolLabel")
        # Stretch 0: the left part stays free for the temporary messages ("Added …").
        window.statusBar().insertPermanentWidget(0, self.tool_label)
        self.refine_banner = self._refine_banner()
        window.annotator.draft_changed.connect(self._show_refine_state)
        window.annotator.selection_changed.connect(lambda _id: self._show_refine_state())
        window.engine.availability_changed.connect(self._on_availability)
        if window.canvas.tool is not None:
            self._show_tool(window.canvas.tool.name)
        self._show_refine_state()

    def _refine_action(self) -> QAction:
        w = self.window
        action = QAction(icon(REFINE_ICON), "Refine &Selected Object", w)
        action.setIconText("Refine")
        action.setObjectName("RefineSelectedAction")
        action.setShortcut(QKeySequence(REFINE_SHORTCUT))
        action.setToolTip(
            f"Refine the selected object ({REFINE_SHORTCUT}): click to add or remove points, "
            "Enter replaces its geometry, Esc cancels. A plain click starts a new object."
        )
        action.setProperty("menu_name", "Edit")
        action.triggered.connect(lambda _checked=False: w.annotator.start_refine())
        edit = next(
            (
                a.menu()
                for a in w.menuBar().actions()
                if a.menu() is not None and a.menu().title().replace("&", "") == "Edit"
            ),
            None,
        )
        if edit is not None:  # the same action: one shortcut, one enabled state
            anchor = next((a for a in edit.actions() if a.text() == "Re&fine with SAM"), None)
            edit.insertAction(anchor, action) if anchor else edit.addAction(action)
        w.addAction(action)  # the shortcut works with the tool bar hidden too
        return action

    def _refine_banner(self) -> QLabel:
        viewport = self.window.canvas.viewport()
        banner = QLabel(viewport)
        banner.setObjectName("RefineBanner")
        banner.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        banner.setMargin(6)
        layout = viewport.layout()
        if layout is not None:
            layout.insertWidget(
                0, banner, 0, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter
            )
        banner.hide()
        return banner

    # ----- following the window --------------------------------------------------------------
    def _on_user_choice(self) -> None:
        self.user_chose_tool = True

    def _on_availability(self, available: bool) -> None:
        w = self.window
        if available and not self.user_chose_tool and "SAM Points" in w.tools:
            w._use_tool(w.tools["SAM Points"])

    def _show_tool(self, name: str) -> None:
        # By name: a click on the bar checks the action before the canvas switches tools.
        tool = self.window.tools[name]
        key = shortcut_text(self.window.tool_actions[name])
        # The hint is cut to HINT_PX (whole in the tooltip): messages need the room.
        hint = self.tool_label.fontMetrics().elidedText(
            tool.tip, Qt.TextElideMode.ElideRight, HINT_PX
        )
        self.tool_label.setText(f"Tool: <b>{escape(name)}</b> ({key}) — {escape(hint)}")
        self.tool_label.setToolTip(f"{name} ({key}): {tool.tip}")

    def _show_refine_state(self) -> None:
        a = self.window.annotator
        target = a.refine_target
        banner = self.refine_banner
        if target is None:
            banner.hide()
            self.refine_action.setEnabled(a.selected_id is not None)
            return
        self.refine_action.setEnabled(True)
        banner.setText(
            f"Refining <b>{a.describe(target)}</b> — click to add points (right-click "
            "removes), Enter to accept, Esc to cancel"
        )
        banner.setStyleSheet(theme.banner_style().replace("QFrame", "QLabel"))
        banner.show()


def install_tool_bar(window: Any) -> ToolBar:
    """Add the tool bar, the active-tool indicator and the refine banner to ``window``."""
    tool_bar = ToolBar(window)
    window.tool_bar = tool_bar
    return tool_bar


__all__ = ["TOOL_ICONS", "ToolBar", "install_tool_bar"]
