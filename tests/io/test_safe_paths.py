"""``samdesk.io.safe_paths``: which dataset paths are refused, what counts as an image."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from samdesk.io.safe_paths import UnsafePathError, copy_image_into, dataset_path, not_an_image


@pytest.mark.parametrize(
    "name",
    [
        "/etc/passwd",
        "../x.png",
        "a/../../x.png",
        "..\\x.png",
        "a\\..\\..\\x.png",
        "C:\\Windows\\x.png",
        "C:x.png",
        "\\\\server\\share\\x.png",
        "//server/share/x.png",
        "link/x.png",  # through a symlinked folder that leads out
        "",
    ],
)
def test_paths_leaving_the_root_are_refused(tmp_path: Path, name: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        dataset_path(root, name)


@pytest.mark.parametrize("name", ["x.png", "a/b/x.png", "a\\x.png", "a/../x.png", "./x.png"])
def test_paths_inside_the_root_are_resolved(tmp_path: Path, name: str) -> None:
    path = dataset_path(tmp_path, name)
    assert tmp_path.resolve() in path.parents
    assert path.name == "x.png"


def test_images_are_recognised_by_content(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "ok.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "png_named.jpg", format="PNG")
    (tmp_path / "id_rsa.jpg").write_text("-----BEGIN OPENSSH PRIVATE KEY-----")
    (tmp_path / "p.samdesk.yaml").write_text("schema_version: 1")
    assert not_an_image(tmp_path / "ok.png") is None
    assert "not what '.jpg' says" in (not_an_image(tmp_path / "png_named.jpg") or "")
    assert "not an image" in (not_an_image(tmp_path / "id_rsa.jpg") or "")
    assert "samdesk project file" in (not_an_image(tmp_path / "p.samdesk.yaml") or "")
    assert not_an_image(tmp_path / "missing.png") == "not a regular file"


def test_copy_never_replaces_or_follows_links(tmp_path: Path) -> None:
    source = tmp_path / "src.png"
    Image.new("RGB", (4, 4)).save(source)
    project = tmp_path / "project"
    project.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (project / "planted.png").symlink_to(victim)
    with pytest.raises(FileExistsError):
        copy_image_into(source, project, "planted.png")
    assert victim.read_text() == "precious"
    (project / "dir").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        copy_image_into(source, project, "dir/new.png")
    assert not (tmp_path / "new.png").exists()
    copied = copy_image_into(source, project, "sub/ok.png")
    assert copied.read_bytes() == source.read_bytes()
