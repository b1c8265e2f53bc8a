"""Hostile checkpoints: files whose declarations would make the loader allocate gigabytes.

Each file is crafted here, small on disk, and loaded in a subprocess under a 3 GiB address
space limit with a timeout: a loader that allocates what the file merely claims dies there
(MemoryError or a kill) instead of printing the refusal the test expects.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import torch

from samdesk.sam import SamCheckpointError, build_sam_vit, load_model

ROOT = Path(__file__).resolve().parents[2]
_LIMIT = 3 << 30

_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from samdesk.sam import SamCheckpointError, load_model
    try:
        load_model(sys.argv[1], device="cpu")
    except SamCheckpointError as exc:
        print("REFUSED:", exc)
        sys.exit(0)
    print("LOADED")
    sys.exit(1)
    """
)


def _load_limited(path: Path) -> str:
    """Load ``path`` in a fresh interpreter under RLIMIT_AS; the refusal message."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(limit=_LIMIT), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "REFUSED:" in out, f"rc={proc.returncode}: {out[-2000:]}"
    return out


def _vit_h_like_keys(depth: int) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of a ViT-H-wide SAM with ``depth`` blocks (no memory)."""
    with torch.device("meta"):
        model = build_sam_vit(1280, 2, 16, (1,))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    block = {
        k[len("image_encoder.blocks.0.") :]: s
        for k, s in shapes.items()
        if k.startswith("image_encoder.blocks.0.")
    }
    out = {k: s for k, s in shapes.items() if not k.startswith("image_encoder.blocks.")}
    for i in range(depth):
        for name, s in block.items():
            out[f"image_encoder.blocks.{i}.{name}"] = s
    return out


def test_stride_zero_tensors_claiming_vit_h_are_refused(tmp_path: Path) -> None:
    # Every weight of a full ViT-H (2.5 GB as fp32) is a view of one stored fp16 zero.
    one = torch.zeros(1, dtype=torch.float16)
    sd = {k: one.expand(s) for k, s in _vit_h_like_keys(32).items()}
    path = tmp_path / "inflated.pth"
    torch.save(sd, path)
    assert path.stat().st_size < 2 << 20
    out = _load_limited(path)
    assert "only 1 elements are stored" in out and "claims shape" in out


def test_thousands_of_blocks_sharing_one_storage_are_refused(tmp_path: Path) -> None:
    # 2000 blocks of width 1280 (~157 GB as fp32) whose tensors all view one 13 MB buffer.
    shapes = _vit_h_like_keys(2000)
    big = max(torch.Size(s).numel() for s in shapes.values())
    buffer = torch.zeros(big, dtype=torch.float16)
    sd = {k: buffer[: torch.Size(s).numel()].view(s) for k, s in shapes.items()}
    path = tmp_path / "blocks.pth"
    torch.save(sd, path)
    assert path.stat().st_size < 41 << 20
    out = _load_limited(path)
    assert "repeat the same memory" in out


def test_architecture_out_of_range_is_refused(tmp_path: Path) -> None:
    # Real (small) data: 60 blocks of width 32 is stored honestly but is no SAM.
    path = tmp_path / "deep.pth"
    torch.save(build_sam_vit(32, 60, 2, (59,)).state_dict(), path)
    with pytest.raises(SamCheckpointError, match=r"claims 60 encoder blocks \(at most 48\)"):
        load_model(path, device="cpu")


