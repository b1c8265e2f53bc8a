"""Fixtures for the engine tests: a fake model controlled with Events, tiny images.

The fake backend lets the scheduling tests decide exactly when an "encode" finishes
(``gates``) and observe when one starts (``started``), so no test sleeps or guesses.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samdesk.engine.backend import DeviceOutOfMemory, Encoded, default_read_image
from samdesk.engine.embedding import FEATURES_SHAPE

WAIT = 10.0
"""Upper bound for any wait in these tests (a hang fails instead of blocking forever)."""


class FakeBackend:
    """An ``EncoderBackend`` whose features are the image's mean value.

    - ``gates[name]``: the encode of that image blocks until the Event is set (it stands
      for an uninterruptible forward pass);
    - ``read_gates[name]``: reading that image blocks (a stage before the cancel check);
    - ``started`` / ``read_started``: names, in order, as encodes / reads begin;
    - ``encoded``: names whose encode completed;
    - ``errors[name]``: exception raised by encode; ``oom``: names that raise
      DeviceOutOfMemory while not on the CPU.
    """

    def __init__(self, key: str = "fake-model-1", load_error: Exception | None = None) -> None:
        self.key = key
        self.load_error = load_error
        self.device = "cuda"
        self.gates: dict[str, threading.Event] = {}
        self.read_gates: dict[str, threading.Event] = {}
        self.started: queue.Queue[str] = queue.Queue()
        self.read_started: queue.Queue[str] = queue.Queue()
        self.encoded: list[str] = []
        self.errors: dict[str, Exception] = {}
        self.oom: set[str] = set()
        self.loaded_on: str | None = None
        self.closed = False
        self._name = ""

    def model_key(self) -> str:
        return self.key

    def load(self) -> None:
        self.loaded_on = threading.current_thread().name
        if self.load_error is not None:
            raise self.load_error

    def read_image(self, path: str | Path) -> np.ndarray:
        self._name = Path(path).name
        self.read_started.put(self._name)
        gate = self.read_gates.get(self._name)
        if gate is not None and not gate.wait(WAIT):
            raise TimeoutError(f"read gate {self._name} never opened")
        return default_read_image(path)

    def encode(self, rgb: np.ndarray, check_cancel) -> Encoded:
        name = self._name
        check_cancel()
        self.started.put(name)
        gate = self.gates.get(name)
        if gate is not None and not gate.wait(WAIT):
            raise TimeoutError(f"gate {name} never opened")
        if name in self.errors:
            raise self.errors[name]
        if name in self.oom and self.device != "cpu":
            raise DeviceOutOfMemory("CUDA out of memory (fake)")
        self.encoded.append(name)
        h, w = rgb.shape[:2]
        scale = 1024 / max(h, w)
        features = np.full(FEATURES_SHAPE, float(rgb.mean()), dtype=np.float32)
        return Encoded(features, (h, w), (round(h * scale), round(w * scale)))

    def fall_back_to_cpu(self) -> bool:
        if self.device == "cpu":
            return False
        self.device = "cpu"
        return True

    def new_decoder(self):
        return FakeDecoder()

    def close(self) -> None:
        self.closed = True


class FakeDecoder:
    """Decoder stand-in: ``gate`` (if set) blocks each predict; ``calls`` logs prompts."""

    def __init__(self) -> None:
        self.gate: threading.Event | None = None
        self.entered: queue.Queue[int] = queue.Queue()
        self.calls: list[tuple[str, float]] = []
        self.features_value: float | None = None
        self.fail_next = False

    def set_embedding(self, features, original_size, input_size) -> None:
        self.features_value = float(features.flat[0])
        self.size = original_size

    def _run(self, kind: str, point_coords=None, **kwargs):
        x = float(point_coords[0, 0]) if point_coords is not None else -1.0
        self.entered.put(len(self.calls))
        self.calls.append((kind, x))
        if self.gate is not None and not self.gate.wait(WAIT):
            raise TimeoutError("decoder gate never opened")
        if self.fail_next:
            self.fail_next = False
            raise ValueError("bad prompt (fake)")
        return x

    def predict(self, multimask_output=True, **kwargs):
        x = self._run("all", **kwargs)
        h, w = self.size
        masks = np.zeros((3, h, w), bool)
        return masks, np.array([x, 0.0, 0.0], np.float32), np.zeros((3, 256, 256), np.float32)

    def predict_best(self, **kwargs):
        return ("best", self._run("best", **kwargs), self.features_value)


def write_image(path: Path, value: int, size: tuple[int, int] = (24, 16)) -> Path:
    """A solid-grey PNG (w×h ``size``) whose fake features are all ``value``."""
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)
    return path


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    """Six distinct tiny images a.png … f.png (values 10, 20, … 60)."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    return [write_image(folder / f"{c}.png", 10 * (i + 1)) for i, c in enumerate("abcdef")]


@pytest.fixture(autouse=True)
def _no_thread_left() -> Iterator[None]:
    """Fail a test that leaves one of its threads running."""
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left running: {[t.name for t in left]}"


@pytest.fixture
def fake_backend_cls() -> type[FakeBackend]:
    """The FakeBackend class (test modules do not import conftest)."""
    return FakeBackend


@pytest.fixture
def fake_decoder_cls() -> type[FakeDecoder]:
    return FakeDecoder
