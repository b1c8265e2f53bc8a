"""No object without a class: accepting one in a project without classes asks for a name.

``install_class_guard(window)`` connects the annotator's ``class_needed`` (emitted by
``accept`` when the current class does not exist) to the Classes panel's name prompt; the
named class is added (one step of the panel's undo stack), made current, and the object
is accepted with it. Cancelling leaves the object being built as it was, with a message.
"""

from __future__ import annotations

from typing import Any

PROMPT = "This object needs a class. Name of the class:"


class ClassGuard:
    """Asks for a class when the annotator needs one (see the module docstring)."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self._asking = False
        window.annotator.class_needed.connect(self.ask)

    def ask(self) -> bool:
        """Ask for a class name, add it, accept the object with it; False when cancelled."""
        if self._asking:  # Enter pressed again behind the open prompt
            return False
        annotator = self.window.annotator
        self._asking = True
        try:
            class_id = self.window.workflow.classes_panel.ask_new_class(label=PROMPT)
        finally:
            self._asking = False
        if class_id is None:
            annotator.message.emit(
                "Not accepted: the object needs a class (Edit → Add Class…, Ctrl+Shift+N)"
            )
            return False
        annotator.set_class(class_id)
        return annotator.accept()


def install_class_guard(window: Any) -> ClassGuard:
    """Make ``window`` ask for a class instead of accepting an object without one."""
    guard = ClassGuard(window)
    window.class_guard = guard
    return guard
