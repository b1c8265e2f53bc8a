"""samdesk.models stays a standard-library layer: no Qt, no torch, no numpy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "samdesk" / "models"
BANNED = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "torch", "numpy")


def test_models_imports_neither_qt_nor_torch() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert files
    bad = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            bad += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in BANNED]
    assert bad == []


def test_importing_models_loads_nothing_heavy() -> None:
    probe = (
        "import sys, samdesk.models\n"
        "heavy = [m for m in ('torch', 'PySide6', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=PACKAGE.parents[1]
    )
    assert result.returncode == 0, result.stderr
