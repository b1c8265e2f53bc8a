"""The command line: --help, --version, subcommands listed, unknown input refused."""

from __future__ import annotations

import subprocess
import sys

import samdesk
from samdesk.cli import build_parser


def _samdesk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samdesk", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_subcommands() -> None:
    result = _samdesk("--help")
    assert result.returncode == 0
    for name in ("encode", "export", "import", "--selftest", "--version"):
        assert name in result.stdout


def test_version() -> None:
    result = _samdesk("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"samdesk {samdesk.__version__}"


def test_unknown_option_is_an_error() -> None:
    result = _samdesk("--no-such-option")
    assert result.returncode == 2
    assert "unrecognised arguments" in result.stderr


def test_every_subcommand_is_available() -> None:
    parser = build_parser()
    help_text = parser.format_help()
    assert "(not available)" not in help_text


def test_subcommand_with_positional_arguments_reaches_its_runner(tmp_path) -> None:
    """`samdesk export PROJECT ...` must not take 'export' for the PROJECT to open."""
    import shutil

    from tests.conftest import REPO_ROOT

    project = tmp_path / "sample"
    shutil.copytree(REPO_ROOT / "resources" / "sample_project", project)
    out = tmp_path / "coco.json"
    result = _samdesk("export", str(project), "--format", "coco", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.is_file()
    bad = _samdesk("export", str(tmp_path / "missing"), "--format", "coco", "--out", str(out))
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0, "an error is one clear line, not a traceback"
