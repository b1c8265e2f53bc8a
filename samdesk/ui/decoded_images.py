"""The last decoded images, kept so that switching back to one costs nothing.

Decoding a 40 MP JPEG takes 0.35–0.6 s; annotators flip between two images all the time
(compare, copy a class, check an edge). ``DecodedImages`` keeps the most recently shown
images, decoded (the RGB array and its QImage), bounded by count and bytes: by default
3 images and 512 MB — the one on screen, the previous one and the next one decoded ahead
(``ProjectController.prefetch``) — and at 40 MP still the one on screen plus the previous
one (2 × 40 MP × 3 bytes × 2 copies = 480 MB; the next one is then not decoded ahead, so
it never pushes the previous one out). The one on screen is held by the window anyway.

Entries are keyed by the file's path, size and modification time, so a file changed on
disk is decoded again. Used on the GUI thread only.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import numpy as np

MAX_IMAGES = 3
MAX_BYTES = 512 * 1024 * 1024

Key = tuple[str, int, int, bool]


def _nbytes(value: tuple[np.ndarray, Any]) -> int:
    rgb, image = value
    return int(rgb.nbytes) + int(image.sizeInBytes())


class DecodedImages:
    """LRU of (HxWx3 uint8 RGB, QImage) by file; see the module docstring."""

    def __init__(self, max_images: int = MAX_IMAGES, max_bytes: int = MAX_BYTES) -> None:
        self.max_images = max_images
        self.max_bytes = max_bytes
        self._items: OrderedDict[Key, tuple[np.ndarray, Any]] = OrderedDict()
        self.hits = 0

    @staticmethod
    def key(path: str | os.PathLike[str], allow_large: bool) -> Key | None:
        """The cache key of ``path`` as it is on disk now; None when it cannot be read."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (os.fspath(path), st.st_size, st.st_mtime_ns, bool(allow_large))

    def get(self, key: Key | None) -> tuple[np.ndarray, Any] | None:
        if key is None:
            return None
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
            self.hits += 1
        return value

    def put(self, key: Key | None, value: tuple[np.ndarray, Any]) -> None:
        """Keep ``value`` as the newest entry; older ones go beyond the bounds. An image
        bigger than ``max_bytes`` on its own is not kept."""
        if key is None or self.max_images <= 0 or _nbytes(value) > self.max_bytes:
            return
        self._items.pop(key, None)
        self._items[key] = value
        while len(self._items) > self.max_images or self.nbytes() > self.max_bytes:
            self._items.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def nbytes(self) -> int:
        return sum(_nbytes(v) for v in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
