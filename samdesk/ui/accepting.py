"""Committing a mask without freezing the window: mask → polygon off the GUI thread.

Tracing a clean mask takes milliseconds, but a fragmented one (a confused SAM, a
random-weight model: hundreds or thousands of parts) takes seconds. ``RegionConverter``
converts quick masks at once (so accepting stays synchronous where that is harmless) and
the others on its own single-worker executor; the result comes back on the GUI thread
through a ``FutureBridge``, where the conversion's command is pushed onto the undo stack
of the image the mask was made on — even if another image is on screen by then.

One conversion at a time: the annotator freezes the draft while it runs, and ``cancel()``
(Escape, another project) drops it. shapely cannot be interrupted, so a cancelled
conversion already running finishes on the worker and its result is ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from samdesk.core.document import Region
from samdesk.ui.bridge import FutureBridge
from samdesk.ui.tools.masks import MaskCrop, crop_to_region

SYNC_MAX_RUNS = 1000
"""Masks with at most this many horizontal pixel runs are converted on the GUI thread.

The cost of tracing grows with the runs (about 0.05-0.1 ms each for a fragmented mask):
a 1,000-pixel-tall disc (999 runs) takes ~10 ms, 1,300 parts of noise ~1 s."""

THREAD_PREFIX = "samdesk-polygon"


def mask_runs(crop: MaskCrop) -> int:
    """Number of horizontal runs of set pixels: a cheap (sub-millisecond) cost estimate."""
    m = crop.mask
    if m.size == 0:
        return 0
    return int(np.count_nonzero(m[:, 1:] & ~m[:, :-1]) + np.count_nonzero(m[:, 0]))


@dataclass(frozen=True)
class Conversion:
    """A mask on its way to becoming an undo command.

    ``build(region)`` makes the command, or returns None when there is nothing to commit
    (it says why). ``stack`` is the undo stack of the image the mask was made on.
    ``preview``: (object id, mask) shown instead of the object while a brush stroke on it
    converts; ``draft``: the draft being accepted (frozen meanwhile), if any.
    """

    crop: MaskCrop
    stack: QUndoStack
    build: Callable[[Region], QUndoCommand | None]
    draft: Any = None
    preview: tuple[str, MaskCrop] | None = None


class RegionConverter(QObject):
    """Turns masks into regions and pushes their commands; slow ones in the background.

    Signals:
    busy_changed(bool): a background conversion started or ended (done, failed, cancelled).
    finished(object, bool): a Conversion ended; True when its command was pushed.
    failed(str): a background conversion raised (its message).
    """

    busy_changed = Signal(bool)
    finished = Signal(object, bool)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = FutureBridge(self)
        self._executor: ThreadPoolExecutor | None = None  # started by the first slow mask
        self._future: Future | None = None
        self._job = 0
        self.current: Conversion | None = None
        """The conversion running in the background, if any."""

    @property
    def busy(self) -> bool:
        return self.current is not None

    def run(self, conversion: Conversion, tolerance: float, min_area: float) -> bool | None:
        """Convert and push: at once for a quick mask (True: pushed), or in the
        background (None; ``finished`` follows on the GUI thread)."""
        self.cancel()
        if mask_runs(conversion.crop) <= SYNC_MAX_RUNS:
            return self._push(conversion, crop_to_region(conversion.crop, tolerance, min_area))
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=THREAD_PREFIX)
        self._job += 1
        job = self._job
        self.current = conversion
        self._future = self._executor.submit(crop_to_region, conversion.crop, tolerance, min_area)
        self._bridge.watch(
            self._future,
            lambda region: self._done(job, region, None),
            lambda exc: self._done(job, None, exc),
        )
        self.busy_changed.emit(True)
        return None

    def _done(self, job: int, region: Region | None, error: BaseException | None) -> None:
        if job != self._job:
            return  # cancelled meanwhile
        conversion = self.current
        self.current = self._future = None
        self.busy_changed.emit(False)
        if conversion is None:
            return
        if error is not None:
            self.failed.emit(f"Could not convert the mask to a polygon: {error}")
            self.finished.emit(conversion, False)
            return
        self.finished.emit(conversion, self._push(conversion, region))

    def _push(self, conversion: Conversion, region: Region | None) -> bool:
        command = conversion.build(region if region is not None else Region())
        if command is None:
            return False
        conversion.stack.push(command)
        return True

    def cancel(self) -> bool:
        """Drop the background conversion (its result is ignored). True: there was one."""
        if self.current is None:
            return False
        if self._future is not None:
            self._future.cancel()
        self._job += 1
        self.current = self._future = None
        self.busy_changed.emit(False)
        return True

    def shutdown(self) -> None:
        """Cancel and wait for a conversion running on the worker (window closing)."""
        self.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
