"""``samdesk encode`` against hostile input: non-finite embeddings, images above the limit."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import samdesk.engine.backend as backend_module
from samdesk.engine.cli import add_encode_arguments, run_encode
from samdesk.sam.testing import make_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_encode_arguments(parser)
    return parser.parse_args(argv)


def test_encode_never_caches_non_finite_embeddings(tmp_path: Path) -> None:
    # Finite weights whose last LayerNorm scale overflows float32: the features are ±inf.
    ckpt = make_checkpoint(tmp_path / "overflow.pt", "vit")
    sd = torch.load(ckpt, weights_only=True)
    sd["image_encoder.neck.3.weight"] = torch.full_like(sd["image_encoder.neck.3.weight"], 3e38)
    torch.save(sd, ckpt)
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.radial_gradient("L").convert("RGB").save(folder / "a.png")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "samdesk",
            "encode",
            str(folder),
            "--checkpoint",
            str(ckpt),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "NaN or infinite values in its embedding; nothing was cached" in out
    assert "0 encoded, 0 already cached, 1 failed" in out
    assert list((folder / ".samdesk" / "embeddings").glob("*.emb")) == []


@pytest.fixture
def fake_sam(monkeypatch, fake_backend_cls) -> list:
    made: list = []

    def factory(checkpoint, device=None, encoder_dtype=None):
        backend = fake_backend_cls()
        backend.device = device or "cpu"
        made.append(backend)
        return backend

    monkeypatch.setattr(backend_module, "SamBackend", factory)
    return made


def test_encode_allow_large(tmp_path: Path, fake_sam: list, monkeypatch) -> None:
    folder = tmp_path / "tiles"
    folder.mkdir()
    Image.new("RGB", (40, 30), (90, 90, 90)).save(folder / "tile.png")
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"weights")
    # A 1,000-pixel limit stands in for Pillow's 89 MP so the test image stays tiny.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    out = io.StringIO()
    assert run_encode(_args(str(folder), "--checkpoint", str(ckpt)), stream=out) == 1
    assert "pass --allow-large to samdesk encode" in out.getvalue()
    assert "allow_large=True" not in out.getvalue()

    again = io.StringIO()
    args = _args(str(folder), "--checkpoint", str(ckpt), "--allow-large")
    assert run_encode(args, stream=again) == 0, again.getvalue()
    assert "1 encoded" in again.getvalue()
