"""The disk cache removes what crashed saves left behind, and nothing else (issue #12)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from samdesk.engine.cache import DiskCache
from tests.conftest import REPO_ROOT

HOUR = 3600

# One real DiskCache.save that dies between writing its temporary file and the rename.
_CRASH_WHILE_CACHING = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from samdesk.engine.cache import DiskCache
    from samdesk.engine.embedding import FEATURES_SHAPE, Embedding

    features = np.zeros(FEATURES_SHAPE, np.float32)
    embedding = Embedding("img.png", "ckpt-" + "0" * 32, features, (10, 20), (512, 1024))
    os.replace = lambda *args: os._exit(3)
    DiskCache(sys.argv[1]).save("f" * 32, embedding)
    """
)


def _crash(folder: Path) -> Path:
    before = set(folder.iterdir()) if folder.is_dir() else set()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _CRASH_WHILE_CACHING, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    (left,) = set(folder.iterdir()) - before
    return left


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_stale_cache_temporaries_are_removed_when_the_cache_opens(tmp_path: Path) -> None:
    folder = tmp_path / "embeddings"
    stale, young = _crash(folder), _crash(folder)
    assert stale.name.startswith(".tmp-") and stale.name.endswith(".emb")
    _age(stale, 2 * HOUR)
    user_files = [folder / ".tmp-notes.emb.txt", folder / "tmp-abcdefgh.emb", folder / "x.emb"]
    for path in user_files:
        path.write_text("the user's")
        _age(path, 2 * HOUR)
    (folder / ".tmp-abcdefgh.emb").mkdir()  # a folder with the name: not our file
    _age(folder / ".tmp-abcdefgh.emb", 2 * HOUR)

    DiskCache(folder)
    assert not stale.exists()
    assert young.exists()  # maybe another samdesk process is writing it right now
    assert all(path.read_text() == "the user's" for path in user_files)
    assert (folder / ".tmp-abcdefgh.emb").is_dir()
