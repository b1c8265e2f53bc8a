"""samdesk.sam.postprocess: the fast mask path must give the reference chain's pixels."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samdesk.sam import postprocess
from samdesk.sam.postprocess import best_mask_crop, masks_from_low_res, upscale_logits

# A pixel may differ from the reference only where its float logit is within rounding noise
# of the threshold (see the module docstring); in practice none does.
NOISE = 1e-5


@pytest.fixture(autouse=True)
def _fast_path_at_every_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small frames normally take the reference chain (cheaper there); the exactness tests
    must exercise the fast path at every size, so the limit is lifted for them."""
    monkeypatch.setattr(postprocess, "_SMALL_FRAME", 0)


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def loops(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs twice: with the compiled loops (``samdesk.sam._masks``) and with the
    numpy ones that stand in where the extension is not built."""
    if request.param == "numpy":
        monkeypatch.setattr(postprocess, "_accelerator", lambda: None)
    elif postprocess._accelerator() is None:
        if os.environ.get("SAMDESK_REQUIRE_COMPILED") == "1":
            pytest.fail("samdesk.sam._masks is not built (or does not match F.interpolate)")
        pytest.skip("samdesk.sam._masks is not built here")
    return request.param


def input_size_for(original: tuple[int, int]) -> tuple[int, int]:
    """segment-anything's ResizeLongestSide.get_preprocess_shape for a 1024 encoder (with our
    clamp to 1 pixel for extreme panoramas, where the official one gives 0 and fails)."""
    h, w = original
    scale = 1024 / max(h, w)
    return max(1, int(h * scale + 0.5)), max(1, int(w * scale + 0.5))


def reference_chain(
    low: torch.Tensor, input_size: tuple[int, int], original: tuple[int, int]
) -> torch.Tensor:
    x = F.interpolate(low, (1024, 1024), mode="bilinear", align_corners=False)
    x = x[..., : input_size[0], : input_size[1]]
    return F.interpolate(x, original, mode="bilinear", align_corners=False)


def assert_matches(mask: np.ndarray, logits: torch.Tensor, threshold: float = 0.0) -> int:
    """Assert ``mask`` equals ``logits > threshold`` off the noise band; return #mismatches."""
    ref = logits.numpy()
    assert mask.dtype == np.bool_
    assert mask.shape == ref.shape
    wrong = mask != (ref > np.float32(threshold))
    assert not (wrong & (np.abs(ref - np.float32(threshold)) >= NOISE)).any()
    return int(wrong.sum())


# ---- logit fields (1×1×256×256 unless said otherwise) ----------------------------------------


