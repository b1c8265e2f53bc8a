"""SAM core timings: image encoders and the per-click path, against the plain formulation.

Usage: python benchmarks/bench_sam.py [--vit-h] [--threads N] [--skip-encoders]

The "reference" columns run a faithful re-implementation of the official code's plain
formulation in the same process (materialised attention scores with an explicit
decomposed rel-pos bias; the F.interpolate upscaling chain followed by ``> 0``), so the
ratios are meaningful on a shared, noisy machine. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import MethodType

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The same logits and reference as the post-processing benchmark (this folder is on sys.path
# when a script of it runs).
from bench_postprocess import reference_masks, sam_like_logits

from samdesk.sam import Predictor, build_sam_tiny_vit, build_sam_vit, load_model, postprocess
from samdesk.sam.image_encoder import (
    Attention,
    _rel_terms,
    chunked_bias_attention,
    windowed_rel_pos_attention,
)
from samdesk.sam.postprocess import best_mask_crop, masks_from_low_res
from samdesk.sam.testing import plain_attention

VITS = {
    "vit_b": (768, 12, 12, (2, 5, 8, 11)),
    "vit_h": (1280, 32, 16, (7, 15, 23, 31)),
}
SIZES = [(768, 1024), (3000, 4000), (6000, 8000)]  # (h, w)


def timed(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- the official formulation, for the reference columns -----------------------------------
def use_plain_attention(encoder: torch.nn.Module) -> None:
    for module in encoder.modules():
        if isinstance(module, Attention):
            module.forward = MethodType(plain_attention, module)


# --- benchmarks ----------------------------------------------------------------------------
def bench_global_attention(repeat: int) -> None:
    """One ViT-B global block's attention kernel, three ways (the choice in image_encoder)."""
    torch.manual_seed(0)
    heads, d, n = 12, 64, 64
    q, k, v = (torch.randn(1, heads, n * n, d) for _ in range(3))
    rel_h, rel_w = _rel_terms(q, torch.randn(127, d), torch.randn(127, d), n, n)
    scale = d**-0.5

    def full_bias() -> torch.Tensor:
        bias = (rel_h[..., :, None] + rel_w[..., None, :]).reshape(1, heads, n * n, n * n)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale)

    ref = full_bias()
    print("ViT-B global-attention kernel (12 heads, 4096 tokens):")
    for name, fn in [
        ("full 4096² bias as attn_mask (805 MB)", full_bias),
        (
            "chunked bias, 8 rows/chunk [used]",
            lambda: chunked_bias_attention(q, k, v, rel_h, rel_w, scale),
        ),
        (
            "augmented q/k columns (d 64→192)",
            lambda: windowed_rel_pos_attention(q, k, v, rel_h, rel_w, scale),
        ),
    ]:
        err = float((fn() - ref).abs().max())
        print(f"  {name:40s} {timed(fn, repeat) * 1000:8.0f} ms   max diff {err:.1e}")


def bench_encoder(
    name: str, model: torch.nn.Module, reference: Callable[[], None], repeat: int
) -> None:
    x = torch.randn(1, 3, 1024, 1024)
    with torch.no_grad():
        ours_out = model.image_encoder(x)
        ours = timed(lambda: model.image_encoder(x), repeat, warmup=0)
        reference()
        ref_out = model.image_encoder(x)
        ref = timed(lambda: model.image_encoder(x), repeat, warmup=0)
    rel = float((ours_out - ref_out).abs().max() / ref_out.abs().max())
    print(
        f"  {name:10s} ours {ours:6.2f} s   plain reference {ref:6.2f} s   ratio {ours / ref:.2f}"
        f"   rel diff {rel:.1e}"
    )


