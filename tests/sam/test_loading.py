"""Checkpoint loading: architecture from shapes, accepted formats, and every refusal."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from samdesk.sam import ModelInfo, SamCheckpointError, build_sam_tiny_vit, build_sam_vit, load_model
from samdesk.sam.loading import infer_vit_info

OFFICIAL = {
    "vit_b": (768, 12, 12, (2, 5, 8, 11)),
    "vit_l": (1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": (1280, 32, 16, (7, 15, 23, 31)),
}


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_official_vit_shapes_inferred(name: str) -> None:
    embed_dim, depth, heads, global_idx = OFFICIAL[name]
    with torch.device("meta"):  # full-size shapes without allocating or running anything
        model = build_sam_vit(embed_dim, depth, heads, global_idx)
    info = infer_vit_info(model.state_dict())
    assert (info.embed_dim, info.depth, info.num_heads) == (embed_dim, depth, heads)
    assert info.global_attn_indexes == global_idx
    assert info.window_size == 14 and info.mlp_ratio == 4.0 and info.out_chans == 256
    assert info.official_name == name
    letter = name[-1].upper()
    assert info.describe() == f"SAM ViT-{letter} ({embed_dim}-d, {depth} blocks, {heads} heads)"


def test_custom_vit_shapes_inferred() -> None:
    with torch.device("meta"):
        model = build_sam_vit(192, 5, 4, (0, 4), window_size=7, mlp_ratio=2.0)
    info = infer_vit_info(model.state_dict())
    assert (info.embed_dim, info.depth, info.num_heads) == (192, 5, 4)
    assert info.global_attn_indexes == (0, 4) and info.window_size == 7 and info.mlp_ratio == 2.0
    assert info.official_name is None and info.describe().startswith("SAM ViT (custom: 192-d")


def test_tiny_vit_shapes_inferred(tmp_path: Path) -> None:
    from samdesk.sam.tiny_vit import DEFAULT_MOBILE_SAM_CONFIG

    torch.manual_seed(0)
    path = tmp_path / "mobile_sam.pt"
    torch.save(build_sam_tiny_vit().state_dict(), path)
    model = load_model(path, device="cpu")
    assert model.info is not None and model.info.arch == "tiny_vit"
    assert model.info.describe() == "MobileSAM (TinyViT)"
    for key in ("embed_dims", "depths", "num_heads", "window_sizes"):
        assert list(model.info.config[key])[1:] == list(DEFAULT_MOBILE_SAM_CONFIG[key])[1:]
        assert len(model.info.config[key]) == len(DEFAULT_MOBILE_SAM_CONFIG[key])


def _state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def _same_weights(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> bool:
    loaded = model.state_dict()
    return all(
        torch.equal(loaded[k], v.float() if v.is_floating_point() else v) for k, v in state.items()
    )


def test_loads_small_checkpoint(tiny_vit_checkpoint: Path) -> None:
    model = load_model(tiny_vit_checkpoint, device="cpu")
    assert not model.training
    assert model.checkpoint == str(tiny_vit_checkpoint)
    assert model.info == ModelInfo("vit", 32, 2, 2, (1,), 14)
    assert _same_weights(model, _state(tiny_vit_checkpoint))
    with torch.no_grad():
        out = model.image_encoder(torch.zeros(1, 3, 1024, 1024))
    assert out.shape == (1, 256, 64, 64) and out.dtype == torch.float32


@pytest.mark.parametrize("variant", ["model", "state_dict", "module", "fp16", "bf16"])
def test_accepted_formats(variant: str, tiny_vit_checkpoint: Path, tmp_path: Path) -> None:
    state = _state(tiny_vit_checkpoint)
    obj: object = state
    if variant in ("model", "state_dict"):
        obj = {variant: state, "epoch": 3}
    elif variant == "module":
        obj = {f"module.{k}": v for k, v in state.items()}
    else:
        dtype = torch.float16 if variant == "fp16" else torch.bfloat16
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
        obj = state
    path = tmp_path / f"{variant}.pth"
    torch.save(obj, path)
    model = load_model(path, device="cpu")
    assert next(model.parameters()).dtype == torch.float32
    assert _same_weights(model, state)


def _expect_error(path: Path, *fragments: str) -> str:
    with pytest.raises(SamCheckpointError) as info:
        load_model(path, device="cpu")
    message = str(info.value)
    for fragment in fragments:
        assert fragment.lower() in message.lower(), message
    return message


def test_missing_file(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.pth", "not found")


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "random.pth"
    path.write_bytes(os.urandom(4096))
    _expect_error(path, "not a PyTorch checkpoint")


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.pth"
    path.write_text("these are not weights\n" * 20)
    _expect_error(path, "not a PyTorch checkpoint")


def test_truncated(tiny_vit_checkpoint: Path, tmp_path: Path) -> None:
    data = tiny_vit_checkpoint.read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: len(data) // 2])
    _expect_error(path, "truncated", "download it again")


def test_unrelated_model(tmp_path: Path) -> None:
    resnet = {
        "conv1.weight": torch.zeros(64, 3, 7, 7),
        "bn1.weight": torch.ones(64),
        "layer1.0.conv1.weight": torch.zeros(64, 64, 3, 3),
        "fc.weight": torch.zeros(1000, 2048),
    }
    path = tmp_path / "resnet50.pth"
    torch.save(resnet, path)
    _expect_error(path, "not a Segment Anything checkpoint", "conv1.weight")


def test_sam2(tmp_path: Path) -> None:
    sam2 = {
        "image_encoder.trunk.patch_embed.proj.weight": torch.zeros(4, 3, 7, 7),
        "memory_attention.layers.0.self_attn.q_proj.weight": torch.zeros(4, 4),
        "sam_mask_decoder.iou_token.weight": torch.zeros(1, 4),
        "sam_prompt_encoder.no_mask_embed.weight": torch.zeros(1, 4),
    }
    path = tmp_path / "sam2_hiera_tiny.pt"
    torch.save({"model": sam2}, path)
    _expect_error(path, "SAM 2", "not supported yet")


def test_hq_sam(tiny_vit_checkpoint: Path, tmp_path: Path) -> None:
    state = _state(tiny_vit_checkpoint)
    state["mask_decoder.hf_token.weight"] = torch.zeros(1, 256)
    state["mask_decoder.hf_mlp.layers.0.weight"] = torch.zeros(256, 256)
    state["mask_decoder.compress_vit_feat.0.weight"] = torch.zeros(256, 32, 2, 2)
    path = tmp_path / "sam_hq_vit_b.pth"
    torch.save(state, path)
    _expect_error(path, "HQ-SAM", "not supported yet")


def test_efficient_sam(tmp_path: Path) -> None:
    efficient = {
        "image_encoder.patch_embed.proj.weight": torch.zeros(192, 3, 16, 16),
        "image_encoder.pos_embed": torch.zeros(1, 4097, 192),
        "prompt_encoder.invalid_points.weight": torch.zeros(1, 256),
        "prompt_encoder.bbox_top_left_embeddings.weight": torch.zeros(1, 256),
        "mask_decoder.final_output_upscaling_layers.0.0.weight": torch.zeros(256, 64, 2, 2),
    }
    path = tmp_path / "efficient_sam_vitt.pt"
    torch.save({"model": efficient}, path)
    _expect_error(path, "EfficientSAM", "not supported yet")


def test_missing_keys(tiny_vit_checkpoint: Path, tmp_path: Path) -> None:
    state = _state(tiny_vit_checkpoint)
    del state["mask_decoder.iou_prediction_head.layers.1.bias"]
    path = tmp_path / "missing.pth"
    torch.save(state, path)
    _expect_error(path, "1 missing", "mask_decoder.iou_prediction_head.layers.1.bias")


def test_unexpected_keys(tiny_vit_checkpoint: Path, tmp_path: Path) -> None:
    state = _state(tiny_vit_checkpoint)
    state["mask_decoder.extra_head.weight"] = torch.zeros(3)
    path = tmp_path / "unexpected.pth"
    torch.save(state, path)
    _expect_error(path, "1 unexpected", "mask_decoder.extra_head.weight")


class _Payload:
    """Unpickling this calls exec(), which would write a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_pickle_with_code_refused(writer: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    payload = {"image_encoder.pos_embed": torch.zeros(1), "x": _Payload(marker)}
    path = tmp_path / "evil.pth"
    if writer == "torch":
        torch.save(payload, path)
    else:
        with path.open("wb") as f:
            pickle.dump(payload, f)
    _expect_error(path, "refused", "code")
    assert not marker.exists()
    # The payload is real: an unsafe loader would have run it.
    control = tmp_path / "control.txt"
    pickle.loads(pickle.dumps(_Payload(control)))
    assert control.read_text() == "pwned"


def test_loading_needs_none_of_the_modules_the_bundle_leaves_out(tmp_path: Path) -> None:
    # packaging/samdesk.spec excludes torch's compiler stack and sympy: the loader's shape
    # check on the meta device must not reach them (random init there imported both).
    import subprocess
    import sys

    for arch, model in (("tiny_vit", build_sam_tiny_vit()), ("vit", None)):
        if model is None:
            model = build_sam_vit(64, 2, 2, (1,))
        checkpoint = tmp_path / f"{arch}.pt"
        torch.save(model.state_dict(), checkpoint)
        script = (
            "import sys\n"
            "BLOCK = ('sympy', 'mpmath', 'networkx', 'jinja2', 'torch._dynamo', "
            "'torch._inductor', 'torch.onnx')\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if any(name == b or name.startswith(b + '.') for b in BLOCK):\n"
            "            raise ModuleNotFoundError(name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "from samdesk.sam.loading import load_model\n"
            f"load_model({str(checkpoint)!r}, device='cpu')\n"
            "print('loaded')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0 and "loaded" in result.stdout, result.stderr[-2000:]
