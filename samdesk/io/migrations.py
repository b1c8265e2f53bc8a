"""Schema versions of the project files and the migration steps between them.

Every samdesk YAML file carries ``schema_version``. Reading a file of version n < CURRENT
applies ``STEPS[kind][n]`` (n → n+1), then n+1 → n+2 and so on, on the parsed data; files
are rewritten in the current version only when next saved. A file from a newer samdesk is
refused rather than half-understood.

To change a format: bump ``CURRENT_VERSION``, add a step function for the old version in
``PROJECT_STEPS`` / ``ANNOTATION_STEPS`` (a pure dict → dict function, with a test on a
file of the old version), and never edit an existing step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

__all__ = [
    "ANNOTATION_STEPS",
    "CURRENT_VERSION",
    "PROJECT_STEPS",
    "MigrationError",
    "migrate",
]

CURRENT_VERSION = 1

Data = dict[str, Any]
Step = Callable[[Data], Data]
Kind = Literal["project", "annotations"]

# version n → the function that turns a version-n document into version n+1.
# Version 1 is the first released format, so there are no steps yet.
PROJECT_STEPS: dict[int, Step] = {}
ANNOTATION_STEPS: dict[int, Step] = {}


class MigrationError(ValueError):
    """The file's schema version is unknown (too new, or no migration path)."""


def _steps(kind: Kind) -> dict[int, Step]:
    return PROJECT_STEPS if kind == "project" else ANNOTATION_STEPS


def migrate(data: Data, kind: Kind) -> tuple[Data, int]:
    """Bring parsed file ``data`` to ``CURRENT_VERSION``; returns (data, original version).

    ``data`` must be a mapping with an integer ``schema_version``. Raises MigrationError for
    versions newer than this samdesk or with no migration step.
    """
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise MigrationError(f"schema_version must be an integer, got {version!r}")
    original = version
    if version > CURRENT_VERSION:
        raise MigrationError(
            f"schema_version {version} was written by a newer samdesk (this one reads up to "
            f"{CURRENT_VERSION}); please update samdesk"
        )
    steps = _steps(kind)
    while version < CURRENT_VERSION:
        step = steps.get(version)
        if step is None:
            raise MigrationError(f"no migration from {kind} schema_version {version}")
        data = step(dict(data))
        version += 1
        data["schema_version"] = version
    return data, original
