"""TinyViT (MobileSAM image encoder) time per 1024×1024 image: SDPA vs plain attention.

    python benchmarks/bench_tiny_vit.py [--runs 5] [--threads N] [--batch 1]

Weights: the TinyViT parity fixture (MobileSAM's configuration) from ../shared when it is
there, else MobileSAM's configuration with random weights (time does not depend on the
values). Input: one normalised, padded 1×3×1024×1024 float32 image.

The script times a forward pass, alternating the variants run by run so that a load
change on the machine hits them alike, and prints the median and the range. Variants:
- ``sdpa`` (samdesk: the trained bias table as SDPA's attn_mask, always applied);
- ``plain`` (the reference formulation as MobileSAM writes it: materialised q·kᵀ, bias
  add, softmax, @v);
- ``sdpa-nobias`` (benchmark only, no samdesk path can run it: SDPA with the bias mask
  dropped, to show what the bias add costs).
The maximum difference between sdpa and plain outputs is printed too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import samdesk.sam.tiny_vit as tiny_vit_module  # noqa: E402
from samdesk.sam.tiny_vit import (  # noqa: E402
    DEFAULT_MOBILE_SAM_CONFIG,
    TinyViT,
    infer_tiny_vit_config,
)

SHARED = Path(os.environ.get("SAMDESK_SHARED", ROOT.parent / "shared"))
FIXTURE = SHARED / "parity" / "tinyvit_s2" / "checkpoint.pt"


def _weights() -> tuple[dict[str, torch.Tensor] | None, str]:
    if not FIXTURE.is_file():
        return None, "random weights, MobileSAM configuration"
    state = torch.load(FIXTURE, map_location="cpu", weights_only=True)
    prefix = "image_encoder."
    encoder = {
        k[len(prefix) :]: (v.float() if v.is_floating_point() else v)
        for k, v in state.items()
        if k.startswith(prefix)
    }
    return encoder, f"parity fixture {FIXTURE}"


def _model(weights: dict[str, torch.Tensor] | None) -> TinyViT:
    config = infer_tiny_vit_config(weights) if weights else dict(DEFAULT_MOBILE_SAM_CONFIG)
    model = TinyViT(**config)
    if weights:
        model.load_state_dict(weights, strict=True)
    return model.eval()


class _NoBiasFunctional:
    """torch.nn.functional with SDPA's attn_mask dropped (the benchmark's no-bias variant)."""

    def __getattr__(self, name: str) -> object:
        return getattr(torch.nn.functional, name)

    @staticmethod
    def scaled_dot_product_attention(
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        attn_mask: object = None,
        **kwargs: object,
    ) -> torch.Tensor:
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, **kwargs)


@contextlib.contextmanager
def _no_bias() -> Iterator[None]:
    saved = tiny_vit_module.F
    tiny_vit_module.F = _NoBiasFunctional()  # type: ignore[assignment]
    try:
        yield
    finally:
        tiny_vit_module.F = saved


def _time(model: TinyViT, variant: str, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    model.set_fused_attention(variant != "plain")
    with _no_bias() if variant == "sdpa-nobias" else contextlib.nullcontext():
        start = time.perf_counter()
        out = model(x)
        return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per variant")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--batch", type=int, default=1, help="images per forward pass")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    weights, source = _weights()
    x = torch.randn(args.batch, 3, 1024, 1024, generator=torch.Generator().manual_seed(0))
    print(f"TinyViT encoder, {source}")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
        f"{args.runs} runs per variant (after one warm-up), seconds per image"
    )
    variants = ("sdpa", "plain", "sdpa-nobias")
    with torch.inference_mode():
        model = _model(weights)
        times: dict[str, list[float]] = {v: [] for v in variants}
        outputs: dict[str, torch.Tensor] = {}
        for variant in variants:
            _, outputs[variant] = _time(model, variant, x)  # warm-up
        for _ in range(args.runs):
            for variant in variants:
                seconds, _ = _time(model, variant, x)
                times[variant].append(seconds / args.batch)
        diff = (outputs["sdpa"] - outputs["plain"]).abs().max().item()
        for variant in variants:
            runs = times[variant]
            print(
                f"  {variant:<11}  median {statistics.median(runs):6.3f} s  "
                f"(min {min(runs):.3f}, max {max(runs):.3f})"
            )
        med = {v: statistics.median(times[v]) for v in variants}
        print(f"  plain/sdpa {med['plain'] / med['sdpa']:.2f}×, max |sdpa - plain| {diff:.2e}")
        print(f"  bias add: sdpa/sdpa-nobias {med['sdpa'] / med['sdpa-nobias']:.3f}×")


if __name__ == "__main__":
    main()
