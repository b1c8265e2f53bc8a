"""The official checkpoint catalog: published locations, digests, recommendations."""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from pathlib import Path

import pytest

from samdesk.models.catalog import (
    OFFICIAL_CHECKPOINTS,
    checkpoint_by_key,
    installed_checkpoints,
    recommended_checkpoint,
)
from samdesk.models.paths import models_dir

SAM_FILE_RE = re.compile(r"sam_(vit_[blh])_([0-9a-f]{6})\.pth")
BY_KEY = {c.key: c for c in OFFICIAL_CHECKPOINTS}


def test_catalog_has_the_four_official_checkpoints() -> None:
    assert [c.key for c in OFFICIAL_CHECKPOINTS] == ["mobile_sam", "vit_b", "vit_l", "vit_h"]


@pytest.mark.parametrize("checkpoint", OFFICIAL_CHECKPOINTS, ids=lambda c: c.key)
def test_entry_is_well_formed(checkpoint) -> None:
    url = urllib.parse.urlsplit(checkpoint.url)
    assert url.scheme == "https"
    assert url.hostname
    assert not url.query and not url.fragment
    # The file is saved under the name it is published as.
    assert url.path.rsplit("/", 1)[-1] == checkpoint.file_name
    assert checkpoint.file_name.endswith((".pth", ".pt"))
    assert re.fullmatch(r"[0-9a-f]{64}", checkpoint.sha256)
    assert checkpoint.size > 1_000_000
    assert checkpoint.display_name.strip()
    assert checkpoint.description.strip()


@pytest.mark.parametrize("key", ["vit_b", "vit_l", "vit_h"])
def test_sam_file_names_match_key_and_published_md5(key: str) -> None:
    # The 6-hex tag in SAM's file names is the start of the file's MD5 (not its SHA-256:
    # e.g. sam_vit_b_01ec64 has SHA-256 ec2df627...), so a typo in a name shows up here.
    checkpoint = BY_KEY[key]
    match = SAM_FILE_RE.fullmatch(checkpoint.file_name)
    assert match, checkpoint.file_name
    assert match.group(1) == key
    assert re.fullmatch(r"[0-9a-f]{32}", checkpoint.md5)
    assert checkpoint.md5.startswith(match.group(2))
    assert (
        checkpoint.url == f"https://dl.fbaipublicfiles.com/segment_anything/{checkpoint.file_name}"
    )


def test_mobile_sam_comes_from_its_github_repository() -> None:
    url = BY_KEY["mobile_sam"].url
    assert url.startswith("https://raw.githubusercontent.com/ChaoningZhang/MobileSAM/")
    assert url.endswith("/weights/mobile_sam.pt")


def test_digests_names_and_sizes_are_distinct() -> None:
    for field in ("sha256", "file_name", "size"):
        values = [getattr(c, field) for c in OFFICIAL_CHECKPOINTS]
        assert len(set(values)) == len(values), field
    sizes = [BY_KEY[k].size for k in ("mobile_sam", "vit_b", "vit_l", "vit_h")]
    assert sizes == sorted(sizes)


def test_recommendations() -> None:
    assert [c.key for c in OFFICIAL_CHECKPOINTS if c.recommended_without_gpu] == ["mobile_sam"]
    assert [c.key for c in OFFICIAL_CHECKPOINTS if c.recommended_with_gpu] == ["vit_h"]
    assert recommended_checkpoint(has_gpu=False).key == "mobile_sam"
    assert recommended_checkpoint(has_gpu=True).key == "vit_h"


def test_checkpoint_by_key() -> None:
    assert checkpoint_by_key("vit_l") is BY_KEY["vit_l"]
    with pytest.raises(KeyError, match="mobile_sam, vit_b, vit_l, vit_h"):
        checkpoint_by_key("vit_x")


def test_entries_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        BY_KEY["vit_b"].url = "https://example.invalid/x.pth"  # type: ignore[misc]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch) -> Path:
    """Point the user data folder into this test's tmp_path."""
    monkeypatch.setenv("SAMDESK_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_installed_checkpoints_lists_checkpoint_files_only(data_dir: Path) -> None:
    folder = models_dir()
    assert folder == data_dir / "models"
    assert installed_checkpoints() == []  # the folder does not exist yet

    folder.mkdir(parents=True)
    for name in ("b_custom.pt", "a_sam.pth", "c.pth.part", "notes.txt", "UPPER.PTH"):
        (folder / name).write_bytes(b"x")
    (folder / "dir.pth").mkdir()

    assert installed_checkpoints() == [
        folder / "UPPER.PTH",
        folder / "a_sam.pth",
        folder / "b_custom.pt",
    ]


def test_is_installed_checks_the_size(data_dir: Path) -> None:
    checkpoint = BY_KEY["mobile_sam"]
    path = checkpoint.local_path()
    assert path == data_dir / "models" / "mobile_sam.pt"
    assert not checkpoint.is_installed()

    path.parent.mkdir(parents=True)
    path.write_bytes(b"truncated")
    assert not checkpoint.is_installed()
    with path.open("r+b") as f:
        f.truncate(checkpoint.size)  # sparse: the right size without writing 40 MB
    assert checkpoint.is_installed()
