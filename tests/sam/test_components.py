"""Components against plain formulations: attention paths, transforms, device choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from samdesk.sam import ResizeLongestSide, select_device
from samdesk.sam.image_encoder import (
    Attention,
    _rel_terms,
    chunked_bias_attention,
    get_rel_pos,
    window_partition,
    window_unpartition,
    windowed_rel_pos_attention,
)
from samdesk.sam.testing import plain_attention


@pytest.mark.parametrize(("size", "table"), [(14, 14), (20, 20), (20, 14)])
def test_attention_matches_plain(size: int, table: int) -> None:
    torch.manual_seed(0)
    attn = Attention(48, 3, (table, table))
    with torch.no_grad():
        attn.rel_pos_h.normal_()
        attn.rel_pos_w.normal_()
        x = torch.randn(2, size, size, 48)
        torch.testing.assert_close(attn(x), plain_attention(attn, x), rtol=1e-4, atol=1e-4)


def test_both_kernels_agree() -> None:
    torch.manual_seed(1)
    q, k, v = (torch.randn(2, 3, 12 * 10, 16) for _ in range(3))
    rel_h, rel_w = _rel_terms(q, torch.randn(23, 16), torch.randn(19, 16), 12, 10)
    a = windowed_rel_pos_attention(q, k, v, rel_h, rel_w, 0.25)
    b = chunked_bias_attention(q, k, v, rel_h, rel_w, 0.25, rows_per_chunk=5)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_window_round_trip() -> None:
    x = torch.randn(1, 64, 64, 8)
    windows, pad_hw = window_partition(x, 14)
    assert windows.shape == (25, 14, 14, 8) and pad_hw == (70, 70)
    torch.testing.assert_close(window_unpartition(windows, 14, pad_hw, (64, 64)), x)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((534, 800), (684, 1024)),
        ((1200, 1800), (683, 1024)),
        ((3000, 4000), (768, 1024)),
        ((1024, 1024), (1024, 1024)),
        ((10, 20), (512, 1024)),
        ((5000, 3), (1024, 1)),
    ],
)
def test_preprocess_shape(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert ResizeLongestSide.get_preprocess_shape(*size, 1024) == expected


def test_apply_image_is_pillow_bilinear() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (300, 500, 3), dtype=np.uint8)
    out = ResizeLongestSide(1024).apply_image(image)
    expected = np.array(Image.fromarray(image).resize((1024, 614), Image.Resampling.BILINEAR))
    assert out.shape == (614, 1024, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


def test_coords_and_boxes() -> None:
    t = ResizeLongestSide(1024)
    coords = np.array([[100.0, 50.0], [799.0, 533.0]])
    got = t.apply_coords(coords, (534, 800))
    np.testing.assert_allclose(got, coords * [1024 / 800, 684 / 534])
    assert coords[0, 0] == 100.0  # input untouched
    boxes = np.array([[10.0, 20.0, 30.0, 40.0]])
    got_b = t.apply_boxes(boxes, (534, 800))
    np.testing.assert_allclose(got_b, boxes * [1024 / 800, 684 / 534, 1024 / 800, 684 / 534])
    assert got_b.shape == (1, 4)
    torch_coords = t.apply_coords_torch(torch.tensor(coords), (534, 800))
    np.testing.assert_allclose(torch_coords.numpy(), got, rtol=1e-6)
    torch_boxes = t.apply_boxes_torch(torch.tensor(boxes), (534, 800))
    np.testing.assert_allclose(torch_boxes.numpy(), t.apply_boxes(boxes, (534, 800)), rtol=1e-6)


def test_select_device() -> None:
    assert select_device("cpu") == torch.device("cpu")
    assert select_device(None).type in ("cpu", "cuda", "mps")
    assert select_device("auto") == select_device(None)
    with pytest.raises(ValueError, match="Unknown device"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            select_device("cuda")


def test_interpolated_rel_pos_matches_official_rule() -> None:
    table = torch.randn(27, 4)
    resized = get_rel_pos(20, 20, table)
    expected = F.interpolate(table.T[None], size=39, mode="linear")[0].T
    idx = torch.arange(20)[:, None] - torch.arange(20)[None, :] + 19
    torch.testing.assert_close(resized, expected[idx])
