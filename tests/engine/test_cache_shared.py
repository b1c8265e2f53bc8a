"""A shared (project) cache read before the own one: used, never written, never deleted."""

from __future__ import annotations

from pathlib import Path

from samdesk.engine.cache import DiskCache
from tests.engine.test_cache import HASH, MODEL, _full


def test_read_first_folder_is_read_not_written(tmp_path: Path) -> None:
    team = DiskCache(tmp_path / "project")
    team_file = team.save(HASH, _full())  # what `samdesk encode` left on the GPU box
    mine = DiskCache(tmp_path / "user", read_first=[tmp_path / "project"])
    loaded = mine.load(HASH, MODEL, "a.png")
    assert loaded is not None and loaded.source == "disk"
    assert not (tmp_path / "user").exists()  # nothing copied or written
    # A damaged shared entry is skipped, not deleted (it is the team's file).
    team_file.write_bytes(b"garbage")
    assert mine.load(HASH, MODEL, "a.png") is None
    assert team_file.read_bytes() == b"garbage"
    # Saving goes to the own folder only.
    saved = mine.save(HASH, _full())
    assert saved.parent == tmp_path / "user" and team_file.read_bytes() == b"garbage"
    assert mine.load(HASH, MODEL, "a.png") is not None  # from the own folder now