def blobs(seed: int, n: int = 2) -> torch.Tensor:
    """SAM-like logits: one or two soft objects, ±20, with a little noise."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    field = torch.full((256, 256), -15.0)
    for _ in range(n):
        cy, cx = (torch.rand(2, generator=g) * 160 + 48).tolist()
        r = float(torch.rand(1, generator=g)) * 50 + 15
        field = torch.maximum(field, 20 * (1 - ((yy - cy) ** 2 + (xx - cx) ** 2).sqrt() / r))
    field = field + torch.randn(256, 256, generator=g) * 0.5
    return field.clamp(-20, 20)[None, None]


def noise(seed: int, scale: float = 5.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, 1, 256, 256, generator=g) * scale


def disc() -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    return (40.0 - ((yy - 100) ** 2 + (xx - 150) ** 2).sqrt())[None, None]


def thin_lines() -> torch.Tensor:
    """One-pixel lines (positive) on a negative background: all band, no interior."""
    x = torch.full((1, 1, 256, 256), -3.0)
    x[..., 37, 10:200] = 5.0
    x[..., 20:240, 129] = 5.0
    idx = torch.arange(30, 220)
    x[0, 0, idx, idx] = 4.0
    return x


def large_object() -> torch.Tensor:
    """A rounded rectangle covering most of a 4:3 image (low-res rows < 192), with noise."""
    g = torch.Generator().manual_seed(4)
    yy, xx = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    radius = (((yy + 0.5 - 96) / 96) ** 4 + ((xx + 0.5 - 128) / 128) ** 4) ** 0.25
    field = 20 * (0.9 - radius) + torch.randn(256, 256, generator=g) * 0.3
    return field.clamp(-20, 20)[None, None]


def checkerboard(period: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(256), torch.arange(256), indexing="ij")
    return (((yy // period + xx // period) % 2) * 2.0 - 1.0)[None, None] * 7.0


FIELDS = {
    "blobs": lambda: blobs(0),
    "blobs_one": lambda: blobs(7, n=1),
    "noise": lambda: noise(1),
    "disc": disc,
    "thin_lines": thin_lines,
    "large_object": large_object,
    "checker1": lambda: checkerboard(1),
    "checker5": lambda: checkerboard(5),
    "all_positive": lambda: torch.rand(1, 1, 256, 256) + 0.5,
    "all_negative": lambda: -torch.rand(1, 1, 256, 256) - 0.5,
    "zeros": lambda: torch.zeros(1, 1, 256, 256),
}

SIZES = [
    (1500, 2000),  # landscape (the 12 MP case is test_twelve_megapixels)
    (2000, 1500),  # portrait
    (1333, 2000),
    (1024, 1024),
    (768, 1024),  # second stage is an identity
    (700, 525),  # smaller than the encoder input: the second stage shrinks
    (500, 1500),
    (37, 45),  # tiny: PyTorch's small-output kernel, reference path
    (1, 1),
    (1, 300),
]


# ---- upscale_logits ---------------------------------------------------------------------------


def test_upscale_logits_is_the_reference_chain() -> None:
    low = blobs(3)
    out = upscale_logits(low, (683, 1024), (1500, 2250))
    assert out.dtype == torch.float32
    assert out.shape == (1, 1, 1500, 2250)
    assert torch.equal(out, reference_chain(low, (683, 1024), (1500, 2250)))


# ---- masks_from_low_res -----------------------------------------------------------------------


@pytest.mark.parametrize("original", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("field", ["blobs", "noise", "thin_lines"])
def test_masks_match_reference(field: str, original: tuple[int, int]) -> None:
    low = FIELDS[field]()
    input_size = input_size_for(original)
    mask = masks_from_low_res(low, input_size, original)
    assert assert_matches(mask, reference_chain(low, input_size, original)) == 0


def test_twelve_megapixels() -> None:
    low = torch.cat([blobs(21), blobs(22, n=1), noise(23)], dim=1)
    original = (3000, 4000)
    mask = masks_from_low_res(low, (768, 1024), original)
    assert assert_matches(mask, reference_chain(low, (768, 1024), original)) == 0


def test_cells_wider_than_eight_pixels() -> None:
    """Second-stage cells of more than 8 pixels: band rows are painted as several words."""
    low = torch.cat([blobs(31), thin_lines(), large_object()], dim=1)
    original = (1200, 9000)  # input 137×1024: cells about 8.8 pixels wide and tall
    input_size = input_size_for(original)
    mask = masks_from_low_res(low, input_size, original)
    assert assert_matches(mask, reference_chain(low, input_size, original)) == 0


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_structured_fields(field: str) -> None:
    low = FIELDS[field]()
    original = (1500, 2000)
    input_size = input_size_for(original)
    mask = masks_from_low_res(low, input_size, original)
    logits = reference_chain(low, input_size, original)
    assert assert_matches(mask, logits) == 0
    if field == "all_positive":
        assert mask.all()
    if field in ("all_negative", "zeros"):
        assert not mask.any()


@pytest.mark.parametrize("threshold", [0.5, -1.0, 13.0, 1e-3])
def test_nonzero_threshold(threshold: float) -> None:
    low = blobs(11)
    original = (2000, 1500)
    input_size = input_size_for(original)
    mask = masks_from_low_res(low, input_size, original, threshold=threshold)
    logits = reference_chain(low, input_size, original)
    assert assert_matches(mask, logits, threshold) == 0


def test_batch_and_candidates() -> None:
    """B=2, C=3: each plane on its own, sharing one first-stage crop."""
    low = torch.cat(
        [torch.cat([blobs(s), blobs(s + 10, n=1), noise(s)], dim=1) for s in range(2)], dim=0
    )
    original = (900, 1600)
    input_size = input_size_for(original)
    mask = masks_from_low_res(low, input_size, original)
    assert mask.shape == (2, 3, 900, 1600)
    assert mask.flags.c_contiguous
    assert assert_matches(mask, reference_chain(low, input_size, original)) == 0


def test_object_outside_the_image_area() -> None:
    """Positive logits only in the encoder's padding (below input_h) give an empty mask."""
    low = torch.full((1, 1, 256, 256), -10.0)
    low[..., 230:, 50:90] = 10.0
    original = (1500, 2000)
    input_size = input_size_for(original)  # 768×1024: low-res rows >= 192 are padding
    mask = masks_from_low_res(low, input_size, original)
    assert not mask.any()
    assert assert_matches(mask, reference_chain(low, input_size, original)) == 0


