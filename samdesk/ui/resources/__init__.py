"""Package data of the UI (icons, default settings), looked up by name."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    """Absolute path of the UI resource ``name`` (it may not exist; check before use)."""
    return _HERE / name
