"""Predictor semantics (SamPredictor's API plus set_embedding and predict_best)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from samdesk.sam import BestMask, Predictor, load_model
from tests.sam.conftest import parity_dir

POINT = np.array([[420.0, 300.0]])
LABEL = np.array([1])
BOX = np.array([250.0, 90.0, 690.0, 330.0])


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    """vit_s1 (random weights that give real, non-trivial masks) on groceries.jpg (800×534)."""
    root = parity_dir() / "vit_s1"
    p = Predictor(load_model(root / "checkpoint.pt", device="cpu"))
    p.set_image(np.array(Image.open(root / "images" / "groceries.jpg").convert("RGB")))
    return p


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.array(Image.open(parity_dir() / "vit_s1" / "images" / "groceries.jpg").convert("RGB"))


def test_sizes_and_embedding(predictor: Predictor) -> None:
    assert predictor.is_image_set
    assert predictor.original_size == (534, 800)
    assert predictor.input_size == (684, 1024)
    emb = predictor.get_image_embedding()
    assert emb.shape == (1, 256, 64, 64) and emb.dtype == torch.float32


@pytest.mark.parametrize("multimask", [True, False])
def test_points(predictor: Predictor, multimask: bool) -> None:
    masks, scores, low = predictor.predict(POINT, LABEL, multimask_output=multimask)
    n = 3 if multimask else 1
    assert masks.shape == (n, 534, 800) and masks.dtype == np.bool_
    assert scores.shape == (n,) and scores.dtype == np.float32
    assert low.shape == (n, 256, 256) and low.dtype == np.float32
    assert masks.any()


def test_single_is_token_zero(predictor: Predictor) -> None:
    # multimask picks tokens 1–3, single picks token 0: all four differ.
    multi = predictor.predict(POINT, LABEL, multimask_output=True)[2]
    single = predictor.predict(POINT, LABEL, multimask_output=False)[2]
    assert not any(np.allclose(single[0], m) for m in multi)


def test_prompts_change_the_result(predictor: Predictor) -> None:
    base = predictor.predict(POINT, LABEL, multimask_output=False)[2]
    with_box = predictor.predict(POINT, LABEL, box=BOX, multimask_output=False)[2]
    box_only = predictor.predict(box=BOX, multimask_output=False)[2]
    negative = predictor.predict(
        np.vstack([POINT, [[600.0, 400.0]]]), np.array([1, 0]), multimask_output=False
    )[2]
    refined = predictor.predict(POINT, LABEL, mask_input=base, multimask_output=False)[2]
    for other in (with_box, box_only, negative, refined):
        assert not np.allclose(base, other)


def test_return_logits(predictor: Predictor) -> None:
    masks, _, low = predictor.predict(POINT, LABEL)
    logits, _, low2 = predictor.predict(POINT, LABEL, return_logits=True)
    assert logits.dtype == np.float32 and logits.shape == masks.shape
    np.testing.assert_array_equal(low, low2)
    np.testing.assert_array_equal(logits > predictor.model.mask_threshold, masks)


def test_predict_torch_batch(predictor: Predictor) -> None:
    boxes = torch.tensor([[100.0, 50.0, 400.0, 300.0], [300.0, 100.0, 700.0, 500.0]])
    tboxes = predictor.transform.apply_boxes_torch(boxes, predictor.original_size)
    masks, iou, low = predictor.predict_torch(None, None, boxes=tboxes, multimask_output=True)
    assert masks.shape == (2, 3, 534, 800) and masks.dtype == torch.bool
    assert iou.shape == (2, 3) and low.shape == (2, 3, 256, 256)
    # Row 1 of the batch equals the same box predicted alone, up to the float noise of
    # batched kernels (the parity bound: 5e-2 of the largest logit).
    single = predictor.predict(box=boxes[1].numpy(), multimask_output=True)
    scale = float(np.abs(single[2]).max())
    np.testing.assert_allclose(single[2], low[1].numpy(), rtol=0, atol=5e-2 * scale)
    np.testing.assert_allclose(single[1], iou[1].numpy(), rtol=0, atol=1e-2)


def test_set_embedding_matches_set_image(predictor: Predictor) -> None:
    expected = predictor.predict(POINT, LABEL, box=BOX)
    other = Predictor(predictor.model)
    other.set_embedding(
        predictor.get_image_embedding().clone(), predictor.original_size, predictor.input_size
    )
    got = other.predict(POINT, LABEL, box=BOX)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="input_size"):
        other.set_embedding(predictor.get_image_embedding(), (534, 800), (600, 1024))
    with pytest.raises(ValueError, match="1×256×64×64"):
        other.set_embedding(torch.zeros(256, 64, 64), (534, 800), (684, 1024))


@pytest.mark.parametrize("multimask", [True, False])
def test_predict_best_is_cropped_argmax(predictor: Predictor, multimask: bool) -> None:
    masks, scores, low = predictor.predict(POINT, LABEL, multimask_output=multimask)
    best = predictor.predict_best(POINT, LABEL, multimask_output=multimask)
    assert isinstance(best, BestMask)
    index = int(np.argmax(scores))
    assert best.index == index and best.score == pytest.approx(float(scores[index]))
    np.testing.assert_array_equal(best.scores, scores)
    np.testing.assert_array_equal(best.low_res_logits, low[index][None])
    full = masks[index]
    ys, xs = np.nonzero(full)
    assert best.offset == (int(xs.min()), int(ys.min()))
    np.testing.assert_array_equal(best.mask, full[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


def test_bgr_input(predictor: Predictor, image: np.ndarray) -> None:
    other = Predictor(predictor.model)
    other.set_image(np.ascontiguousarray(image[..., ::-1]), image_format="BGR")
    torch.testing.assert_close(other.features, predictor.features, rtol=0, atol=1e-5)


def test_errors(predictor: Predictor, tiny_vit_checkpoint: Path) -> None:
    fresh = Predictor(load_model(tiny_vit_checkpoint, device="cpu"))
    with pytest.raises(RuntimeError, match="set_image"):
        fresh.predict(POINT, LABEL)
    with pytest.raises(ValueError, match="uint8"):
        fresh.set_image(np.zeros((10, 10, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="image_format"):
        fresh.set_image(np.zeros((10, 10, 3), dtype=np.uint8), image_format="RGBA")
    with pytest.raises(ValueError, match="point_labels"):
        predictor.predict(POINT)
    with pytest.raises(ValueError, match="N×2"):
        predictor.predict(np.array([1.0, 2.0, 3.0]), LABEL)
    with pytest.raises(ValueError, match="1×256×256"):
        predictor.predict(POINT, LABEL, mask_input=np.zeros((256, 256)))
    fresh.set_image(np.zeros((10, 20, 3), dtype=np.uint8))
    assert fresh.input_size == (512, 1024)
    fresh.reset_image()
    assert not fresh.is_image_set and fresh.features is None


def test_small_checkpoint_encodes(tiny_vit_checkpoint: Path) -> None:
    p = Predictor(load_model(tiny_vit_checkpoint, device="cpu"))
    rng = np.random.default_rng(0)
    p.set_image(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8))
    best = p.predict_best(np.array([[200.0, 150.0]]), np.array([1]))
    assert best.low_res_logits.shape == (1, 256, 256)
    assert np.isfinite(best.scores).all()


def test_a_new_image_releases_the_recycled_outputs(predictor: Predictor) -> None:
    """Multimask outputs are kept for recycling while an image is set; setting another
    image (or the same one again) lets them go."""
    from samdesk.sam import mask_compiled

    if mask_compiled.accelerator() is None:
        if os.environ.get("SAMDESK_REQUIRE_COMPILED") == "1":
            pytest.fail("samdesk.sam._masks is not built (or does not match F.interpolate)")
        pytest.skip("recycling belongs to the compiled loops, not built here")
    features = predictor.get_image_embedding()
    sizes = (predictor.original_size, predictor.input_size)
    masks, _, _ = predictor.predict(POINT, LABEL, multimask_output=True)
    del masks
    assert mask_compiled.pool._entries, "kept for the next click"
    predictor.set_embedding(features, *sizes)
    assert not mask_compiled.pool._entries