def _rezip(
    src: Path, dst: Path, *, deflate: str | None = None, truncate: str | None = None
) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if truncate is not None and info.filename.endswith(truncate):
                data = data[: len(data) // 2]
            compress = deflate is not None and info.filename.endswith(deflate)
            kind = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            zout.writestr(info.filename, data, compress_type=kind)


def test_compressed_record_is_refused(tmp_path: Path, tiny_vit_checkpoint: Path) -> None:
    # A deflated record of zeros: 64 MiB of "weights" stored in well under 1 MiB.
    sd = torch.load(tiny_vit_checkpoint, weights_only=True)
    sd["extra.zeros"] = torch.zeros(16 << 20)
    plain = tmp_path / "plain.pth"
    torch.save(sd, plain)
    bomb = tmp_path / "bomb.pth"
    last = len(sd) - 1  # torch.save numbers the storages in order
    _rezip(plain, bomb, deflate=f"/data/{last}")
    plain.unlink()
    with zipfile.ZipFile(bomb) as archive:
        assert max(i.file_size - i.compress_size for i in archive.infolist()) > 63 << 20
    out = _load_limited(bomb)
    assert "is compressed" in out and "67,108,864" in out


def test_record_shorter_than_declared_is_refused(tmp_path: Path, tiny_vit_checkpoint: Path) -> None:
    bad = tmp_path / "short_record.pth"
    _rezip(tiny_vit_checkpoint, bad, truncate="/data/0")
    with pytest.raises(SamCheckpointError, match=r"storage record '0' holds .* but is declared"):
        load_model(bad, device="cpu")


@pytest.mark.parametrize("dtype", [torch.int32, torch.bool, torch.complex64, torch.int64])
def test_non_float_weights_are_refused(
    tmp_path: Path, tiny_vit_checkpoint: Path, dtype: torch.dtype
) -> None:
    sd = torch.load(tiny_vit_checkpoint, weights_only=True)
    name = "mask_decoder.iou_token.weight"
    sd[name] = sd[name].to(dtype)
    path = tmp_path / "ints.pth"
    torch.save(sd, path)
    with pytest.raises(SamCheckpointError, match=rf"weight {name} has dtype"):
        load_model(path, device="cpu")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(
    tmp_path: Path, tiny_vit_checkpoint: Path, value: float
) -> None:
    sd = torch.load(tiny_vit_checkpoint, weights_only=True)
    name = "image_encoder.blocks.1.mlp.lin2.weight"
    sd[name] = sd[name].clone()
    sd[name][0, 0] = value
    path = tmp_path / "nan.pth"
    torch.save(sd, path)
    with pytest.raises(SamCheckpointError, match=rf"weight {name} contains 1 NaN or infinite"):
        load_model(path, device="cpu")


def test_legacy_file_with_inflated_tensor_is_refused(tmp_path: Path) -> None:
    one = torch.zeros(1)
    sd = {k: one.expand(s) for k, s in _vit_h_like_keys(32).items()}
    path = tmp_path / "legacy.pth"
    torch.save(sd, path, _use_new_zipfile_serialization=False)
    out = _load_limited(path)
    assert "claims shape" in out


def test_honest_checkpoint_still_loads_under_the_limit(tiny_vit_checkpoint: Path) -> None:
    script = _SCRIPT.format(limit=_LIMIT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tiny_vit_checkpoint)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert "LOADED" in proc.stdout, proc.stdout + proc.stderr


def test_legacy_storage_larger_than_the_file_is_refused(tmp_path: Path) -> None:
    # A pre-zip (legacy) file whose storage claims 2**30 floats (4 GiB): torch would
    # allocate them before reading. The claim is edited into the pickle's persistent id.
    path = tmp_path / "legacy_big.pth"
    torch.save(
        build_sam_vit(32, 2, 2, (1,)).state_dict(), path, _use_new_zipfile_serialization=False
    )
    data = path.read_bytes()
    marker = b"X\x03\x00\x00\x00cpuq"
    at = data.index(marker) + len(marker) + 1  # after the memo index of "cpu"
    assert data[at : at + 1] in (b"K", b"M", b"J")  # the storage's element count
    width = {b"K": 2, b"M": 3, b"J": 5}[data[at : at + 1]]
    path.write_bytes(data[:at] + b"J" + (1 << 30).to_bytes(4, "little") + data[at + width :])
    out = _load_limited(path)
    assert "declares" in out and "bytes of weights but the file has only" in out
