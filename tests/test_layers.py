"""Architecture gates: which layer may import what, and a cheap ``import samdesk``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "samdesk"
QT_MODULES = ("PySide6", "shiboken6", "PyQt5", "PyQt6")
# Modules that the window and `samdesk --help` import before anything heavy is needed.
LIGHT_MODULES = ("samdesk/__init__.py", "samdesk/__main__.py", "samdesk/cli.py")


def _imports(path: Path, *, top_level_only: bool = False) -> list[tuple[str, int]]:
    """(imported module, line) for each import statement in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: list[tuple[str, int]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
    return found


def _modules(*layers: str) -> list[Path]:
    return sorted(p for layer in layers for p in (PACKAGE / layer).rglob("*.py"))


def _offenders(files: list[Path], banned: tuple[str, ...], top_level_only=False) -> list[str]:
    bad = []
    for path in files:
        for name, line in _imports(path, top_level_only=top_level_only):
            if name.split(".")[0] in banned:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    return bad


def test_only_ui_imports_qt() -> None:
    non_ui = [p for p in PACKAGE.rglob("*.py") if "ui" not in p.relative_to(PACKAGE).parts]
    assert non_ui, "no modules found"
    assert _offenders(non_ui, QT_MODULES) == []


def test_core_and_io_never_import_torch() -> None:
    files = _modules("core", "io")
    assert files, "no core/io modules found"
    assert _offenders(files, ("torch", *QT_MODULES)) == []


def test_engine_never_imports_qt() -> None:
    assert _offenders(_modules("engine", "sam"), QT_MODULES) == []


def test_entry_modules_import_nothing_heavy_at_top_level() -> None:
    files = [PACKAGE.parent / m for m in LIGHT_MODULES]
    assert _offenders(files, ("torch", "numpy", *QT_MODULES), top_level_only=True) == []


@pytest.mark.parametrize(
    "code",
    [
        # The parser (for --help) is built from every subcommand module.
        "import samdesk.cli; samdesk.cli.build_parser()",
        # The document and format layers, all of their modules.
        "import pkgutil, importlib, samdesk.core, samdesk.io\n"
        "for pkg in (samdesk.core, samdesk.io):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)",
    ],
)
def test_light_imports_load_neither_torch_nor_qt(code: str) -> None:
    probe = code + "\nimport sys\nheavy = [m for m in ('torch', 'PySide6') if m in sys.modules]\n"
    probe += "assert not heavy, heavy\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
