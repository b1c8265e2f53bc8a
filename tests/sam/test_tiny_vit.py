"""TinyViT (MobileSAM image encoder): config inference, strict loading, feature parity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
from PIL import Image

from samdesk.sam.tiny_vit import DEFAULT_MOBILE_SAM_CONFIG, TinyViT, infer_tiny_vit_config
from tests.sam.conftest import parity_dir

PIXEL_MEAN = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
PIXEL_STD = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)
FEATURES_REL = 1e-4  # parity README: max abs diff / max abs reference

# Every hyper-parameter differs from MobileSAM's, including uneven windows that need
# padding at 128×128 input (stage resolutions 16, 8, 8).
ODD_CONFIG: dict[str, Any] = {
    "img_size": 128,
    "in_chans": 3,
    "num_classes": 0,
    "embed_dims": [32, 48, 64, 96],
    "depths": [1, 2, 3, 1],
    "num_heads": [1, 2, 4, 3],
    "window_sizes": [5, 5, 6, 3],
    "mlp_ratio": 3.0,
    "mbconv_expand_ratio": 2.0,
    "local_conv_size": 5,
}


def _fixture_dir() -> Path:
    folder = parity_dir() / "tinyvit_s2"
    if not (folder / "checkpoint.pt").is_file():
        pytest.fail(f"TinyViT parity fixture missing: {folder / 'checkpoint.pt'}")
    return folder


def _preprocess(image: npt.NDArray[np.uint8]) -> torch.Tensor:
    """HxWx3 uint8 RGB → 1×3×1024×1024 float32, as the official SamPredictor prepares it.

    Longest side to 1024 (ResizeLongestSide: int(x * scale + 0.5)), Pillow bilinear on
    uint8 (what torchvision's resize does to a PIL image), normalise, zero-pad bottom/right.
    """
    h, w = image.shape[:2]
    scale = 1024 / max(h, w)
    new_h, new_w = int(h * scale + 0.5), int(w * scale + 0.5)
    resized = np.array(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR))
    x = (torch.as_tensor(resized).permute(2, 0, 1).float() - PIXEL_MEAN) / PIXEL_STD
    return torch.nn.functional.pad(x, (0, 1024 - new_w, 0, 1024 - new_h))[None]


@pytest.fixture(scope="module")
def checkpoint_encoder_sd() -> dict[str, torch.Tensor]:
    """The fixture's image-encoder tensors, prefix stripped, fp16 → fp32."""
    state = torch.load(_fixture_dir() / "checkpoint.pt", map_location="cpu", weights_only=True)
    prefix = "image_encoder."
    return {
        k[len(prefix) :]: (v.float() if v.is_floating_point() else v)
        for k, v in state.items()
        if k.startswith(prefix)
    }


@pytest.fixture(scope="module")
def mobile_sam_encoder(checkpoint_encoder_sd: dict[str, torch.Tensor]) -> Iterator[TinyViT]:
    model = TinyViT(**infer_tiny_vit_config(checkpoint_encoder_sd))
    model.load_state_dict(checkpoint_encoder_sd, strict=True)
    yield model.eval()


def _randomise(model: torch.nn.Module, seed: int) -> None:
    """Random values everywhere, BatchNorm statistics and attention biases included."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if name.endswith("running_var"):
                tensor.copy_(0.5 + noise.abs())
            elif name.endswith(("bn.weight", "norm.weight", "norm_head.weight")):
                tensor.copy_(1.0 + 0.1 * noise)
            else:
                tensor.copy_(0.2 * noise)


def test_config_inferred_from_checkpoint(checkpoint_encoder_sd: dict[str, torch.Tensor]) -> None:
    assert infer_tiny_vit_config(checkpoint_encoder_sd) == DEFAULT_MOBILE_SAM_CONFIG


def test_state_dict_keys_are_mobile_sam_keys(
    checkpoint_encoder_sd: dict[str, torch.Tensor],
) -> None:
    model = TinyViT(**DEFAULT_MOBILE_SAM_CONFIG)
    assert set(model.state_dict()) == set(checkpoint_encoder_sd)
    result = model.load_state_dict(checkpoint_encoder_sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    # The bias index tables are rebuilt from the window size, never loaded.
    assert not any(k.endswith("attention_bias_idxs") for k in checkpoint_encoder_sd)


@pytest.mark.parametrize("key", ["truck", "groceries"])
def test_feature_parity(key: str, mobile_sam_encoder: TinyViT) -> None:
    folder = _fixture_dir()
    expected = np.load(folder / "expected.npz")[f"{key}/features"]
    image = np.array(Image.open(folder / "images" / f"{key}.jpg").convert("RGB"))
    with torch.inference_mode():
        features = mobile_sam_encoder(_preprocess(image)).numpy()
    assert features.shape == expected.shape == (1, 256, 64, 64)
    assert features.dtype == np.float32
    rel = np.abs(features - expected).max() / np.abs(expected).max()
    assert rel <= FEATURES_REL, f"{key}: features differ by {rel:.2e} (relative)"


def test_config_round_trip_non_default() -> None:
    model = TinyViT(**ODD_CONFIG)
    _randomise(model, seed=1)
    model.eval()
    config = infer_tiny_vit_config(model.state_dict())
    # Stage 0 is convolutional: its heads and window are not in the weights.
    for name in ("embed_dims", "depths", "mlp_ratio", "mbconv_expand_ratio", "local_conv_size"):
        assert config[name] == ODD_CONFIG[name], name
    assert config["num_heads"][1:] == ODD_CONFIG["num_heads"][1:]
    assert config["window_sizes"][1:] == ODD_CONFIG["window_sizes"][1:]
    assert config["num_classes"] == 0
    rebuilt = TinyViT(**config)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    rebuilt.eval()
    x = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        out = model(x)
        again = rebuilt(x)
    assert out.shape == (2, 256, 8, 8)
    torch.testing.assert_close(again, out, rtol=0, atol=0)


def test_fused_attention_matches_plain() -> None:
    model = TinyViT(**ODD_CONFIG)
    _randomise(model, seed=3)
    model.eval()
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        fused = model(x)
        model.set_fused_attention(False)
        plain = model(x)
    assert fused.abs().max() > 0.1
    torch.testing.assert_close(fused, plain, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("fused", [True, False])
def test_trained_attention_biases_are_always_applied(fused: bool) -> None:
    # MobileSAM was trained with its attention biases and its documented use applies them;
    # there is no switch to leave them out, and they must change the features.
    model = TinyViT(**ODD_CONFIG, fused_attention=fused)
    _randomise(model, seed=5)
    model.eval()
    zeroed = TinyViT(**ODD_CONFIG, fused_attention=fused).eval()
    zeroed.load_state_dict(
        {
            k: torch.zeros_like(v) if k.endswith("attention_biases") else v
            for k, v in model.state_dict().items()
        }
    )
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(6))
    with torch.inference_mode():
        diff = (model(x) - zeroed(x)).abs().max()
    assert diff > 1e-2


def test_no_option_leaves_the_biases_out() -> None:
    import inspect

    assert "apply_attention_biases" not in inspect.signature(TinyViT).parameters
    with pytest.raises(TypeError):
        TinyViT(**ODD_CONFIG, apply_attention_biases=False)  # type: ignore[call-arg]


def test_rejects_wrong_input() -> None:
    model = TinyViT(**ODD_CONFIG).eval()
    with pytest.raises(ValueError, match=r"B×3×H×W"):
        model(torch.zeros(1, 1, 128, 128))


def test_rejects_vit_keys() -> None:
    vit_keys = {
        "patch_embed.proj.weight": torch.zeros(768, 3, 16, 16),
        "pos_embed": torch.zeros(1, 64, 64, 768),
        "blocks.0.attn.qkv.weight": torch.zeros(2304, 768),
    }
    with pytest.raises(ValueError, match="ViT"):
        infer_tiny_vit_config(vit_keys)
    with pytest.raises(ValueError, match="not a TinyViT"):
        infer_tiny_vit_config({})
    with pytest.raises(ValueError, match="not a TinyViT"):
        infer_tiny_vit_config({"weight": torch.zeros(3)})


def test_rejects_incomplete_tiny_vit() -> None:
    state = TinyViT(**ODD_CONFIG).state_dict()
    missing = {k: v for k, v in state.items() if k != "layers.2.blocks.0.attn.attention_biases"}
    with pytest.raises(ValueError, match=r"layers\.2\.blocks\.0\.attn\.attention_biases"):
        infer_tiny_vit_config(missing)
    no_square = dict(state)
    no_square["layers.1.blocks.0.attn.attention_biases"] = torch.zeros(2, 24)
    with pytest.raises(ValueError, match="not a square window"):
        infer_tiny_vit_config(no_square)
