"""User data and cache folders: overrides, XDG, and each platform's convention."""

from __future__ import annotations

from pathlib import Path

import pytest

from samdesk.models.paths import (
    models_dir,
    platform_cache_dir,
    platform_data_dir,
    user_cache_dir,
    user_data_dir,
)


def test_data_dir_override_from_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SAMDESK_DATA_DIR", str(tmp_path / "data"))
    assert user_data_dir() == tmp_path / "data"
    assert models_dir() == tmp_path / "data" / "models"
    assert not (tmp_path / "data").exists()  # asking for a path creates nothing


def test_relative_override_is_made_absolute(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAMDESK_CACHE_DIR", "cache")
    assert user_cache_dir() == tmp_path / "cache"


def test_cache_dir_override_from_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SAMDESK_CACHE_DIR", str(tmp_path / "cache"))
    assert user_cache_dir() == tmp_path / "cache"


def test_without_override_the_platform_folder_is_used(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SAMDESK_DATA_DIR", raising=False)
    monkeypatch.delenv("SAMDESK_CACHE_DIR", raising=False)
    data, cache = user_data_dir(), user_cache_dir()
    assert data.name == "samdesk"
    assert data.is_absolute()
    assert cache.is_absolute()
    assert cache != data


@pytest.mark.parametrize(
    ("platform", "data_rel", "cache_rel"),
    [
        ("linux", ".local/share/samdesk", ".cache/samdesk"),
        ("darwin", "Library/Application Support/samdesk", "Library/Caches/samdesk"),
        ("win32", "AppData/Local/samdesk", "AppData/Local/samdesk/Cache"),
    ],
)
def test_platform_defaults_without_environment(
    platform: str, data_rel: str, cache_rel: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    assert platform_data_dir(platform, {}, home) == home / data_rel
    assert platform_cache_dir(platform, {}, home) == home / cache_rel


def test_linux_honours_xdg_variables(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xd"), "XDG_CACHE_HOME": str(tmp_path / "xc")}
    assert platform_data_dir("linux", env, tmp_path) == tmp_path / "xd" / "samdesk"
    assert platform_cache_dir("linux", env, tmp_path) == tmp_path / "xc" / "samdesk"


def test_relative_xdg_variables_are_ignored(tmp_path: Path) -> None:
    # The XDG spec: a relative path is invalid and must be ignored.
    env = {"XDG_DATA_HOME": "relative/data", "XDG_CACHE_HOME": ""}
    assert platform_data_dir("linux", env, tmp_path) == tmp_path / ".local/share/samdesk"
    assert platform_cache_dir("linux", env, tmp_path) == tmp_path / ".cache/samdesk"


def test_windows_uses_localappdata(tmp_path: Path) -> None:
    env = {"LOCALAPPDATA": str(tmp_path / "Local")}
    assert platform_data_dir("win32", env, tmp_path / "home") == tmp_path / "Local" / "samdesk"
    assert platform_cache_dir("win32", env, tmp_path / "home") == (
        tmp_path / "Local" / "samdesk" / "Cache"
    )


def test_macos_ignores_xdg(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xd")}
    assert platform_data_dir("darwin", env, tmp_path) == (
        tmp_path / "Library" / "Application Support" / "samdesk"
    )
