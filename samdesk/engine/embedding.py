"""Immutable values that cross threads: embeddings, results, errors, status.

Everything here is a frozen dataclass holding plain data, so a worker can hand it to the
UI thread (through the Qt bridge) without either side having to lock anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FEATURES_SHAPE = (1, 256, 64, 64)
"""Shape of SAM's image embedding (ViT and TinyViT alike): 1×256×64×64 float32."""


@dataclass(frozen=True, eq=False)
class Embedding:
    """The image encoder's output for one image and one model.

    Attributes:
        image_key: the caller's name for the image (the service uses its path as a string).
        model_key: fingerprint of the checkpoint that produced it (see ``fingerprint.py``).
        features: 1×256×64×64 float32, C-contiguous, read-only (``flags.writeable`` is
            False: embeddings are shared between the cache, the service and decoders).
        original_size: (h, w) of the upright image in pixels.
        input_size: (h, w) of the image after resizing its longest side to 1024, before
            padding — what SAM's mask post-processing crops to.
        source: where this value came from: "encoded", "disk" (fp16 on disk: decode results
            differ from the fp32 ones by fp16 rounding, invisible in the UI).
    """

    image_key: str
    model_key: str
    features: npt.NDArray[np.float32]
    original_size: tuple[int, int]
    input_size: tuple[int, int]
    source: Literal["encoded", "disk"] = "encoded"

    def __post_init__(self) -> None:
        features = np.ascontiguousarray(self.features, dtype=np.float32)
        if features.ndim != 4 or features.shape[0] != 1:
            raise ValueError(f"features must be 1×C×H×W, got shape {features.shape}")
        if features.flags.writeable:
            # A read-only view, not a copy (4 MiB): whoever builds an Embedding hands the
            # array over; the view stops accidental writes through the shared value.
            features = features.view()
            features.flags.writeable = False
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "original_size", tuple(int(v) for v in self.original_size))
        object.__setattr__(self, "input_size", tuple(int(v) for v in self.input_size))

    @property
    def nbytes(self) -> int:
        """Memory held by the features (what the memory cache budgets)."""
        return int(self.features.nbytes)

    def with_key(self, image_key: str) -> Embedding:
        """The same features under another image key (a renamed/copied file)."""
        if image_key == self.image_key:
            return self
        return Embedding(
            image_key,
            self.model_key,
            self.features,
            self.original_size,
            self.input_size,
            self.source,
        )


@dataclass(frozen=True)
class EmbeddingReady:
    """The embedding of the image that was current when the worker finished it.

    ``request_id`` is the id :meth:`EncoderService.set_current` returned; the receiver
    compares it with its own latest id (or calls ``service.is_current``) and ignores the
    event when the user has moved on meanwhile.
    """

    request_id: int
    image_key: str
    embedding: Embedding
    seconds: float
    """Time from the worker starting this image to the embedding being ready."""


@dataclass(frozen=True)
class EncodeError:
    """Something went wrong; the service keeps serving other images.

    ``image_key`` is None for errors not tied to one image (the checkpoint cannot be
    loaded). ``fatal`` is False for notices that did not stop the work (the GPU ran out
    of memory and the image was encoded on the CPU instead).
    """

    request_id: int
    image_key: str | None
    message: str
    fatal: bool = True


StatusState = Literal[
    "starting", "loading_model", "encoding", "prefetching", "holding", "idle", "closed"
]


@dataclass(frozen=True)
class ServiceStatus:
    """What the encoder worker is doing, for the status bar.

    ``state`` "encoding" is the image on screen, "prefetching" an image ahead of it,
    "holding" prefetch work waiting for the decoder to be idle (the user is annotating);
    ``pending`` counts images still wanted after this one (current + prefetch).
    """

    state: StatusState
    image_key: str | None = None
    pending: int = 0
    message: str = ""
