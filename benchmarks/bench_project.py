"""Project files: time to save one image and to open a 10,000-image project.

Run:  python benchmarks/bench_project.py [--images 10000]

Prints figures only (targets: save ≤ 50 ms whatever the project size, open ≤ 2 s).
Everything is written in a temporary folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from samdesk.core.document import AnnotationObject, ObjectSource, ReviewState
from samdesk.core.geometry import mask_to_region
from samdesk.io.project import ProjectStore
from samdesk.io.project_format import (
    annotation_file_name,
    record_to_yaml,
)


def _objects(count: int) -> list[AnnotationObject]:
    """``count`` SAM-like objects (blobs with a few hundred vertices each)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:200, :200]
    objects = []
    for _ in range(count):
        cx, cy = rng.uniform(60, 140, 2)
        r = rng.uniform(30, 55)
        wobble = 1 + 0.15 * np.sin(np.arctan2(yy - cy, xx - cx) * 7)
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 < (r * wobble) ** 2
        region = mask_to_region(mask, tolerance=0.5)
        objects.append(AnnotationObject(1, region, ObjectSource.SAM))
    return objects


def _make_project(folder: Path, images: int, annotated: int) -> ProjectStore:
    """A project of ``images`` (empty) image files, ``annotated`` of them with 5 objects."""
    folder.mkdir()
    for n in range(images):
        (folder / f"img_{n:06d}.jpg").touch()  # the scan looks at names only
    store = ProjectStore.create(folder, "bench")
    store.annotations_dir.mkdir(parents=True, exist_ok=True)
    record = store.project.images[0]
    record.width, record.height, record.state = 200, 200, ReviewState.DONE
    record.objects = _objects(5)
    template = record_to_yaml(record)
    # Annotation files written directly (no fsync) to build the project quickly; opening
    # without an index then parses every one of them.
    for other in store.project.images[:annotated]:
        text = template.replace(f'image: "{record.path}"', f'image: "{other.path}"')
        (store.annotations_dir / annotation_file_name(other.path)).write_text(text)
    record.objects = []
    return store


def _time(fn, repeat: int = 1) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _bench_saves(store: ProjectStore, count: int) -> tuple[float, float, float]:
    record = store.load_image_annotations(1)
    record.objects = _objects(20)
    times = _time(lambda: store.save_image(record), count)
    return statistics.median(times), float(np.percentile(times, 95)), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--saves", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = _make_project(Path(tmp) / "small", 10, 10)
        med, p95, worst = _bench_saves(small, args.saves)
        print(
            f"save one image (20 objects), 10-image project: "
            f"median {med * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms, max {worst * 1e3:.1f} ms"
        )

        folder = Path(tmp) / "big"
        start = time.perf_counter()
        _make_project(folder, args.images, args.images)
        print(
            f"build {args.images}-image project (all annotated): "
            f"{time.perf_counter() - start:.1f} s"
        )
        [first] = _time(lambda: ProjectStore.open(folder))
        print(
            f"open {args.images} images, no index yet (parses every file, writes index): "
            f"{first:.2f} s"
        )
        opens = _time(lambda: ProjectStore.open(folder), 3)
        print(
            f"open {args.images} images with index: median {statistics.median(opens):.3f} s, "
            f"max {max(opens):.3f} s"
        )
        store = ProjectStore.open(folder)
        med, p95, worst = _bench_saves(store, args.saves)
        print(
            f"save one image (20 objects), {args.images}-image project: "
            f"median {med * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms, max {worst * 1e3:.1f} ms"
        )
        [after] = _time(lambda: ProjectStore.open(folder))
        print(f"open after {args.saves} saves (index journal grown): {after:.3f} s")
        [project] = _time(store.save_project)
        print(f"save the project file ({args.images} image paths): {project * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
