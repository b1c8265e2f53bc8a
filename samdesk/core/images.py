"""Reading images: upright H×W×3 uint8 RGB, whatever the file's mode, plus folder scanning.

Conventions and choices:

* **Upright**: the EXIF orientation tag is applied exactly once, here; every coordinate in
  samdesk refers to the upright image. ``image_size`` reports the upright size from the
  header and EXIF alone (no pixel decoding), consistently with ``read_image``.
* **Alpha** (RGBA, LA, PA, palette with transparency) is composited on **white**: that is
  what an image viewer on a light background shows, whereas the colour values hidden under
  fully transparent pixels are meaningless (often black or leftover garbage) and would show
  up as phantom shapes to both the annotator and the model.
* **16-bit** greyscale (I;16*) is scaled linearly over the full 16-bit range (v / 257), so
  that the same value looks the same in every image of a dataset; 32-bit integer images are
  clipped to 0..65535 first. 32-bit float images have no natural range and are stretched
  from their own min..max.
* Palette, 1-bit, greyscale, CMYK, YCbCr, LAB, HSV → RGB by Pillow's conversion; no colour
  management (ICC profiles are ignored). Multi-frame files (GIF, TIFF): the first frame.
* Images above Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``,
  ~89 megapixels by default) raise ``ImageTooLargeError`` unless ``allow_large=True``.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from samdesk.core.files import file_kind, is_regular_file, open_regular

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "ImageTooLargeError",
    "check_image",
    "image_size",
    "natural_sort_key",
    "open_memory_estimate",
    "read_image",
    "scan_images",
]

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".bmp",
        ".dib",
        ".tif",
        ".tiff",
        ".webp",
        ".gif",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
        ".tga",
    }
)
"""Lower-case file suffixes (with the dot) that ``scan_images`` picks up."""

_ORIENTATION_TAG = 0x0112
# EXIF orientation → the Pillow transposition that makes the image upright (as in
# PIL.ImageOps.exif_transpose). 5-8 swap width and height.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, UnidentifiedImageError)
# Lifting Pillow's process-wide pixel limit for one allow_large read must not race another.
_LIMIT_LOCK = threading.Lock()


class ImageReadError(Exception):
    """An image file could not be read. ``path`` and ``reason`` are kept for the UI."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"Cannot read image {self.path}: {reason}")


class ImageTooLargeError(ImageReadError):
    """The image has more pixels than Pillow's decompression-bomb limit."""

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, limit: int) -> None:
        self.width, self.height, self.limit = width, height, limit
        super().__init__(
            path,
            f"it is {width}×{height} = {width * height / 1e6:.0f} megapixels, above the "
            f"{limit / 1e6:.0f}-megapixel safety limit against decompression bombs; "
            "if you trust the file, answer “Open anyway” in the window, or pass "
            "--allow-large to samdesk encode",
        )


def _pixel_limit() -> int | None:
    return Image.MAX_IMAGE_PIXELS


def _open_without_limit(handle: BinaryIO) -> Image.Image:
    # Image.open refuses sizes above 2× the limit before we can look at them. Lifting the
    # process-wide limit is done only here (a trusted file, or to report a refused size).
    with _LIMIT_LOCK:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(handle)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


@contextmanager
def _open(path: str | os.PathLike[str], *, allow_large: bool) -> Iterator[Image.Image]:
    """Open lazily (header only), with Pillow's errors turned into ImageReadError.

    Only a regular file is opened (``samdesk.core.files``): a FIFO named ``*.png`` would
    otherwise block the reading thread until something writes into it.
    """
    try:
        handle = open_regular(path)
    except FileNotFoundError as exc:
        raise ImageReadError(path, "file not found") from exc
    except OSError as exc:
        raise ImageReadError(path, exc.strerror or str(exc)) from exc
    with handle:
        try:
            with warnings.catch_warnings():
                # Our own check below replaces Pillow's warning between 1× and 2× the limit.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                try:
                    image = _open_without_limit(handle) if allow_large else Image.open(handle)
                except Image.DecompressionBombError:
                    handle.seek(0)
                    image = _open_without_limit(handle)  # only to learn the size to report
        except _PILLOW_ERRORS as exc:
            raise ImageReadError(path, f"not a readable image ({exc})") from exc
        with image:
            limit = _pixel_limit()
            width, height = image.size
            if not allow_large and limit is not None and width * height > limit:
                raise ImageTooLargeError(path, width, height, limit)
            yield image


def _orientation(image: Image.Image) -> int:
    """EXIF orientation (1-8; 1 when absent or broken), read without decoding pixels."""
    try:
        if image.format == "PNG":
            # Pillow's PNG getexif() decodes the whole image to look for a late eXIf chunk;
            # the PNG spec puts eXIf before the image data, where it is already in info.
            raw = image.info.get("exif")
            if not raw:
                return 1
            exif = Image.Exif()
            exif.load(raw)
        else:
            exif = image.getexif()
        value = int(exif.get(_ORIENTATION_TAG, 1))
    except Exception:  # a corrupt EXIF block must not make the image unreadable
        return 1
    return value if value in _TRANSPOSE else 1


