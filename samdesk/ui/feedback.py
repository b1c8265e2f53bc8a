"""Feedback that stays true: status-bar texts that expire with their cause, and model
failures shown where the user looks.

``install_feedback(window)`` (once, after the workflow) wires:

* Transient status messages are cleared when what they announce is over: "Loading
  <model>" once the model has loaded (or failed), "Waiting for the image embedding…"
  once the embedding is there; the last click's latency and the cursor position are
  cleared when another project opens (they described the previous one), the cursor
  position also when the mouse leaves the canvas.
* A model that fails to load is reported in the window's banner with the loader's reason
  (not only in the hidden Log panel). When a working model was in use before, it is
  kept: the engine switches back to it and the saved choice is restored, so a file that
  is no SAM model never replaces a working one.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject

from samdesk.ui import settings as user_settings

WAITING_PREFIX = "Waiting for the image embedding"  # the annotator's message
LOADING_PREFIX = "Loading "  # MainWindow.set_engine_options's message


class Feedback(QObject):
    """See the module docstring. ``last_good``: the checkpoint that last loaded."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        engine = window.engine
        self.last_good: str | None = None
        self.last_error = ""
        self.kept_after_failure: str | None = None
        workflow = getattr(window, "workflow", None)
        self.banner = getattr(workflow, "banner", None)
        self.banner_label = getattr(workflow, "banner_label", None)
        self._banner_default = self.banner_label.text() if self.banner_label is not None else ""
        engine.model_loaded.connect(self._on_model_loaded)
        engine.error.connect(self._on_engine_error)
        engine.availability_changed.connect(self._on_availability)
        engine.embedding_ready.connect(lambda _key: self._clear_if(WAITING_PREFIX))
        window.annotator.draft_changed.connect(self._on_draft_changed)
        window.controller.project_opened.connect(self._on_project_opened)
        window.canvas.viewport().installEventFilter(self)  # the cursor leaving the image

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave:
            self.window._cursor_label.setText("")  # no position while outside the canvas
        return super().eventFilter(watched, event)

    # ----- stale status texts --------------------------------------------------------------
    def _clear_if(self, prefix: str) -> None:
        bar = self.window.statusBar()
        if bar.currentMessage().startswith(prefix):
            bar.clearMessage()

    def _on_draft_changed(self) -> None:
        draft = self.window.annotator.draft
        if draft is not None and not draft.mask.is_empty:
            self._clear_if(WAITING_PREFIX)  # the mask is shown: nothing is waited for

    def _on_project_opened(self) -> None:
        self.window._latency_label.setText("")
        self.window._cursor_label.setText("")
        self._clear_if(WAITING_PREFIX)

    # ----- model failures ------------------------------------------------------------------
    def _on_model_loaded(self, checkpoint: str) -> None:
        self._clear_if(LOADING_PREFIX)
        if not checkpoint:
            return
        self.last_good = checkpoint
        if self.kept_after_failure is not None and checkpoint != self.kept_after_failure:
            self.kept_after_failure = None  # another model works now: the old news is over
            self._restore_banner()

    def _on_engine_error(self, message: str) -> None:
        self.last_error = message

    def _on_availability(self, available: bool) -> None:
        engine = self.window.engine
        failed = engine.checkpoint
        if available or failed is None:
            return  # a working engine, or "no model" chosen on purpose
        self._clear_if(LOADING_PREFIX)
        full = self.last_error.removeprefix("Cannot load the model: ").strip()
        full = full or "the file could not be read as a SAM checkpoint."
        # The banner is one line: the first sentence there, all of it in its tooltip.
        reason = full.split(". ", 1)[0].rstrip(".") + "."
        previous = self.last_good
        if previous and previous != failed and Path(previous).is_file():
            if user_settings.checkpoint() == failed:
                user_settings.set_checkpoint(previous)  # the saved choice stays the working one
            self.kept_after_failure = previous
            self.window.set_engine_options(previous, **engine.options)
            self.show_banner(
                f"<b>{html.escape(Path(failed).name)}</b> could not be loaded: "
                f"{html.escape(reason)} Still using <b>{html.escape(Path(previous).name)}</b>.",
                tooltip=full,
            )
            self.window.statusBar().showMessage(
                f"{Path(failed).name} could not be loaded; still using {Path(previous).name}",
                10_000,
            )
            return
        self.show_banner(
            f"The model <b>{html.escape(Path(failed).name)}</b> could not be loaded: "
            f"{html.escape(reason)} Polygon and brush work; choose another model in "
            "<a href='manager'>Model Manager</a> or <a href='settings'>Settings → Model</a>.",
            tooltip=full,
        )

    def show_banner(self, text: str, tooltip: str = "") -> None:
        if self.banner is None or self.banner_label is None:
            self.window.report_error(text)
            return
        self.banner_label.setText(text)
        self.banner_label.setToolTip(tooltip)
        self.banner.setVisible(True)

    def banner_text(self) -> str:
        return self.banner_label.text() if self.banner_label is not None else ""

    def _restore_banner(self) -> None:
        if self.banner_label is not None:
            self.banner_label.setText(self._banner_default)
            self.banner_label.setToolTip("")
            self.banner.setVisible(not self.window.engine.available)


def install_feedback(window: Any) -> Feedback:
    """Keep ``window``'s feedback true (see the module docstring); returns the wiring."""
    feedback = Feedback(window)
    window.feedback = feedback
    return feedback


__all__ = ["Feedback", "install_feedback"]
