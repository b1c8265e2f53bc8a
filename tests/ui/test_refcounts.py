"""PySide6 releasing None/True too often must not abort samdesk (samdesk.ui.refcounts).

Run in a separate process: without the fix the interpreter aborts, which would take the
test session with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
{setup}
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QToolButton

app = QApplication([])

class Source(QObject):
    changed = Signal(bool)

source, button = Source(), QToolButton()
source.changed.connect(lambda on: None)
button.clicked.connect(lambda _checked=False: None)
for _ in range(30_000):  # more than None's and True's counts on 3.11
    source.changed.emit(True)
    button.click()
print("survived", sys.getrefcount(None) > 0)
"""


def _run(setup: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(setup=setup)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_many_signals_do_not_abort_the_interpreter():
    done = _run("import samdesk.ui")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "survived True" in done.stdout


def test_pinning_is_idempotent_and_only_where_needed():
    from samdesk.ui.refcounts import pin_singletons

    before = sys.getrefcount(None)
    assert pin_singletons() is False  # samdesk.ui applied it at import already (or 3.12+)
    assert sys.getrefcount(None) - before < 1000