def test_small_object_near_border() -> None:
    """A few low-res pixels at a corner: the first-stage crop is tiny and clamps."""
    low = torch.full((1, 1, 256, 256), -10.0)
    low[..., 0:2, 250:256] = 8.0
    low[..., 100, 100] = 3.0
    original = (2048, 2048)
    mask = masks_from_low_res(low, (1024, 1024), original)
    assert mask.any()
    assert assert_matches(mask, reference_chain(low, (1024, 1024), original)) == 0


def test_non_finite_logits_follow_the_reference() -> None:
    low = blobs(5)
    low[..., 10, 10] = float("nan")
    low[..., 100, 120] = float("inf")
    original = (800, 600)
    input_size = input_size_for(original)
    mask = masks_from_low_res(low, input_size, original)
    ref = reference_chain(low, input_size, original) > 0
    assert np.array_equal(mask, ref.numpy())


def test_unrecognised_arithmetic_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postprocess, "_arithmetic", lambda: None)
    low = blobs(2)
    original = (1200, 1600)
    input_size = input_size_for(original)
    mask = masks_from_low_res(low, input_size, original)
    assert np.array_equal(mask, (reference_chain(low, input_size, original) > 0).numpy())


def test_emulated_resize_is_bitwise_pytorch() -> None:
    """The detected arithmetic reproduces F.interpolate on shapes the probe did not see."""
    from samdesk.sam import bilinear_emulation

    arith = bilinear_emulation.detect_arithmetic()
    if arith is None:
        pytest.skip("this PyTorch build rounds in a way the emulation does not know")
    rng = np.random.default_rng(5)
    for _ in range(8):
        h, w = (int(v) for v in rng.integers(20, 300, 2))
        out = (int(rng.integers(60, 700)), int(rng.integers(70, 700)))
        x = (rng.standard_normal((h, w)) * 10).astype(np.float32)
        ref = F.interpolate(torch.from_numpy(x)[None, None], out, mode="bilinear")[0, 0]
        assert np.array_equal(bilinear_emulation.emulate_resize(x, out, arith), ref.numpy())


def test_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="256"):
        masks_from_low_res(torch.zeros(1, 1, 128, 128), (1024, 1024), (10, 10))
    with pytest.raises(ValueError, match="B×C"):
        masks_from_low_res(torch.zeros(256, 256), (1024, 1024), (10, 10))
    with pytest.raises(ValueError, match="input_size"):
        masks_from_low_res(torch.zeros(1, 1, 256, 256), (1025, 1024), (10, 10))
    with pytest.raises(ValueError, match="original_size"):
        best_mask_crop(torch.zeros(256, 256), (1024, 1024), (0, 10))


@st.composite
def geometry(draw: st.DrawFn) -> tuple[tuple[int, int], tuple[int, int]]:
    original = (draw(st.integers(1, 2500)), draw(st.integers(1, 2500)))
    return input_size_for(original), original


# database=None: hypothesis would otherwise write .hypothesis/ into the working tree.
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    geom=geometry(),
    seed=st.integers(0, 2**16),
    smooth=st.booleans(),
    threshold=st.sampled_from([0.0, 0.0, 0.7, -2.5]),
)
def test_random_geometry(
    geom: tuple[tuple[int, int], tuple[int, int]], seed: int, smooth: bool, threshold: float
) -> None:
    input_size, original = geom
    low = blobs(seed) if smooth else noise(seed, scale=3.0)
    mask = masks_from_low_res(low, input_size, original, threshold)
    logits = reference_chain(low, input_size, original)
    assert assert_matches(mask, logits, threshold) == 0


# ---- best_mask_crop ---------------------------------------------------------------------------


def bbox_crop(mask: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return np.zeros((0, 0), dtype=bool), (0, 0)
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], (int(xs.min()), int(ys.min()))


@pytest.mark.parametrize("original", [(1500, 2000), (700, 525), (1024, 1024), (1, 300), (40, 50)])
@pytest.mark.parametrize("field", ["blobs", "blobs_one", "noise", "thin_lines", "all_positive"])
def test_best_mask_crop_is_the_bbox_crop(field: str, original: tuple[int, int]) -> None:
    low = FIELDS[field]()
    input_size = input_size_for(original)
    crop, origin = best_mask_crop(low[0, 0], input_size, original)
    expected, expected_origin = bbox_crop(
        (reference_chain(low, input_size, original) > 0)[0, 0].numpy()
    )
    assert crop.dtype == np.bool_
    assert origin == expected_origin
    assert np.array_equal(crop, expected)


