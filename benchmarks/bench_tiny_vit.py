"""TinyViT (MobileSAM image encoder) time per 1024×1024 image: SDPA vs plain attention.

    python benchmarks/bench_tiny_vit.py [--runs 5] [--threads N] [--batch 1]

Weights: the TinyViT parity fixture (MobileSAM's configuration) from ../shared when it is
there, else MobileSAM's configuration with random weights (time does not depend on the
values). Input: one normalised, padded 1×3×1024×1024 float32 image.

For each setting the script times a forward pass, alternating the variants run by run so
that a load change on the machine hits them alike, and prints the median and the range.
Settings:
- ``biases off`` (default, what MobileSAM's own pipeline computes, see ``TinyViT``);
- ``biases on`` (``apply_attention_biases=True``, the bias table as SDPA's attn_mask).
Variants: ``sdpa`` (our default) and ``plain`` (materialised q·kᵀ, bias add, softmax, @v,
as MobileSAM writes it). The maximum difference between the two outputs is printed too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def _model(weights: dict[str, torch.Tensor] | None, apply_biases: bool) -> TinyViT:
    config = infer_tiny_vit_config(weights) if weights else dict(DEFAULT_MOBILE_SAM_CONFIG)
    model = TinyViT(**config, apply_attention_biases=apply_biases)
    if weights:
        model.load_state_dict(weights, strict=True)
    return model.eval()


def _time(model: TinyViT, fused: bool, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    model.set_fused_attention(fused)
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
    with torch.inference_mode():
        for apply_biases in (False, True):
            model = _model(weights, apply_biases)
            times: dict[bool, list[float]] = {True: [], False: []}
            outputs: dict[bool, torch.Tensor] = {}
            for fused in (True, False):
                _, outputs[fused] = _time(model, fused, x)  # warm-up
            for _ in range(args.runs):
                for fused in (True, False):
                    seconds, _ = _time(model, fused, x)
                    times[fused].append(seconds / args.batch)
            diff = (outputs[True] - outputs[False]).abs().max().item()
            setting = "biases on " if apply_biases else "biases off"
            for fused in (True, False):
                variant = "sdpa " if fused else "plain"
                runs = times[fused]
                print(
                    f"  {setting}  {variant}  median {statistics.median(runs):6.3f} s  "
                    f"(min {min(runs):.3f}, max {max(runs):.3f})"
                )
            speedup = statistics.median(times[False]) / statistics.median(times[True])
            print(f"  {setting}  plain/sdpa {speedup:.2f}×, max |sdpa - plain| {diff:.2e}")


if __name__ == "__main__":
    main()
