"""Everything Qt: main window, canvas, tools, panels, dialogs, undo commands."""

from samdesk.ui.refcounts import pin_singletons

pin_singletons()  # before any PySide6 signal runs (see samdesk.ui.refcounts)
