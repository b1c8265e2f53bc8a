"""Class names files: ``classes.txt`` (one name a line, darknet/YOLO style, also
``*.names``) and YOLO's ``data.yaml`` (``names:`` a list or an id → name mapping).

Pure functions, no Qt: read the names, turn names into the project's classes (ids 1..N,
palette colours, digit keys 1–9, 0 in order).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from samdesk.core.document import CLASS_KEYS, LabelClass

NAMES_FILES = ("classes.txt", "data.yaml", "obj.names", "classes.names")
"""File names looked for in a new project's folder, in this order."""

MAX_NAMES_BYTES = 1 << 20  # a names file is small; anything bigger is not one


class NamesFileError(ValueError):
    """The file is not a readable names file (the message says why, with the path)."""


def clean_names(names: Iterable[object]) -> list[str]:
    """Stripped, non-empty names in order, each once (the first spelling wins). Only plain
    values (text, numbers) are names: a list or mapping in their place is skipped."""
    out: list[str] = []
    for name in names:
        if isinstance(name, list | dict | tuple | set):
            continue
        text = str(name).strip()
        if text and text not in out:
            out.append(text)
    return out


def read_class_names(path: str | os.PathLike[str]) -> list[str]:
    """The class names in ``path``: a YAML file (``.yaml``/``.yml``, its ``names``) or a
    text file (one name a line; blank lines and ``#`` comments skipped).

    Raises NamesFileError for a missing, huge, undecodable or malformed file.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_NAMES_BYTES:
            raise NamesFileError(f"{path}: too big for a class names file")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise NamesFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise NamesFileError(f"{path}: not a text file (UTF-8 expected)") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        return clean_names(_yaml_names(text, path))
    return clean_names(line for line in text.splitlines() if not line.strip().startswith("#"))


def _yaml_names(text: str, path: Path) -> list[object]:
    import yaml

    from samdesk.io.safe_yaml import AliasRefusedError, safe_load

    try:
        # No anchors/aliases: a dataset's data.yaml may come from anyone ("billion laughs").
        data = safe_load(text)
    except AliasRefusedError as exc:
        raise NamesFileError(f"{path}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise NamesFileError(f"{path}: not valid YAML ({exc})") from exc
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, list):
        return names
    if isinstance(names, dict):
        try:
            return [names[k] for k in sorted(names, key=int)]
        except (TypeError, ValueError):
            raise NamesFileError(f"{path}: 'names' keys must be class ids 0..N-1") from None
    raise NamesFileError(f"{path}: no 'names' list (YOLO data.yaml) in it")


def find_names_file(folder: str | os.PathLike[str]) -> Path | None:
    """A names file in ``folder`` itself (``NAMES_FILES`` order), or None."""
    for name in NAMES_FILES:
        candidate = Path(folder) / name
        if candidate.is_file():
            return candidate
    return None


def classes_from_names(names: Iterable[str]) -> list[LabelClass]:
    """New classes for ``names``: ids 1..N, palette colours, keys 1–9, 0 (None after ten)."""
    from samdesk.io._formats import palette_color

    return [
        LabelClass(
            id=i + 1,
            name=name,
            color=palette_color(i),
            key=CLASS_KEYS[i] if i < len(CLASS_KEYS) else None,
        )
        for i, name in enumerate(clean_names(names))
    ]