def image_size(path: str | os.PathLike[str], *, allow_large: bool = True) -> tuple[int, int]:
    """(width, height) of the *upright* image, from the header and EXIF only (cheap).

    ``allow_large`` defaults to True here: knowing the size of a huge image is harmless.
    Raises ImageReadError if the file is not a readable image.
    """
    with _open(path, allow_large=allow_large) as image:
        width, height = image.size
        if _orientation(image) in (5, 6, 7, 8):
            width, height = height, width
        return width, height


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → RGB, same geometry (see the module docstring for the choices)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(image).astype(np.float64)
        gray = np.round(np.clip(values, 0, 65535) / 257.0).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        scaled = (np.nan_to_num(values, nan=lo) - lo) / (hi - lo if hi > lo else 1.0)
        gray = np.round(np.clip(scaled, 0, 1) * 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    return image.convert("RGB")


def read_image(path: str | os.PathLike[str], *, allow_large: bool = False) -> npt.NDArray[np.uint8]:
    """Decode an image file to an upright H×W×3 uint8 RGB array (C-contiguous).

    Raises ImageTooLargeError above Pillow's pixel limit (unless ``allow_large``) and
    ImageReadError for missing, unidentified, truncated or otherwise undecodable files.
    """
    with _open(path, allow_large=allow_large) as image:
        try:
            image.seek(0)
            orientation = _orientation(image)
            image.load()
            rgb = _to_rgb(image)
        except _PILLOW_ERRORS as exc:
            raise ImageReadError(path, f"the file is damaged or truncated ({exc})") from exc
        if orientation != 1:
            rgb = rgb.transpose(_TRANSPOSE[orientation])
        array = np.asarray(rgb, dtype=np.uint8)
    return np.ascontiguousarray(array)


def check_image(path: str | os.PathLike[str]) -> None:
    """Raise ImageReadError if ``read_image`` would refuse the file (missing, not an image,
    damaged or truncated); return None if it decodes. No size limit (exports use it).

    The same open and decode as ``read_image`` (so export and viewer agree on what is
    broken), but JPEGs are decoded at 1/8 scale (``draft``): libjpeg still reads every
    byte of the stream, so truncation is found, about 15× faster (6 ms for 12 MP).
    """
    with _open(path, allow_large=True) as image:
        try:
            image.seek(0)
            if image.format == "JPEG":
                image.draft("RGB", (max(image.width // 8, 1), max(image.height // 8, 1)))
            image.load()
        except _PILLOW_ERRORS as exc:
            raise ImageReadError(path, f"the file is damaged or truncated ({exc})") from exc


_DIGITS = re.compile(r"(\d+)")


def natural_sort_key(path: str) -> tuple[tuple[tuple[int, int | str], ...], ...]:
    """Sort key: per path component, digit runs compare as numbers ("img2" < "img10"),
    text case-insensitively."""
    return tuple(
        tuple(
            (0, int(piece)) if piece.isdigit() else (1, piece.casefold())
            for piece in _DIGITS.split(component)
            if piece
        )
        for component in path.split("/")
    )


def scan_images(
    folder: str | os.PathLike[str], recursive: bool = True, skipped: list[str] | None = None
) -> list[str]:
    """Image files in ``folder`` as POSIX paths relative to it, in natural order.

    Files are recognised by suffix (``IMAGE_EXTENSIONS``, case-insensitive); hidden files
    and folders (name starting with ".", e.g. the project's own ``.samdesk``) are skipped.
    Only regular files (or links to them) count: a FIFO, socket, device or dangling link
    with an image suffix is left out, and a message for the user saying so is appended
    to ``skipped`` if given.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        if recursive:
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        else:
            dirnames[:] = []
        relative = Path(dirpath).relative_to(root)
        for name in filenames:
            if name.startswith(".") or Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            path = (relative / name).as_posix()
            if not is_regular_file(Path(dirpath) / name):
                if skipped is not None:
                    skipped.append(f"skipped {path}: {_not_regular_reason(Path(dirpath) / name)}")
                continue
            found.append(path)
    return sorted(found, key=natural_sort_key)


def _not_regular_reason(path: Path) -> str:
    try:
        return f"not a regular file (it is {file_kind(path.stat().st_mode)})"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"


# Measured with benchmarks/bench_large_image_memory.py (open in the window + encode):
# 20.3, 20.2, 20.1 bytes per pixel at 25, 50, 100 MP; the fit's constant is ~7 MiB.
_OPEN_BYTES_PER_PIXEL = 20.2
_OPEN_BYTES_FIXED = 8 * 2**20


def open_memory_estimate(pixels: int) -> int:
    """Bytes of memory that showing and encoding an image of ``pixels`` needs at its peak.

    Linear fit of the measured peak resident memory (``bench_large_image_memory.py``):
    the window's RGB array and pixmap stay while the encoder decodes the file again and
    resizes it. The model's own memory (independent of the image) is not included.
    """
    return int(_OPEN_BYTES_PER_PIXEL * pixels + _OPEN_BYTES_FIXED)
