"""Crash safety: a writer killed with SIGKILL mid-save never leaves a half-written project.

A forked subprocess saves images and the project file in a loop, each save a new self-consistent
"generation"; the test kills it at varying moments (after a random number of completed
generations, while it is inside the next one). After every kill the project must open, and
every file must be one complete generation: a torn or mixed file would fail to parse or
disagree with itself, and the index summaries must agree with the files.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samdesk.core.document import (
    AnnotationObject,
    LabelClass,
    PolygonPart,
    Region,
    ReviewState,
)
from samdesk.io.project import ProjectStore

ROUNDS = 30
STATES = [ReviewState.NEW, ReviewState.IN_PROGRESS, ReviewState.DONE]


def _writer(root: Path, generation: int, progress: int) -> None:
    """Save new generations forever, writing one line to ``progress`` after each."""
    store = ProjectStore.open(root)
    paths = [r.path for r in store.project.images]
    while True:
        generation += 1
        for n, path in enumerate(paths):
            record = store.load_image_annotations(path)
            ring = [[n, 0], [n + 5, 0], [n + 5, generation % 7 + 1], [n, 1]]
            record.objects = [
                AnnotationObject(
                    1,
                    Region((PolygonPart(ring),)),
                    id=f"g{generation}-{k}",
                    prompt={"generation": generation},
                )
                for k in range(generation % 5 + 1)
            ]
            record.state = STATES[generation % 3]
            store.save_image(record)
        if generation % 2 == 0:
            store.project.settings = {"generation": generation}
            store.project.classes = [
                LabelClass(i + 1, f"c{generation}", "#000000") for i in range(generation % 3 + 1)
            ]
            store.save_project()
        os.write(progress, b"%d\n" % generation)


def _check_consistent(root: Path) -> None:
    store = ProjectStore.open(root)
    assert store.warnings == []
    settings = store.project.settings
    if settings:  # the project file is one complete generation
        g = settings["generation"]
        assert [c.name for c in store.project.classes] == [f"c{g}"] * (g % 3 + 1)
    for record in store.project.images:
        summary_state, summary_count = record.state, store.object_count(record.path)
        store.load_image_annotations(record.path)
        generations = {obj.prompt["generation"] for obj in record.objects}
        if not generations:
            continue  # not written yet
        assert len(generations) == 1
        g = generations.pop()
        assert len(record.objects) == g % 5 + 1
        assert record.state == STATES[g % 3]
        assert (summary_state, summary_count) == (record.state, len(record.objects))


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_project_survives_sigkill_during_saves(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.new("RGB", (8, 8)).save(root / name)
    ProjectStore.create(root, "crash")
    # A forked child starts in milliseconds (a fresh interpreter would spend ~1 s importing
    # numpy/shapely on a busy machine), so many kills fit in a few seconds.
    context = multiprocessing.get_context("fork")
    rng = np.random.default_rng(1234)
    kills = 0
    for round_ in range(ROUNDS):
        read_end, write_end = os.pipe()
        process = context.Process(target=_writer, args=(root, 1000 * (round_ + 1), write_end))
        process.start()
        os.close(write_end)
        try:
            with os.fdopen(read_end, "rb") as progress:
                for _ in range(int(rng.integers(1, 6))):
                    line = progress.readline()  # blocks until a generation is complete
                    assert line, f"the writer stopped early (exit code {process.exitcode})"
                process.kill()  # SIGKILL while it is inside the next generation
        finally:
            process.kill()
            process.join()
        kills += process.exitcode == -signal.SIGKILL
        _check_consistent(root)
    assert kills == ROUNDS
    # Leftover temporary files of interrupted writes are harmless and ignored.
    assert all(
        p.suffix in (".yaml", ".jsonl", ".tmp", ".lock") for p in (root / ".samdesk").rglob("*.*")
    )