def test_best_mask_crop_threshold() -> None:
    low = blobs(9)
    original = (1800, 1200)
    input_size = input_size_for(original)
    crop, origin = best_mask_crop(low[0, 0], input_size, original, threshold=4.0)
    logits = reference_chain(low, input_size, original)[0, 0]
    expected, expected_origin = bbox_crop((logits > 4.0).numpy())
    assert origin == expected_origin
    assert np.array_equal(crop, expected)


@pytest.mark.parametrize("field", ["all_negative", "zeros"])
def test_best_mask_crop_empty(field: str) -> None:
    crop, origin = best_mask_crop(FIELDS[field]()[0, 0], (768, 1024), (3000, 4000))
    assert crop.shape == (0, 0)
    assert crop.dtype == np.bool_
    assert origin == (0, 0)


def test_best_mask_crop_band_only_false() -> None:
    """Live low-res values whose upscale never crosses the threshold: still empty."""
    low = torch.full((256, 256), -10.0)
    low[100, 100] = 1e-3  # positive, but averaged with -10 everywhere it is read
    crop, origin = best_mask_crop(low, (1024, 1024), (2000, 2000))
    full = (reference_chain(low[None, None], (1024, 1024), (2000, 2000)) > 0).numpy()
    assert not full.any()
    assert crop.shape == (0, 0)
    assert origin == (0, 0)


def test_noise_like_planes_take_the_full_evaluation(
    monkeypatch: pytest.MonkeyPatch, loops: str
) -> None:
    """A plane whose uncertain band covers much of the frame (random-weight logits) is
    evaluated pixel by pixel — by the compiled loops, or by the reference chain without
    them — still exact, while a smooth plane goes through the band."""
    import samdesk.sam.postprocess as pp

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:256, 0:256] / 256.0
    smooth = (8 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.4) ** 2) / 0.02) - 2).astype(np.float32)
    noise = rng.standard_normal((256, 256)).astype(np.float32)
    low = torch.from_numpy(np.stack([smooth, noise]))[None]
    calls: list[list[int]] = []
    if loops == "numpy":
        original = pp._reference_masks

        def counting(x, *args, **kwargs):
            calls.append([int(x.shape[0] * x.shape[1])])
            return original(x, *args, **kwargs)

        monkeypatch.setattr(pp, "_reference_masks", counting)
    else:
        from samdesk.sam import mask_compiled

        original_planes = mask_compiled.paint_planes

        def counting_planes(module, out, frame, input_size, planes):
            calls.append(list(planes))
            return original_planes(module, out, frame, input_size, planes)

        monkeypatch.setattr(mask_compiled, "paint_planes", counting_planes)
    size = (1500, 2000)
    got = pp.masks_from_low_res(low, (768, 1024), size)
    assert calls == [[1]], "only the noise plane is evaluated in full"
    want = pp.upscale_logits(low, (768, 1024), size) > 0
    assert np.array_equal(got, want.numpy())
    crop, (x0, y0) = pp.best_mask_crop(low[0, 1], (768, 1024), size)
    full = want.numpy()[0, 1]
    assert np.array_equal(crop, full[y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]])


def test_all_noise_planes(loops: str) -> None:
    """Random-weight logits: every plane is noise-like."""
    low = torch.cat([noise(s, scale=3.0) for s in range(3)], dim=1)
    original = (3000, 4000)
    mask = masks_from_low_res(low, (768, 1024), original)
    assert assert_matches(mask, reference_chain(low, (768, 1024), original)) == 0


@pytest.mark.parametrize("loops", ["compiled"], indirect=True)
def test_compiled_loops_match_the_numpy_ones(monkeypatch: pytest.MonkeyPatch, loops: str) -> None:
    """Not only the reference's pixels: the two implementations give the same bits."""
    low = torch.cat([blobs(41), large_object(), thin_lines()], dim=1)
    original = (2900, 4100)
    input_size = input_size_for(original)
    compiled = masks_from_low_res(low, input_size, original)
    monkeypatch.setattr(postprocess, "_accelerator", lambda: None)
    assert np.array_equal(compiled, masks_from_low_res(low, input_size, original))


def test_extreme_panorama_keeps_a_one_pixel_input_side() -> None:
    from samdesk.sam.transforms import ResizeLongestSide

    assert ResizeLongestSide.get_preprocess_shape(1, 2500, 1024) == (1, 1024)
    assert ResizeLongestSide.get_preprocess_shape(1200, 1800, 1024) == (683, 1024)
    low = torch.zeros(1, 1, 256, 256)
    low[..., :4, :] = 5.0
    got = masks_from_low_res(low, (1, 1024), (1, 2500))
    assert np.array_equal(got, (upscale_logits(low, (1, 1024), (1, 2500)) > 0).numpy())


