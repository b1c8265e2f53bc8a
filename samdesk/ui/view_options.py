"""View-menu switches that persist in the user's settings.

``install_view_options(window)`` adds "Hover Preview" to the View menu: with it off, the
SAM tools show no mask under the cursor before the first click (nothing is decoded while
the mouse moves, which also saves CPU on slow machines). The choice is kept in settings
(``samdesk.ui.settings.hover_preview``) and applies at once.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction

from samdesk.ui import settings as user_settings


def install_view_options(window: Any) -> QAction:
    """Add the View → Hover Preview switch to ``window``; returns its action."""
    view = next(
        a.menu()
        for a in window.menuBar().actions()
        if a.menu() is not None and a.menu().title().replace("&", "") == "View"
    )
    action = QAction("Hover &Preview", window)
    action.setCheckable(True)
    action.setStatusTip("Show the mask a click would give while the cursor moves (SAM tools)")
    action.setProperty("menu_name", "View")
    on = user_settings.hover_preview()
    action.setChecked(on)
    window.annotator.hover_enabled = on

    def toggled(checked: bool) -> None:
        user_settings.set_hover_preview(checked)
        window.annotator.hover_enabled = checked
        if not checked:
            window.annotator.hover_end()  # the preview on screen goes at once

    action.toggled.connect(toggled)
    view.insertSeparator(view.actions()[0] if view.actions() else None)
    view.insertAction(view.actions()[0] if view.actions() else None, action)
    window.addAction(action)
    window.hover_action = action
    return action
