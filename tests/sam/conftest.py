"""Fixtures for the SAM model tests: parity fixture location and small checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """The shared fixtures folder: $SAMDESK_SHARED, else <repo>/../shared."""
    env = os.environ.get("SAMDESK_SHARED")
    return Path(env) if env else (REPO.parent / "shared")


def parity_dir() -> Path:
    """The parity fixtures folder; fails the test (never skips) when it is missing."""
    root = shared_dir() / "parity"
    if not root.is_dir():
        pytest.fail(
            f"SAM parity fixtures not found at {root}. Set SAMDESK_SHARED to the shared "
            "fixtures folder (the one containing parity/)."
        )
    return root


def parity_names() -> list[str]:
    """Every parity fixture (folders with cases.json); the two known ones if none found."""
    root = shared_dir() / "parity"
    found = sorted(p.name for p in root.glob("*/cases.json") for p in [p.parent])
    return found or ["tinyvit_s2", "vit_s1"]


@pytest.fixture(autouse=True, scope="session")
def _torch_threads() -> None:
    # The test machines are shared: two threads, as in the benchmarks' reference figures.
    torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def tiny_vit_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small random ViT SAM checkpoint (official keys), written once per session."""
    from samdesk.sam.testing import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "small_vit.pt", "vit")