def click_model() -> tuple[Predictor, np.ndarray]:
    """vit_s1's decoder and a real image embedding when the parity fixtures are present."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "parity" / "vit_s1"
    if (shared / "checkpoint.pt").is_file():
        model = load_model(shared / "checkpoint.pt", device="cpu")
        features = torch.from_numpy(np.load(shared / "expected.npz")["truck/features"])
        point = np.array([[0.508, 0.815]])  # the fixture's first truck click, relative
    else:
        torch.manual_seed(0)
        model = build_sam_vit(32, 2, 2, (1,))
        features = torch.randn(1, 256, 64, 64)
        point = np.array([[0.5, 0.5]])
    p = Predictor(model)
    p._click_features = features  # type: ignore[attr-defined]
    return p, point


def bench_click(repeat: int) -> None:
    p, rel_point = click_model()
    print(
        "Click (one positive point; decoder + post-processing to original size). Mask loops: "
        f"{'compiled' if postprocess.compiled_loops() else 'numpy (samdesk.sam._masks not built)'}"
    )
    print(
        f"  {'size':>11s} {'logits':7s} {'path':21s} {'decoder':>8s} {'post':>8s} {'click':>8s}"
        f" {'post %':>7s} {'ref click':>10s} {'ratio':>6s}"
    )
    print(
        "  (post: median over clicks of the post-processing run right after the decoder;"
        " decoder: median of all the size's decoder runs)"
    )
    for h, w in SIZES:
        _bench_size(p, rel_point * [w, h], h, w, repeat)


def _row(size: str, logits: str, path: str, post: float, ref: float, decoder: float) -> None:
    click, ref_click = decoder + post, decoder + ref
    print(
        f"  {size:>11s} {logits:7s} {path:21s} {decoder * 1e3:6.0f}ms {post * 1e3:6.1f}ms"
        f" {click * 1e3:6.0f}ms {100 * post / click:6.1f}% {ref_click * 1e3:8.0f}ms"
        f" {click / ref_click:6.2f}"
    )


class Clicks:
    """Clicks timed as the predictor runs them: the decoder, then the post-processing (whose
    caches the decoder has just used). The decoder is the same code for every variant, so
    all rows of an image size share the median of all its decoder runs: its run-to-run noise
    on a shared machine would otherwise swamp the post-processing's differences."""

    def __init__(self, decode: Callable[[], object]) -> None:
        self.decode = decode
        self.decoder_times: list[float] = []

    def post(
        self, post: Callable[[], object], repeat: int, before: Callable[[], object] | None = None
    ) -> float:
        """Median time of ``post`` right after the decoder (``before`` runs untimed first)."""
        post()  # warm-up
        times = []
        for _ in range(repeat):
            if before is not None:
                before()
            t0 = time.perf_counter()
            self.decode()
            t1 = time.perf_counter()
            post()
            times.append(time.perf_counter() - t1)
            self.decoder_times.append(t1 - t0)
        return statistics.median(times)

    @property
    def decoder(self) -> float:
        return statistics.median(self.decoder_times)


def _bench_size(p: Predictor, point: np.ndarray, h: int, w: int, repeat: int) -> None:
    input_size = p.transform.get_preprocess_shape(h, w, 1024)
    p.set_embedding(p._click_features, (h, w), input_size)  # type: ignore[attr-defined]
    coords, labels, _, _ = p._prompt_tensors(point, np.array([1]), None, None)

    def decode() -> tuple[torch.Tensor, torch.Tensor]:
        return p._decode(coords, labels, None, None, True)

    low, iou = decode()
    best = int(iou[0].argmax())
    sam = sam_like_logits()
    size = f"{w}×{h}"
    few = max(3, repeat // 2)
    c = Clicks(decode)
    # The random checkpoint's own logits (noise-like: the worst case, every pixel evaluated).
    ref = c.post(lambda: reference_masks(low, input_size, (h, w)), few)
    multi = c.post(lambda: masks_from_low_res(low, input_size, (h, w)), repeat)
    best_crop = c.post(lambda: best_mask_crop(low[0, best], input_size, (h, w)), repeat)
    # SAM-like logits through the same post-processing (the decoder's cost does not depend on
    # its weights' values).
    ref_sam = c.post(lambda: reference_masks(sam, input_size, (h, w)), few)
    multi_sam = c.post(lambda: masks_from_low_res(sam, input_size, (h, w)), repeat)
    # A fresh output every time (no recycled buffer): the first multimask click on an image.
    # Freeing the earlier ones is not part of the click.
    fresh_sam = c.post(
        lambda: masks_from_low_res(sam, input_size, (h, w)),
        repeat,
        before=postprocess.release_buffers,
    )
    best_sam = c.post(lambda: best_mask_crop(sam[0, 1], input_size, (h, w)), repeat)
    dec = c.decoder
    _row(size, "random", "predict(multimask)", multi, ref, dec)
    _row("", "random", "predict_best", best_crop, ref, dec)
    _row("", "SAM-like", "predict(multimask)", multi_sam, ref_sam, dec)
    _row("", "SAM-like", "  fresh output buffer", fresh_sam, ref_sam, dec)
    _row("", "SAM-like", "predict_best", best_sam, ref_sam, dec)
    # End to end through the public API, as the UI calls it (random weights).
    t_api = timed(lambda: p.predict(point, np.array([1])), repeat)
    t_api_best = timed(lambda: p.predict_best(point, np.array([1])), repeat)
    print(
        f"  {'':11s} public API, random weights: predict {t_api * 1e3:.0f} ms, predict_best "
        f"{t_api_best * 1e3:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vit-h", action="store_true", help="also time the ViT-H encoder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5, help="click repeats (median)")
    parser.add_argument("--skip-encoders", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    bench_click(args.repeat)
    if args.skip_encoders:
        return
    with torch.no_grad():
        bench_global_attention(1)
    print("Image encoder, one 1024×1024 image, random weights at full size:")
    names = ["vit_b", "vit_h"] if args.vit_h else ["vit_b"]
    for name in names:
        torch.manual_seed(0)
        model = build_sam_vit(*VITS[name])
        bench_encoder(name, model, lambda m=model: use_plain_attention(m.image_encoder), 1)
        del model
    torch.manual_seed(0)
    tiny = build_sam_tiny_vit()

    def tiny_plain() -> None:
        # TinyViT's own switch between SDPA and the plain formulation (tiny_vit.py).
        for module in tiny.image_encoder.modules():
            if hasattr(module, "fused"):
                module.fused = False

    bench_encoder("tiny_vit", tiny, tiny_plain, 3)


if __name__ == "__main__":
    main()
