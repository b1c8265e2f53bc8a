"""Shared pieces of the workflow tests (panels, dialogs, end to end): settings in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path) -> Path:
    """QSettings of this test in ``tmp_path/settings`` (not the user's, not another test's)."""
    folder = tmp_path / "settings"
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
    return folder


def add_polygon(annotator, points, class_id: int | None = None) -> str:
    """Draw a polygon object through the annotator (as the polygon tool does); its id."""
    if class_id is not None:
        annotator.set_class(class_id)
    for x, y in points:
        annotator.add_polygon_vertex(x, y)
    assert annotator.accept()
    return annotator.record.objects[-1].id


SQUARE = [(10, 10), (60, 10), (60, 60), (10, 60)]
SMALL = [(100, 100), (120, 100), (120, 120), (100, 120)]
