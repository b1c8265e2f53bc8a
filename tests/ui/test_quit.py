"""Quitting the real app (a subprocess, offscreen): mid forward pass, or stuck on a FIFO."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

# Runs samdesk's own command line (``samdesk.cli.run``: the window, the event loop, the exit
# path). The only additions: the encoder's forward pass (any architecture) flags when it has
# started, and a timer triggers File ▸ Quit as soon as it has; ``shutdown_timeout = 0`` makes
# the window wait for nothing, so the forward pass is still running while the process exits.
_QUIT_MID_ENCODE = textwrap.dedent(
    """
    import sys, threading
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from samdesk.sam.predictor import Predictor
    from samdesk.ui.main_window import MainWindow
    from samdesk.cli import run

    MainWindow.shutdown_timeout = 0.0
    started = threading.Event()
    real_set_torch_image = Predictor.set_torch_image

    def set_torch_image(self, *args, **kwargs):
        started.set()
        return real_set_torch_image(self, *args, **kwargs)

    Predictor.set_torch_image = set_torch_image

    def quit_when_encoding():
        if not started.is_set():
            QTimer.singleShot(2, quit_when_encoding)
            return
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
        quit_action = next(a for a in window.actions() if a.text() == "&Quit")
        quit_action.trigger()
        alive = [t.name for t in threading.enumerate() if t.name == "samdesk-encoder"]
        print("encoder running at quit:", alive, flush=True)

    QTimer.singleShot(0, quit_when_encoding)
    sys.exit(run(sys.argv[1:]))
    """
)


@pytest.mark.parametrize("arch", ["vit", "tiny_vit"])
def test_quit_mid_encode_exits_zero(tmp_path: Path, checkpoint: Path, arch: str) -> None:
    if arch != "vit":
        from samdesk.sam.testing import make_checkpoint

        checkpoint = make_checkpoint(tmp_path / f"{arch}.pt", arch=arch)
    project = tmp_path / "sample"
    shutil.copytree(REPO_ROOT / "resources" / "sample_project", project)
    for attempt in range(2):  # the abort depended on timing at exit: more than one try
        # A cache of its own each time: no try finds the embedding an earlier one made.
        cache = tmp_path / f"cache{attempt}"
        env = dict(
            os.environ,
            PYTHONPATH=str(REPO_ROOT),
            QT_QPA_PLATFORM="offscreen",
            XDG_CACHE_HOME=str(cache),
            SAMDESK_CACHE_DIR=str(cache),
        )
        done = subprocess.run(
            [sys.executable, "-c", _QUIT_MID_ENCODE, "--checkpoint", str(checkpoint), str(project)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        report = f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        assert "encoder running at quit: ['samdesk-encoder']" in done.stdout, report
        assert done.returncode == 0, report
        assert "terminate called" not in done.stderr, report


# Opens the project, waits until the first image (a FIFO) is reported as failed, prints the
# message shown over the canvas, then File ▸ Quit.
_QUIT_AFTER_FIFO = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from samdesk.ui.main_window import MainWindow
    from samdesk.cli import run

    def quit_after_failure():
        window = next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)), None
        )
        if window is None or window._canvas_note.isHidden():
            QTimer.singleShot(5, quit_after_failure)
            return
        print("shown:", window._canvas_note.text(), flush=True)
        next(a for a in window.actions() if a.text() == "&Quit").trigger()

    QTimer.singleShot(0, quit_after_failure)
    sys.exit(run(sys.argv[1:]))
    """
)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_image_is_reported_and_the_app_still_quits(tmp_path: Path, checkpoint: Path) -> None:
    from PIL import Image

    from samdesk.io.project import ProjectStore

    project = tmp_path / "project"
    project.mkdir()
    for name in ("a_pipe.png", "b.png"):
        Image.new("RGB", (64, 48), (90, 160, 30)).save(project / name)
    ProjectStore.create(project, "p")
    (project / "a_pipe.png").unlink()
    os.mkfifo(project / "a_pipe.png")  # the first image: the window opens onto it
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), QT_QPA_PLATFORM="offscreen")
    try:
        done = subprocess.run(
            [sys.executable, "-c", _QUIT_AFTER_FIFO, "--checkpoint", str(checkpoint), str(project)],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the app hung on a FIFO image (output: {exc.stdout!r} {exc.stderr!r})")
    report = f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 0, report
    assert "shown: a_pipe.png" in done.stdout and "FIFO" in done.stdout, report
