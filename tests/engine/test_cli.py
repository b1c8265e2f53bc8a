"""``samdesk encode``: progress lines, resumable, errors, cache location."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from PIL import Image

import samdesk.engine.backend as backend_module
from samdesk.engine.cli import add_encode_arguments, collect_images, run_encode


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_encode_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture
def fake_sam(monkeypatch, fake_backend_cls) -> list:
    """Replace SamBackend with the fake; the list collects the instances made."""
    made: list = []

    def factory(checkpoint, device=None, encoder_dtype=None):
        backend = fake_backend_cls()
        backend.device = device or "cpu"
        made.append(backend)
        return backend

    monkeypatch.setattr(backend_module, "SamBackend", factory)
    return made


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name, value in (("a.jpg", 30), ("b.png", 60), ("sub/c.png", 90)):
        Image.new("RGB", (20, 12), (value, value, value)).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_encode_is_resumable(tmp_path: Path, fake_sam: list) -> None:
    folder = _folder(tmp_path)
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"weights")
    out = io.StringIO()
    assert run_encode(_args(str(folder), "--checkpoint", str(ckpt)), stream=out) == 0
    lines = out.getvalue().splitlines()
    progress = [line for line in lines if line.startswith("[")]
    assert [p.split()[1] for p in progress] == ["a.jpg", "b.png", "sub/c.png"]
    assert progress[0].startswith("[1/3] a.jpg ") and progress[0].endswith(" s")
    cache = folder / ".samdesk" / "embeddings"
    assert len(list(cache.glob("*.emb"))) == 3
    assert len(fake_sam[0].encoded) == 3

    again = io.StringIO()
    assert run_encode(_args(str(folder), "--checkpoint", str(ckpt)), stream=again) == 0
    assert again.getvalue().count(" cached\n") == 3
    assert fake_sam[1].loaded_on is None  # everything cached: the model is never loaded
    assert "0 encoded, 3 already cached" in again.getvalue()

    forced = io.StringIO()
    args = _args(str(folder), "--checkpoint", str(ckpt), "--force", "--cache-dir", str(cache))
    assert run_encode(args, stream=forced) == 0
    assert len(fake_sam[2].encoded) == 3


def test_encode_reports_bad_images_and_goes_on(tmp_path: Path, fake_sam: list) -> None:
    folder = _folder(tmp_path)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"weights")
    cache = tmp_path / "elsewhere"
    out = io.StringIO()
    code = run_encode(
        _args(str(folder), "--checkpoint", str(ckpt), "--cache-dir", str(cache)), stream=out
    )
    assert code == 1
    assert "broken.jpg error: Cannot encode broken.jpg" not in out.getvalue()  # no repeat
    assert "broken.jpg error:" in out.getvalue()
    assert "3 encoded, 0 already cached, 1 failed" in out.getvalue()
    assert len(list(cache.glob("*.emb"))) == 3


def test_encode_without_images_or_checkpoint(tmp_path: Path, fake_sam: list) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    out = io.StringIO()
    assert run_encode(_args(str(empty), "--checkpoint", "x.pt"), stream=out) == 2
    assert "no images" in out.getvalue()
    folder = _folder(tmp_path)
    out = io.StringIO()
    code = run_encode(_args(str(folder), "--checkpoint", str(tmp_path / "nope.pt")), stream=out)
    assert code == 2 and "nope.pt" in out.getvalue()


def test_collect_images_sorted_and_skips_hidden(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    hidden = folder / ".samdesk"
    hidden.mkdir()
    Image.new("RGB", (4, 4)).save(hidden / "thumb.png")
    root, found = collect_images(folder)
    assert root == folder
    assert [p.relative_to(folder).as_posix() for p in found] == ["a.jpg", "b.png", "sub/c.png"]


def test_encode_a_project_follows_the_project_order(tmp_path: Path, fake_sam: list) -> None:
    """A project folder is encoded in the project's image order, cache in the project."""
    from samdesk.io.project import ProjectStore

    folder = _folder(tmp_path)
    store = ProjectStore.create(folder, name="demo")
    store.project.images.reverse()  # the user's order, not the file-system order
    store.save_project()
    order = [r.path for r in store.project.images]
    root, images = collect_images(folder)
    assert root == folder
    assert [p.relative_to(folder).as_posix() for p in images] == order
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"weights")
    out = io.StringIO()
    assert run_encode(_args(str(store.path), "--checkpoint", str(ckpt)), stream=out) == 0
    progress = [line.split()[1] for line in out.getvalue().splitlines() if line.startswith("[")]
    assert progress == order
    assert len(list((folder / ".samdesk" / "embeddings").glob("*.emb"))) == 3
