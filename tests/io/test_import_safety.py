"""Issue #13: imports read only the dataset, and one hostile entry is skipped, not fatal.

Hostile datasets are generated here; each import runs as a real ``samdesk import``
process under a 2 GiB address-space limit and a timeout, so that a regression (a scan
of the whole file system, a 4 GB mask) fails this test instead of taking the machine down.
"""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from samdesk.io.project import ProjectStore

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60
MEMORY_LIMIT = 2 << 30  # bytes of address space for the import process


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _import(project: Path, fmt: str, source: Path, *extra: str) -> subprocess.CompletedProcess:
    """``samdesk import PROJECT --format FMT --from SOURCE`` in a bounded process."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    argv = ["import", str(project), "--format", fmt, "--from", str(source), *extra]
    return subprocess.run(
        [sys.executable, "-m", "samdesk", *argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
        cwd=REPO,
        preexec_fn=_limit_memory,
    )


def _png(path: Path, width: int = 12, height: int = 10, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A ~60-byte PNG whose header claims ``width``×``height`` (no pixel data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _secrets(tmp_path: Path) -> dict[str, Path]:
    """Files outside the dataset that a hostile dataset points at."""
    outside = tmp_path / "outside"
    outside.mkdir()
    ssh_key = outside / "id_rsa"
    ssh_key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n", encoding="utf-8")
    return {"key": ssh_key, "photo": _png(outside / "photo.png", seed=7), "dir": outside}


def _project_files(project: Path) -> list[str]:
    """Files in the project folder apart from samdesk's own."""
    return sorted(
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file()
        and ".samdesk" not in p.relative_to(project).parts
        and not p.name.endswith(".samdesk.yaml")
    )


def _no_secret_copied(project: Path, secrets: dict[str, Path]) -> None:
    key, photo = secrets["key"].read_bytes(), secrets["photo"].read_bytes()
    for path in project.rglob("*"):
        if path.is_file():
            assert path.read_bytes() not in (key, photo), path


# --------------------------------------------------------------------------- paths (COCO)


