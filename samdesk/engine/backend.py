"""What the encoder service needs from a model, and the real one built on ``samdesk.sam``.

The service schedules; a backend computes. Keeping the boundary this small lets the
scheduling be tested with a fake backend (no torch, controllable with Events) and keeps
every torch call in :class:`SamBackend`, imported lazily.

Threading contract: the service calls ``model_key``, ``load``, ``encode`` and
``fall_back_to_cpu`` only from its one worker thread, so the encoder never runs on two
threads. ``new_decoder`` is called from a decode session's worker after ``load``: it
returns a *separate* predictor object that shares the model's prompt encoder and mask
decoder weights (read-only at inference, see :meth:`SamBackend.new_decoder`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

CheckCancel = Callable[[], None]
"""Raises :class:`Cancelled` when the work in progress is no longer wanted."""


class Cancelled(Exception):
    """The request was superseded or the service is closing (never shown to the user)."""


class DeviceOutOfMemory(Exception):
    """The accelerator ran out of memory; the service retries on the CPU."""


@dataclass(frozen=True)
class Encoded:
    """A backend's raw result: features 1×256×64×64 float32 plus the image sizes (h, w)."""

    features: npt.NDArray[np.float32]
    original_size: tuple[int, int]
    input_size: tuple[int, int]


class Decoder(Protocol):
    """The part of ``samdesk.sam.Predictor`` that a decode session uses."""

    def set_embedding(
        self, features: Any, original_size: tuple[int, int], input_size: tuple[int, int]
    ) -> None: ...

    def predict(self, **kwargs: Any) -> tuple[Any, Any, Any]: ...

    def predict_best(self, **kwargs: Any) -> Any: ...


class EncoderBackend(Protocol):
    """A model that turns HxWx3 uint8 RGB images into embeddings."""

    device: str
    """Where encoding runs, in words for status messages ("cuda", "cpu")."""

    def model_key(self) -> str:
        """Fingerprint of the model's weights (cache key); may hash a file, so slow once."""
        ...

    def load(self) -> None:
        """Load the model. Raises with a user-readable message when it cannot."""
        ...

    def encode(self, rgb: npt.NDArray[np.uint8], check_cancel: CheckCancel) -> Encoded:
        """Encode one HxWx3 uint8 RGB image; calls ``check_cancel`` between stages.

        Raises :class:`DeviceOutOfMemory` when the accelerator is out of memory.
        """
        ...

    def fall_back_to_cpu(self) -> bool:
        """Encode on the CPU from now on; False when already there (nothing to fall to)."""
        ...

    def new_decoder(self) -> Decoder:
        """A new decoder object for one decode thread (only after :meth:`load`)."""
        ...

    def close(self) -> None:
        """Release the model (called once, on the worker, when the service closes)."""
        ...


def default_read_image(
    path: str | os.PathLike[str], *, allow_large: bool = False
) -> npt.NDArray[np.uint8]:
    """HxWx3 uint8 RGB, upright (EXIF orientation applied): ``samdesk.core.images.read_image``.

    It raises ImageReadError / ImageTooLargeError with user-readable messages;
    ``allow_large`` lifts the pixel limit for a file the user trusts.
    """
    from samdesk.core.images import read_image

    return read_image(path, allow_large=allow_large)


