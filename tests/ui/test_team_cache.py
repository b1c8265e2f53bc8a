"""Team cache: what `samdesk encode` (a real process) wrote into the project folder is what
the window uses with default settings, instead of encoding again into the user cache."""

from __future__ import annotations

import os
import subprocess
import sys

from samdesk.engine.fingerprint import content_hash
from samdesk.ui import settings as user_settings
from tests.conftest import REPO_ROOT
from tests.ui.conftest import WAIT_MS, _close, _open_window
from tests.ui.workflow_support import isolated_settings  # noqa: F401


def test_window_reads_the_project_cache_written_by_encode(qtbot, project, checkpoint):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    command = ["-m", "samdesk", "encode", str(project), "--checkpoint", str(checkpoint)]
    done = subprocess.run(
        [sys.executable, *command, "--device", "cpu"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    team = project / ".samdesk" / "embeddings"
    team_files = {p.name: p.stat().st_mtime_ns for p in team.glob("*.emb")}
    assert len(team_files) == 2
    assert user_settings.model_settings().cache_place == "user"  # the default
    window = _open_window(qtbot, project, checkpoint)
    qtbot.waitUntil(window.engine.is_ready, timeout=WAIT_MS)
    embedding = window.engine._embedding
    assert embedding.source == "disk"  # not encoded again on this laptop
    user_cache = user_settings.model_settings().cache_dir(project)
    first = content_hash(window.controller._abspath(0))
    assert not list(user_cache.glob(f"{first}-*.emb"))  # (no folder: no files either)
    _close(window)
    # The team's files are untouched.
    assert {p.name: p.stat().st_mtime_ns for p in team.glob("*.emb")} == team_files


def test_encode_help_says_where_the_window_reads():
    from samdesk.cli import build_parser

    parser = build_parser(with_project=False)
    sub = next(a for a in parser._actions if a.dest == "command").choices["encode"]
    text = sub.format_help()
    assert "reads first" in " ".join(text.split())