def test_small_frames_take_the_reference_chain(monkeypatch: pytest.MonkeyPatch, loops: str) -> None:
    """Without the compiled loops the reference chain is cheaper on small frames; with them,
    the fast path is the cheaper one everywhere."""
    monkeypatch.setattr(postprocess, "_SMALL_FRAME", 1 << 20)
    calls: list[tuple[int, int]] = []
    original = postprocess._reference_masks

    def counting(x, input_size, original_size, threshold):
        calls.append(tuple(original_size))
        return original(x, input_size, original_size, threshold)

    monkeypatch.setattr(postprocess, "_reference_masks", counting)
    yy, xx = np.mgrid[0:256, 0:256] / 256.0
    blob = (8 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.4) ** 2) / 0.02) - 2).astype(np.float32)
    low = torch.from_numpy(np.stack([blob] * 3))[None]
    masks_from_low_res(low, (768, 1024), (768, 1024))
    masks_from_low_res(low, (768, 1024), (1500, 2000))
    if loops == "numpy":
        assert calls == [(768, 1024)], "only the small frame takes the reference chain"
    else:
        assert calls == []


# ---- recycled outputs (compiled path) ---------------------------------------------------------


@pytest.mark.parametrize("loops", ["compiled"], indirect=True)
def test_outputs_are_recycled_only_when_released(loops: str) -> None:
    postprocess.release_buffers()
    low, size = blobs(12), (1500, 2000)
    input_size = input_size_for(size)
    first = masks_from_low_res(low, input_size, size)
    address = first.__array_interface__["data"][0]
    view = first[0, 0, 10:20]
    del first
    second = masks_from_low_res(low, input_size, size)
    assert second.__array_interface__["data"][0] != address, "a view still held it"
    del view
    third = masks_from_low_res(low, input_size, size)
    assert third.__array_interface__["data"][0] == address, "released: recycled"
    assert not np.shares_memory(second, third)
    # `masks = f(...)` in a loop holds the previous masks during the call: two buffers
    # alternate.
    masks = masks_from_low_res(low, input_size, size)
    seen = set()
    for _ in range(4):
        masks = masks_from_low_res(low, input_size, size)
        seen.add(masks.__array_interface__["data"][0])
    assert len(seen) == 2
    postprocess.release_buffers()


@pytest.mark.parametrize("loops", ["compiled"], indirect=True)
def test_recycled_outputs_hold_only_the_new_masks(loops: str) -> None:
    """Each call on a recycled buffer equals the reference, whatever the previous call wrote
    (bands, rectangles, whole noise planes, another threshold)."""
    postprocess.release_buffers()
    size = (1700, 2300)
    input_size = input_size_for(size)
    sequence = [
        (torch.cat([large_object(), noise(5), blobs(6)], dim=1), 0.0),
        (torch.cat([blobs(7), blobs(8, n=1), thin_lines()], dim=1), 0.0),
        (torch.cat([noise(9), noise(10), noise(11)], dim=1), 0.0),
        (torch.cat([blobs(12), checkerboard(5), disc()], dim=1), 2.0),
        (torch.cat([FIELDS["all_negative"](), disc(), FIELDS["all_positive"]()], dim=1), 0.0),
    ]
    addresses = []
    for low, threshold in sequence * 2:
        mask = masks_from_low_res(low, input_size, size, threshold)
        addresses.append(mask.__array_interface__["data"][0])
        logits = reference_chain(low, input_size, size)
        assert assert_matches(mask, logits, threshold) == 0
        del mask
    assert len(set(addresses)) < len(addresses), "the buffers were recycled"
    postprocess.release_buffers()


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_whole_planes_near_the_threshold(threshold: float, loops: str) -> None:
    """Noise-like planes (evaluated whole) whose values sit exactly on the threshold over
    large areas: the compiled loops' float shortcut must defer those pixels to the exact
    arithmetic."""
    g = torch.Generator().manual_seed(13)
    low = torch.randn(1, 2, 256, 256, generator=g) * 5
    low[0, 0, :, 100:180] = threshold  # a band exactly on the threshold
    low[0, 1, ::2, ::3] = threshold
    original = (2100, 2800)
    input_size = input_size_for(original)
    mask = masks_from_low_res(low, input_size, original, threshold)
    logits = reference_chain(low, input_size, original)
    assert assert_matches(mask, logits, threshold) == 0