class SamBackend:
    """:class:`EncoderBackend` on a ``samdesk.sam`` checkpoint.

    Args:
        checkpoint: SAM / MobileSAM checkpoint file.
        device: "cuda", "mps", "cpu" or None for the best available (``select_device``).
        encoder_dtype: optional reduced precision for the image encoder on an accelerator,
            a torch dtype or its name ("bfloat16", "float16") — a name lets callers on the
            GUI thread stay free of torch (part of the model key: its embeddings differ from
            fp32 ones).
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike[str],
        device: str | None = None,
        encoder_dtype: Any = None,
    ) -> None:
        self.checkpoint = Path(checkpoint)
        self._device_pref = device
        self._encoder_dtype = encoder_dtype
        self.device = device or "auto"
        self._model: Any = None
        self._encode_predictor: Any = None
        self._model_key: str | None = None

    def model_key(self) -> str:
        if self._model_key is None:
            from samdesk.engine.fingerprint import checkpoint_fingerprint

            try:
                key = checkpoint_fingerprint(self.checkpoint)
            except OSError as exc:
                raise OSError(f"Cannot read the checkpoint {self.checkpoint}: {exc}") from exc
            if self._encoder_dtype is not None:
                key += "-" + str(self._encoder_dtype).removeprefix("torch.")
            self._model_key = key
        return self._model_key

    def load(self) -> None:
        load_model, predictor_cls = _sam_api()
        dtype = self._encoder_dtype
        if isinstance(dtype, str):
            import torch

            dtype = getattr(torch, dtype)
        self._model = load_model(self.checkpoint, device=self._device_pref, encoder_dtype=dtype)
        self.device = self._model.device.type
        self._encode_predictor = predictor_cls(self._model)
        with contextlib.suppress(AttributeError):  # describe() is informative only
            log.info("loaded %s on %s", self._model.info.describe(), self.device)

    @property
    def model(self) -> Any:
        """The loaded ``samdesk.sam.Sam`` (None before :meth:`load`)."""
        return self._model

    def encode(self, rgb: npt.NDArray[np.uint8], check_cancel: CheckCancel) -> Encoded:
        import torch

        check_cancel()
        predictor = self._encode_predictor
        h, w = int(rgb.shape[0]), int(rgb.shape[1])
        try:
            with torch.inference_mode():
                # Resize (tens of ms), then a last cancel point: the forward pass that
                # follows (the seconds) cannot be interrupted.
                image = (
                    rgb
                    if getattr(predictor.model, "image_format", "RGB") == "RGB"
                    else rgb[..., ::-1]
                )
                resized = predictor.transform.apply_image(np.ascontiguousarray(image))
                check_cancel()
                tensor = torch.as_tensor(resized, device=predictor.device)
                predictor.set_torch_image(tensor.permute(2, 0, 1).contiguous()[None], (h, w))
                features = predictor.features.detach().float().cpu().numpy()
                input_size = tuple(predictor.input_size)
                predictor.reset_image()  # the embedding now lives in the cache, not here
        except torch.cuda.OutOfMemoryError as exc:
            predictor.reset_image()
            torch.cuda.empty_cache()
            raise DeviceOutOfMemory(str(exc)) from exc
        except RuntimeError as exc:  # MPS reports OOM as a plain RuntimeError
            if "out of memory" in str(exc).lower():
                predictor.reset_image()
                raise DeviceOutOfMemory(str(exc)) from exc
            raise
        return Encoded(np.ascontiguousarray(features, dtype=np.float32), (h, w), input_size)

    def fall_back_to_cpu(self) -> bool:
        if self.device == "cpu":
            return False
        load_model, predictor_cls = _sam_api()

        # A fresh CPU copy from the file rather than moving the shared model: decode
        # sessions keep using the accelerator model's decoder concurrently, and a
        # deepcopy would first allocate on the device that just ran out of memory.
        cpu_model = load_model(self.checkpoint, device="cpu")
        self._encode_predictor = predictor_cls(cpu_model)
        self.device = "cpu"
        return True

    def new_decoder(self) -> Decoder:
        """A predictor of its own that shares the loaded model's weights.

        Safe to use on another thread while this backend encodes: the decoder path reads
        only the prompt encoder and mask decoder; under ``torch.inference_mode`` no module
        state is written (no autograd, no running statistics, eval mode), and each
        predictor keeps its own image state, so the two threads share read-only tensors.
        """
        if self._model is None:
            raise RuntimeError("new_decoder() before load()")
        _, predictor_cls = _sam_api()
        return _SamDecoder(predictor_cls(self._model))

    def close(self) -> None:
        self._encode_predictor = None
        self._model = None


def _sam_api() -> tuple[Callable[..., Any], type]:
    """(load_model, Predictor), imported on first use (torch loads with them)."""
    from samdesk.sam import Predictor, load_model

    return load_model, Predictor


class _SamDecoder:
    """A ``samdesk.sam.Predictor`` fed with numpy embeddings, run under inference mode."""

    def __init__(self, predictor: Any) -> None:
        self._predictor = predictor

    def set_embedding(
        self,
        features: npt.NDArray[np.float32],
        original_size: tuple[int, int],
        input_size: tuple[int, int],
    ) -> None:
        import warnings

        import torch

        with warnings.catch_warnings():
            # Embeddings are read-only arrays; torch warns because it *could* write
            # through the shared buffer. Nothing here writes to features.
            warnings.simplefilter("ignore", UserWarning)
            tensor = torch.from_numpy(features)
        self._predictor.set_embedding(tensor, original_size, input_size)

    def predict(self, **kwargs: Any) -> tuple[Any, Any, Any]:
        import torch

        with torch.inference_mode():
            return self._predictor.predict(**kwargs)

    def predict_best(self, **kwargs: Any) -> Any:
        import torch

        with torch.inference_mode():
            return self._predictor.predict_best(**kwargs)
