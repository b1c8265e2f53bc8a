"""Build the one-folder bundle ``<dist>/samdesk/`` with PyInstaller.

Usage: ``python packaging/build.py [--dist DIR] [--work DIR]`` (defaults:
``packaging/dist`` and ``packaging/build``, both git-ignored). Prints the build time and
the bundle's size; exits with PyInstaller's status.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
SPEC = PACKAGING / "samdesk.spec"


def bundle_size(folder: Path) -> int:
    """Bytes of all regular files under ``folder`` (symlinks not followed, as ``du``)."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def build(dist: Path, work: Path, *, quiet: bool = False) -> tuple[int, float]:
    """Run PyInstaller on the spec; returns (exit status, seconds)."""
    cmd = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--distpath",
        str(dist),
        "--workpath",
        str(work),
        "--log-level",
        "WARN" if quiet else "INFO",
        str(SPEC),
    ]
    start = time.perf_counter()
    status = subprocess.run(cmd, check=False).returncode
    return status, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Command line: build, then report time and size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=PACKAGING / "dist", help="output folder")
    parser.add_argument("--work", type=Path, default=PACKAGING / "build", help="work folder")
    parser.add_argument("--quiet", action="store_true", help="only PyInstaller's warnings")
    args = parser.parse_args(argv)

    status, seconds = build(args.dist.resolve(), args.work.resolve(), quiet=args.quiet)
    bundle = args.dist.resolve() / "samdesk"
    print(f"build time: {seconds:.0f} s (PyInstaller exit status {status})")
    if status == 0 and bundle.is_dir():
        size = bundle_size(bundle)
        print(f"bundle: {bundle}  {size / 2**20:.0f} MiB")
    return status


if __name__ == "__main__":
    sys.exit(main())
