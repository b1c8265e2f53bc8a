"""Checkpoints on disk: the official catalog, the user data folders, and the downloader.

Standard library only (no Qt, no torch), so the UI and the CLI can both use it cheaply.
The download function is not re-exported here on purpose: ``samdesk.models.download``
must stay the module (for ``import ... as`` and monkeypatching); use
``from samdesk.models.download import download``.
"""

from __future__ import annotations

from samdesk.models.catalog import (
    OFFICIAL_CHECKPOINTS,
    OfficialCheckpoint,
    checkpoint_by_key,
    installed_checkpoints,
    recommended_checkpoint,
)
from samdesk.models.download import (
    ChecksumMismatch,
    DownloadCancelled,
    DownloadError,
)
from samdesk.models.paths import models_dir, user_cache_dir, user_data_dir

__all__ = [
    "OFFICIAL_CHECKPOINTS",
    "ChecksumMismatch",
    "DownloadCancelled",
    "DownloadError",
    "OfficialCheckpoint",
    "checkpoint_by_key",
    "installed_checkpoints",
    "models_dir",
    "recommended_checkpoint",
    "user_cache_dir",
    "user_data_dir",
]
