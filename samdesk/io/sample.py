"""The bundled sample project, and the user's working copy of it.

The sample ships read-only (in the checkout's ``resources/`` or inside the bundle), so the
program never annotates it in place: the first time it is asked for, it is copied into the
user data folder, and that copy is what opens.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

SAMPLE_FOLDER_NAME = "sample_project"


def bundled_sample_project() -> Path:
    """Where the shipped sample project is (it may be missing from a stripped install).

    In a PyInstaller bundle it lies under ``sys._MEIPASS/resources``; in a checkout or an
    editable install, in ``resources/`` beside the ``samdesk`` package.
    """
    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root is not None:
        return Path(bundle_root) / "resources" / SAMPLE_FOLDER_NAME
    import samdesk

    return Path(samdesk.__file__).resolve().parent.parent / "resources" / SAMPLE_FOLDER_NAME


def working_sample_project(dest_parent: Path | None = None) -> Path:
    """The user's copy of the sample project, made from the shipped one if missing.

    ``dest_parent`` defaults to the user data folder. An existing copy is returned as it
    is (the user's annotations in it are kept). Raises FileNotFoundError if this install
    has no sample project.
    """
    if dest_parent is None:
        from samdesk.models.paths import user_data_dir

        dest_parent = user_data_dir()
    dest = dest_parent / SAMPLE_FOLDER_NAME
    if dest.is_dir():
        return dest
    source = bundled_sample_project()
    if not source.is_dir():
        raise FileNotFoundError(f"this installation has no sample project ({source})")
    dest_parent.mkdir(parents=True, exist_ok=True)
    # Copy into a temporary name first: an interrupted copy never looks like a project.
    partial = dest_parent / f".{SAMPLE_FOLDER_NAME}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial, ignore=shutil.ignore_patterns("embeddings", "index.jsonl"))
    for path in partial.rglob("*"):
        # The shipped files may be read-only (a bundle, a package); the copy is the user's.
        path.chmod(path.stat().st_mode | 0o200)
    partial.rename(dest)
    return dest
