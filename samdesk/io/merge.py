"""Three-way merges of a project file or an annotation file another writer changed.

Pure functions. Each takes *base* (the file as this process last read or wrote it),
*ours* (this process's document now) and *theirs* (the file on disk now, written by
another annotator) and returns the merged value plus sentences for the user about what
could not be merged silently. The rule everywhere: a change made on one side only wins;
something changed on both sides differently keeps both versions (objects) or ours with a
note (a class edited twice); nothing either side added is lost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from samdesk.core.document import AnnotationObject, LabelClass, ReviewState, new_object_id
from samdesk.io.project_format import object_to_data

__all__ = [
    "ClassMerge",
    "ObjectMerge",
    "merge_classes",
    "merge_objects",
    "merge_settings",
    "object_key",
    "three_way",
]


def object_key(obj: AnnotationObject) -> str:
    """What an object is, as stored (id excluded): equal keys mean an unchanged object."""
    entry = object_to_data(obj)
    del entry["id"]
    return json.dumps(entry, sort_keys=True)


def three_way(base: Any, ours: Any, theirs: Any) -> Any:
    """The value of one field: ours if we changed it, else theirs."""
    return theirs if ours == base else ours


@dataclass
class ObjectMerge:
    """One image merged: its objects (ours in our order, then theirs new), its state, and
    sentences about what needed a decision."""

    objects: list[AnnotationObject]
    state: ReviewState
    notes: list[str] = field(default_factory=list)


def merge_objects(
    base: dict[str, str],
    base_state: ReviewState,
    ours: Sequence[AnnotationObject],
    our_state: ReviewState,
    theirs: Sequence[AnnotationObject],
    their_state: ReviewState,
) -> ObjectMerge:
    """Merge one image's objects; ``base`` maps object id → ``object_key`` at last sync.

    Objects only one side added are kept; an object one side deleted and the other left
    alone goes; an object one side deleted and the other changed is kept (with a note);
    an object both changed differently is kept twice — theirs under its id, ours as a copy
    under a new id — so no work is lost and a person decides (a note says so).
    """
    their_by_id = {o.id: o for o in theirs}
    merged: list[AnnotationObject] = []
    notes: list[str] = []
    for obj in ours:
        mine, before = object_key(obj), base.get(obj.id)
        other = their_by_id.get(obj.id)
        if other is None:
            if before is None or mine != before:
                merged.append(obj)  # ours is new, or we changed what they deleted
                if before is not None:
                    notes.append(
                        f"kept object {obj.id}: you changed it, another annotator deleted it"
                    )
            continue  # they deleted what we left alone
        theirs_key = object_key(other)
        if mine in (theirs_key, before):
            merged.append(other)
        elif theirs_key == before:
            merged.append(obj)
        else:
            merged.append(other)
            merged.append(replace(obj, id=new_object_id()))
            notes.append(
                f"object {obj.id} was changed by you and by another annotator: both versions kept"
            )
    ours_ids = {o.id for o in ours}
    for obj in theirs:
        if obj.id in ours_ids:
            continue
        before = base.get(obj.id)
        if before is None:
            merged.append(obj)  # another annotator added it
        elif object_key(obj) != before:
            merged.append(obj)
            notes.append(f"kept object {obj.id}: another annotator changed it, you deleted it")
    state = three_way(base_state, our_state, their_state)
    return ObjectMerge(merged, ReviewState(state), notes)


def _class_key(c: LabelClass) -> tuple[str, str, int | None]:
    return (c.name, c.color, c.key)


@dataclass
class ClassMerge:
    """The class lists merged (new LabelClass instances), our moved ids, and notes."""

    classes: list[LabelClass]
    remap: dict[int, int]
    """Our class ids that had to change (another annotator took the id): old → new."""
    notes: list[str] = field(default_factory=list)


def merge_classes(
    base: Sequence[LabelClass], ours: Sequence[LabelClass], theirs: Sequence[LabelClass]
) -> ClassMerge:
    """Merge the class lists. Classes both sides added are all kept with unique ids.

    A class we added whose id another annotator used meanwhile for a different class gets
    the next free id (``remap`` says which: the caller relabels its objects); one they
    added under the same name becomes the same class (their id). Returns new LabelClass
    instances; the inputs are not changed.
    """
    b = {c.id: c for c in base}
    t = {c.id: c for c in theirs}
    o = {c.id: c for c in ours}
    result: list[LabelClass] = []
    notes: list[str] = []
    added_by_us: list[LabelClass] = []
    for c in ours:
        before, other = b.get(c.id), t.get(c.id)
        if before is None:
            added_by_us.append(c)
        elif other is None:
            if _class_key(c) != _class_key(before):
                result.append(replace(c))
                notes.append(f"kept class {c.name!r}: you changed it, another annotator deleted it")
        elif _class_key(c) == _class_key(before):
            result.append(replace(other))
        else:
            if _class_key(other) != _class_key(before) and _class_key(other) != _class_key(c):
                notes.append(
                    f"class {c.id} was changed by you ({c.name!r}) and by another annotator "
                    f"({other.name!r}); yours was kept"
                )
            result.append(replace(c))
    for c in theirs:
        if c.id in o and c.id in b:
            continue  # settled above; a new class of theirs under our new class's id is not
        before = b.get(c.id)
        if before is None:
            result.append(replace(c))  # another annotator added it
        elif _class_key(c) != _class_key(before):
            result.append(replace(c))
            notes.append(f"kept class {c.name!r}: another annotator changed it, you deleted it")
    remap: dict[int, int] = {}
    taken = {c.id for c in result}
    by_name = {c.name: c for c in result}
    next_id = max([*taken, *o, *t, *b, 0]) + 1
    for c in added_by_us:
        same = by_name.get(c.name)
        if same is not None and same.id not in b:  # both added this class: one class
            if same.id != c.id:
                remap[c.id] = same.id
            continue
        new = replace(c)
        if new.id in taken:
            new.id, next_id = next_id, next_id + 1
            remap[c.id] = new.id
        taken.add(new.id)
        by_name.setdefault(new.name, new)
        result.append(new)
    return ClassMerge(result, remap, notes)


def merge_settings(
    base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any]
) -> dict[str, Any]:
    """Per key: ours if we changed it (also a deletion), else theirs."""
    missing = object()
    merged: dict[str, Any] = {}
    for key in [
        *ours,
        *(k for k in theirs if k not in ours),
        *(k for k in base if k not in ours and k not in theirs),
    ]:
        value = three_way(base.get(key, missing), ours.get(key, missing), theirs.get(key, missing))
        if value is not missing:
            merged[key] = value
    return merged
