"""Class names files (classes.txt, data.yaml): read, turned into classes with digit keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from samdesk.core.document import LabelClass, free_class_key
from samdesk.io.class_names import (
    NamesFileError,
    classes_from_names,
    find_names_file,
    read_class_names,
)


def test_classes_txt_and_data_yaml(tmp_path: Path) -> None:
    txt = tmp_path / "classes.txt"
    txt.write_text("\ufeffcar\n\n# a comment\n  dog  \ncar\r\nfood\n", encoding="utf-8")
    assert read_class_names(txt) == ["car", "dog", "food"]
    listed = tmp_path / "data.yaml"
    listed.write_text("path: .\nnames: [cat, dog]\n", encoding="utf-8")
    assert read_class_names(listed) == ["cat", "dog"]
    nested = tmp_path / "nested.yaml"
    nested.write_text("names: [cat, [x, y], {a: b}, 7]\n", encoding="utf-8")
    assert read_class_names(nested) == ["cat", "7"]  # only plain values are names
    mapped = tmp_path / "mapped.yml"
    mapped.write_text("names:\n  1: dog\n  0: cat\n  10: bird\n  2: cow\n", encoding="utf-8")
    assert read_class_names(mapped) == ["cat", "dog", "cow", "bird"]
    assert find_names_file(tmp_path) == txt


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("data.yaml", b"names: [unclosed\n"),
        ("data.yaml", b"train: images\n"),
        ("data.yaml", b"names:\n  a: cat\n"),
        ("classes.txt", b"\xff\xfe\x00\x00garbage\x80"),
        # "Billion laughs": refused before anything is expanded.
        (
            "data.yaml",
            b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a]\nnames: *b\n",
        ),
    ],
)
def test_hostile_names_files_are_refused_with_a_reason(
    tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(NamesFileError, match=str(path.name)):
        read_class_names(path)
    with pytest.raises(NamesFileError, match="cannot be read"):
        read_class_names(tmp_path / "missing.txt")


def test_classes_from_names_get_keys_1_to_9_then_0() -> None:
    names = [f"c{i}" for i in range(12)]
    classes = classes_from_names(names)
    assert [c.id for c in classes] == list(range(1, 13))
    assert [c.key for c in classes] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, None, None]
    assert len({c.color for c in classes[:10]}) == 10


def test_free_class_key_skips_used_digits() -> None:
    classes = [LabelClass(1, "a", "#000000", 1), LabelClass(2, "b", "#000000", 3)]
    assert free_class_key(classes) == 2
    full = [LabelClass(i, str(i), "#000000", k) for i, k in enumerate(range(10))]
    assert free_class_key(full) is None
