"""YAML parsing for samdesk's own files: safe tags only, and no anchors or aliases.

A safe loader still expands aliases: a 1 KB "billion laughs" file (``&a [*b, *b, ...]``
nested ten levels) builds billions of references, takes tens of seconds and gigabytes to
load and hangs the first save that dumps it again. samdesk never writes anchors or
aliases, so they are refused outright, *before* any object is built: the text is first
read as a stream of parser events (linear in its length, nothing composed) and the first
anchor or alias stops it with a message naming the file and line.

PyYAML's C loader composes nodes in C, where no Python composer can be hooked in; the
event pre-scan works the same for the C and the pure-Python loader. It only runs when the
text contains ``&`` or ``*`` at all (coordinate files never do), so it costs nothing on
the hot path.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["AliasRefusedError", "Loader", "refuse_aliases", "safe_load"]

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class AliasRefusedError(yaml.MarkedYAMLError):
    """The text uses a YAML anchor or alias (refused in samdesk files)."""


def refuse_aliases(text: bytes | str) -> None:
    """Raise AliasRefusedError at the first anchor (``&name``) or alias (``*name``).

    YAML syntax errors met on the way propagate as yaml.YAMLError (with marks).
    """
    marker = (b"&", b"*") if isinstance(text, bytes) else ("&", "*")
    if marker[0] not in text and marker[1] not in text:
        return
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            kind = "alias" if isinstance(event, yaml.AliasEvent) else "anchor"
            raise AliasRefusedError(
                problem=(
                    f"YAML {kind}s (&name / *name) are not allowed in samdesk files "
                    "(they can expand into billions of values)"
                ),
                problem_mark=event.start_mark,
            )


def safe_load(text: bytes | str) -> Any:
    """``yaml.load`` with the safe (C when available) loader, refusing anchors/aliases."""
    refuse_aliases(text)
    return yaml.load(text, Loader=Loader)