def test_coco_file_names_leaving_the_dataset_are_refused(tmp_path: Path) -> None:
    secrets = _secrets(tmp_path)
    dataset = tmp_path / "dataset"
    _png(dataset / "good.png")
    (dataset / "fake.jpg").write_text("not a picture", encoding="utf-8")
    (dataset / "evil.samdesk.yaml").write_text("schema_version: 1\n", encoding="utf-8")
    (dataset / "link.png").symlink_to(secrets["photo"])
    (dataset / "keylink.png").symlink_to(secrets["key"])
    names = [
        "good.png",
        str(secrets["key"]),  # absolute
        str(secrets["photo"]),
        "../outside/photo.png",
        "..\\outside\\photo.png",  # Windows separators
        "sub/../../outside/id_rsa",
        "C:\\Users\\u\\.ssh\\id_rsa",
        "link.png",  # a symlink out of the dataset
        "keylink.png",
        "fake.jpg",  # not an image by content
        "evil.samdesk.yaml",
    ]
    coco = {
        "images": [{"id": i + 1, "file_name": n} for i, n in enumerate(names)],
        "annotations": [
            {"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [1, 1, 4, 4]}
            for i in range(len(names))
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }
    (dataset / "c.json").write_text(json.dumps(coco), encoding="utf-8")
    project = tmp_path / "project"
    result = _import(project, "coco", dataset / "c.json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported 1 images, 1 objects")
    assert _project_files(project) == ["good.png"]
    _no_secret_copied(project, secrets)
    out = result.stdout
    assert "images[1]" in out and "absolute paths are not read" in out
    assert "images[3]" in out and "points outside the dataset folder" in out
    assert "images[4]" in out and "images[7]" in out  # ..\ and the symlink
    assert "fake.jpg: not an image" in out
    assert "evil.samdesk.yaml: a samdesk project file" in out
    assert len(list(project.glob("*.samdesk.yaml"))) == 1  # only the new project's own


# --------------------------------------------------------------------------- paths (YOLO)


def _yolo_dataset(root: Path, yaml_text: str) -> Path:
    _png(root / "images" / "train" / "good.png")
    (root / "labels" / "train").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "train" / "good.txt").write_text("0 0.5 0.5 0.2 0.2\n", encoding="utf-8")
    (root / "data.yaml").write_text(yaml_text, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    "yaml_text",
    [
        "path: /\ntrain: images/train\nnames: [thing]\n",  # once scanned the file system
        "path: /\ntrain: {outside_rel}\nnames: [thing]\n",
        "path: {outside}\ntrain: .\nnames: [thing]\n",
        "train: [images/train, {outside}, ../outside]\nnames: [thing]\n",
        "train: [images/train, list.txt]\nnames: [thing]\n",
    ],
)
def test_yolo_entries_leaving_the_dataset_are_refused(tmp_path: Path, yaml_text: str) -> None:
    secrets = _secrets(tmp_path)
    dataset = _yolo_dataset(
        tmp_path / "dataset",
        yaml_text.format(outside=secrets["dir"], outside_rel=str(secrets["dir"]).lstrip("/")),
    )
    (dataset / "list.txt").write_text(
        f"{secrets['photo']}\n../outside/photo.png\n./../outside/photo.png\n", encoding="utf-8"
    )
    (dataset / "images" / "train" / "link.png").symlink_to(secrets["photo"])
    project = tmp_path / "project"
    result = _import(project, "yolo", dataset)
    assert result.returncode == 0, result.stderr
    _no_secret_copied(project, secrets)
    files = _project_files(project)
    assert all(f.endswith("good.png") for f in files), files
    if "path: /" not in yaml_text:
        assert "outside" in result.stdout  # each refusal is reported


def test_import_never_writes_through_a_symlink_in_the_project(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    ProjectStore.create(project)
    (project / "images").symlink_to(elsewhere, target_is_directory=True)
    dataset = _yolo_dataset(tmp_path / "dataset", "train: images/train\nnames: [thing]\n")
    result = _import(project, "yolo", dataset / "data.yaml")
    assert result.returncode == 0, result.stderr
    assert list(elsewhere.rglob("*")) == []
    assert "symbolic link" in result.stdout


# --------------------------------------------------------------------------- hostile entries


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(mask.shape), "counts": rle["counts"].decode()}


def test_hostile_coco_entries_are_skipped_with_bounded_memory(tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    _png(dataset / "a.png", 12, 10)  # a real 12×10 image of a few hundred bytes
    _png_header_only(dataset / "huge.png", 60000, 60000)  # the header claims 3.6 GP
    good = np.zeros((10, 12), dtype=bool)
    good[2:6, 3:9] = True
    huge_runs = _runs_string([60000 * 60000])
    anns = [
        [[0, 0, 1e308, 0, 5, 5]],  # 0: coordinate of 1e308
        {"size": [65536, 65536], "counts": [65536 * 65536]},  # 1: count > uint32, 4 GB
        {"size": [65000, 65000], "counts": _runs_string([65000 * 65000])},  # 2: not 12×10
        [[1, 1, 5, 1, 5, 4]],  # 3: fine
        _rle(good),  # 4: fine
        {"size": [60000, 60000], "counts": huge_runs},  # 5: header says so, still too big
        [[0, 0, 1e308, 1e308, 5, 5]],  # 6
    ]
    image_of = [1, 3, 1, 1, 1, 2, 1]
    coco = {
        "images": [
            {"id": 1, "file_name": "a.png"},
            {"id": 2, "file_name": "huge.png"},
            {"id": 3, "file_name": "missing.png", "width": 65536, "height": 65536},
        ],
        "annotations": [
            {"id": i + 1, "image_id": image_of[i], "category_id": 1, "segmentation": seg}
            for i, seg in enumerate(anns)
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }
    (dataset / "c.json").write_text(json.dumps(coco), encoding="utf-8")
    project = tmp_path / "project"
    result = _import(project, "coco", dataset / "c.json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "2 objects" in out.splitlines()[0]
    assert "c.json: annotations[0]: polygon 0: coordinate 1e+308 is out of range" in out
    assert "c.json: annotations[1]: image size unknown" in out
    assert "c.json: annotations[2]: RLE size 65000x65000 differs from the image's 12x10" in out
    assert "c.json: annotations[5]: mask of 3600 megapixels exceeds the limit" in out
    assert "c.json: annotations[6]:" in out
    store = ProjectStore.open(project)
    assert store.object_count("a.png") == 2


def test_hostile_yolo_lines_are_skipped(tmp_path: Path) -> None:
    dataset = _yolo_dataset(tmp_path / "dataset", "train: images/train\nnames: [thing]\n")
    (dataset / "labels" / "train" / "good.txt").write_text(
        "0 0 0 1e308 0 0.5 0.5\n0 0.5 0.5 1e308 1e308\n0 0.5 0.5 0.2 0.2\n", encoding="utf-8"
    )
    project = tmp_path / "project"
    result = _import(project, "yolo", dataset)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported 1 images, 1 objects")
    assert "good.txt:1: coordinate 1e+308 is out of range" in result.stdout
    assert "good.txt:2: coordinate 1e+308 is out of range" in result.stdout


def _runs_string(runs: list[int]) -> str:
    """Compressed COCO RLE string of the given run lengths (pycocotools' rleToString)."""
    out = []
    for i, value in enumerate(runs):
        x = value - runs[i - 2] if i > 2 else value
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def test_yolo_data_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    # "Billion laughs": ten levels of nine aliases each; a plain safe loader expands it.
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 10):
        refs = ", ".join([f"*a{n - 1}"] * 9)
        levels.append(f"a{n}: &a{n} [{refs}]")
    bomb = "\n".join(levels) + "\ntrain: images/train\nnames: *a9\n"
    dataset = _yolo_dataset(tmp_path / "dataset", bomb)
    project = tmp_path / "project"
    result = _import(project, "yolo", dataset)
    assert result.returncode != 0
    assert "data.yaml" in result.stderr + result.stdout
    assert (
        "alias" in (result.stderr + result.stdout).lower()
        or "anchor" in (result.stderr + result.stdout).lower()
    )
