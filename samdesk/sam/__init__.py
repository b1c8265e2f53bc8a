"""The Segment Anything model layer: encoders, prompt encoder, decoder, loading, predictor.

torch is imported on first use of an export (PEP 562), so importing a submodule such as
``samdesk.sam.errors`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from samdesk.sam.device import select_device
    from samdesk.sam.errors import SamCheckpointError
    from samdesk.sam.loading import ModelInfo, build_sam_tiny_vit, build_sam_vit, load_model
    from samdesk.sam.predictor import BestMask, Predictor
    from samdesk.sam.sam import Sam
    from samdesk.sam.transforms import ResizeLongestSide

_EXPORTS = {
    "load_model": "samdesk.sam.loading",
    "ModelInfo": "samdesk.sam.loading",
    "build_sam_vit": "samdesk.sam.loading",
    "build_sam_tiny_vit": "samdesk.sam.loading",
    "Predictor": "samdesk.sam.predictor",
    "BestMask": "samdesk.sam.predictor",
    "Sam": "samdesk.sam.sam",
    "SamCheckpointError": "samdesk.sam.errors",
    "ResizeLongestSide": "samdesk.sam.transforms",
    "select_device": "samdesk.sam.device",
}

__all__ = [
    "BestMask",
    "ModelInfo",
    "Predictor",
    "ResizeLongestSide",
    "Sam",
    "SamCheckpointError",
    "build_sam_tiny_vit",
    "build_sam_vit",
    "load_model",
    "select_device",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'samdesk.sam' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
