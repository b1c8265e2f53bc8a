"""Lint and format gates (ruff), run as part of the test suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "ruff"]
    return subprocess.run([*cmd, *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")])
def test_ruff(args: tuple[str, ...]) -> None:
    result = _ruff(*args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_c_sources_are_clang_formatted() -> None:
    """The compiled mask loops follow samdesk/sam/.clang-format (clang-format is a dev
    dependency, pinned: its output changes between versions)."""
    exe = shutil.which("clang-format", path=str(Path(sys.executable).parent))
    assert exe, "clang-format is not installed (pip install -e .[dev])"
    sources = sorted(str(p) for p in (ROOT / "samdesk").rglob("*.[ch]"))
    assert sources
    result = subprocess.run(
        [exe, "--dry-run", "--Werror", *sources], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
