"""Where samdesk keeps per-user files: downloaded checkpoints (data) and caches.

Nothing here creates a folder: callers create what they write into, so that merely asking
for a path (e.g. to show it in a dialog) never touches the disk.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

APP_NAME = "samdesk"


def _env_path(env: Mapping[str, str], name: str) -> Path | None:
    """``env[name]`` as an absolute path, or None when unset, empty or relative.

    The XDG spec says relative values must be ignored; we apply the same rule to
    LOCALAPPDATA, so a broken variable falls back to the default instead of writing
    into whatever the current working directory happens to be.
    """
    value = env.get(name, "")
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else None


def platform_data_dir(platform: str, env: Mapping[str, str], home: Path) -> Path:
    """The platform's per-user data folder for samdesk (pure: no env or OS lookups).

    ``platform`` is a ``sys.platform`` value ("win32", "darwin", "linux", ...).
    """
    if platform == "win32":
        base = _env_path(env, "LOCALAPPDATA") or home / "AppData" / "Local"
        return base / APP_NAME
    if platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    base = _env_path(env, "XDG_DATA_HOME") or home / ".local" / "share"
    return base / APP_NAME


def platform_cache_dir(platform: str, env: Mapping[str, str], home: Path) -> Path:
    """The platform's per-user cache folder for samdesk (pure: no env or OS lookups)."""
    if platform == "win32":
        # Windows has no separate cache root; a "Cache" subfolder of the local app data
        # folder is the common convention (platformdirs does the same).
        base = _env_path(env, "LOCALAPPDATA") or home / "AppData" / "Local"
        return base / APP_NAME / "Cache"
    if platform == "darwin":
        return home / "Library" / "Caches" / APP_NAME
    base = _env_path(env, "XDG_CACHE_HOME") or home / ".cache"
    return base / APP_NAME


def _override(name: str) -> Path | None:
    """An explicit ``SAMDESK_*`` folder; unlike XDG values a relative one is honoured."""
    value = os.environ.get(name, "")
    return Path(value).expanduser().absolute() if value else None


def user_data_dir() -> Path:
    """Per-user data folder: ``$SAMDESK_DATA_DIR`` if set, else the platform's.

    Windows ``%LOCALAPPDATA%/samdesk``, macOS ``~/Library/Application Support/samdesk``,
    Linux ``$XDG_DATA_HOME/samdesk`` or ``~/.local/share/samdesk``. Not created here.
    """
    override = _override("SAMDESK_DATA_DIR")
    if override is not None:
        return override
    return platform_data_dir(sys.platform, os.environ, Path.home())


def user_cache_dir() -> Path:
    """Per-user cache folder: ``$SAMDESK_CACHE_DIR`` if set, else the platform's.

    Windows ``%LOCALAPPDATA%/samdesk/Cache``, macOS ``~/Library/Caches/samdesk``,
    Linux ``$XDG_CACHE_HOME/samdesk`` or ``~/.cache/samdesk``. Not created here.
    """
    override = _override("SAMDESK_CACHE_DIR")
    if override is not None:
        return override
    return platform_cache_dir(sys.platform, os.environ, Path.home())


def models_dir() -> Path:
    """Folder where downloaded checkpoints live: ``user_data_dir() / "models"``."""
    return user_data_dir() / "models"
