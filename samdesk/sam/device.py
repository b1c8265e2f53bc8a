"""Choosing the torch device the model runs on."""

from __future__ import annotations

import torch


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def select_device(preference: str | None = None) -> torch.device:
    """The device for ``preference``: "auto"/None (CUDA, then MPS, then CPU), or explicit.

    Raises:
        ValueError: for an unknown name or a device that is not available here.
    """
    name = (preference or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                "CUDA was requested but is not available (no NVIDIA GPU, or this torch build "
                "has no CUDA support); choose 'auto' or 'cpu'."
            )
        return torch.device(name)
    if name == "mps":
        if not _mps_available():
            raise ValueError("MPS (Apple GPU) was requested but is not available; use 'cpu'.")
        return torch.device("mps")
    raise ValueError(f"Unknown device {preference!r}: expected 'auto', 'cpu', 'cuda' or 'mps'.")
