#!/usr/bin/env python3
"""Set up samdesk in ./.venv and start it, or run its tests. Safe to run again.

    python3 run.py            # set up, then open the app on (a copy of) the sample project
    python3 run.py test       # set up, then run the whole test suite (as CI does)
    python3 run.py test -k coco   # extra arguments go to pytest
    python3 run.py setup      # set up with the dev tools (tests, ruff, PyInstaller), no run

The app command installs only what the app needs (``pip install -e .``); ``test`` and
``setup`` install the dev tools too (``.[dev]``). The stamp file records which of the two
was installed, so a test run after an app-only set-up installs the dev tools, while an
app run after a dev set-up installs nothing (dev includes the app's requirements).

Only the Python standard library is used here, so this works on a machine that has
nothing but Python >= 3.10.

PyTorch: when the venv has no torch, a CPU build is installed first
(``torch==2.13.0`` unless ``SAMDESK_TORCH`` names another requirement, from the index in
``SAMDESK_TORCH_INDEX`` if set — e.g. PyTorch's CUDA or CPU wheel index). Installing it
first keeps pip from resolving a bare ``torch`` requirement into the multi-GB CUDA build
on a machine without a GPU. An installed torch is never replaced.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".samdesk-installed"
DEFAULT_TORCH = "torch==2.13.0"


def _venv_python() -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def _run(cmd: list[str | os.PathLike[str]], **kwargs) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def _has_module(py: Path, name: str) -> bool:
    probe = f"import importlib.util,sys; sys.exit(importlib.util.find_spec({name!r}) is None)"
    return subprocess.run([str(py), "-c", probe]).returncode == 0


def _install_fingerprint() -> str:
    """What the install depends on: a change re-runs pip, otherwise set-up is instant.

    The C sources count too: ``pip install -e`` compiles them in place.
    """
    h = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    for source in sorted([*(ROOT / "samdesk").rglob("*.c"), *(ROOT / "samdesk").rglob("*.h")]):
        h.update(source.read_bytes())
    h.update(sys.version.encode())
    return h.hexdigest()


def _stamp_says() -> tuple[str | None, str | None]:
    """(fingerprint, "app" or "dev") of the last install, (None, None) when unknown.

    Stamps written before the app/dev split hold only a fingerprint; they were dev installs.
    """
    try:
        lines = STAMP.read_text().splitlines()
    except OSError:
        return None, None
    if not lines:
        return None, None
    return lines[0], (lines[1] if len(lines) > 1 else "dev")


def setup(dev: bool = True) -> Path:
    """Create/refresh ./.venv with samdesk (editable); ``dev``: with its dev tools too.

    Returns the venv's python.
    """
    if sys.version_info < (3, 10):  # noqa: UP036 - run.py may be started by an old python3
        sys.exit(f"samdesk needs Python >= 3.10; this is {sys.version.split()[0]}")
    py = _venv_python()
    if not py.exists():
        print(f"Creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, upgrade_deps=False).create(VENV)
    if not _has_module(py, "torch"):
        spec = os.environ.get("SAMDESK_TORCH", DEFAULT_TORCH)
        cmd: list[str | os.PathLike[str]] = [py, "-m", "pip", "install", spec]
        if os.environ.get("SAMDESK_TORCH_INDEX"):
            cmd += ["--index-url", os.environ["SAMDESK_TORCH_INDEX"]]
        _run(cmd)
    fingerprint = _install_fingerprint()
    stamped, kind = _stamp_says()
    enough = kind == "dev" or (kind == "app" and not dev)
    if stamped != fingerprint or not enough or not _has_module(py, "samdesk"):
        target = f"{ROOT}[dev]" if dev else str(ROOT)
        _run([py, "-m", "pip", "install", "-e", target])
        STAMP.write_text(f"{fingerprint}\n{'dev' if dev else 'app'}\n")
    return py


def main(argv: list[str]) -> int:
    py = setup(dev=argv[:1] in (["test"], ["setup"]))
    env = dict(os.environ)
    if argv[:1] == ["test"]:
        # The Qt tests always run offscreen; nothing here needs a display.
        env["QT_QPA_PLATFORM"] = "offscreen"
        return subprocess.run([str(py), "-m", "pytest", *argv[1:]], cwd=ROOT, env=env).returncode
    if argv[:1] == ["setup"]:
        return 0
    # Without arguments: a copy of the sample project in the user's data folder (the one in
    # resources/ stays as shipped).
    args = argv if argv else ["--sample"]
    return subprocess.run([str(py), "-m", "samdesk", *args], env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
