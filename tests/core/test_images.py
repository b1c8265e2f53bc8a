"""Image reading: every Pillow mode to upright RGB, EXIF, size limits, broken files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from samdesk.core.images import (
    IMAGE_EXTENSIONS,
    ImageReadError,
    ImageTooLargeError,
    image_size,
    natural_sort_key,
    read_image,
    scan_images,
)

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
if not SAMPLES.is_dir():  # the tree may be checked out elsewhere; /work/shared is fixed
    SAMPLES = Path("/work/shared/samples")


def _gradient(w: int = 6, h: int = 4) -> np.ndarray:
    """H×W×3 uint8 with distinct, asymmetric values so flips and rotations show."""
    yy, xx = np.mgrid[:h, :w]
    return np.stack([xx * 40, yy * 60, (xx + yy * w) * 9], axis=-1).astype(np.uint8)


def test_exif_rotated_sample_is_upright_and_matches_the_plain_one() -> None:
    rotated = SAMPLES / "dog_exif_orientation6.jpg"
    assert image_size(rotated) == (800, 534)
    upright = read_image(rotated)
    plain = read_image(SAMPLES / "dog.jpg")
    assert upright.shape == plain.shape == (534, 800, 3)
    assert upright.dtype == np.uint8 and upright.flags.c_contiguous
    # Same picture (JPEG re-encoding differs a little), not a rotated or mirrored one.
    diff = np.abs(upright.astype(int) - plain.astype(int)).mean()
    mirrored = np.abs(upright[:, ::-1].astype(int) - plain.astype(int)).mean()
    assert diff < 3 < mirrored


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / f"o{orientation}.png"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(_gradient()).save(path, exif=exif)
    with Image.open(path) as image:
        expected = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    got = read_image(path)
    assert np.array_equal(got, expected)
    assert image_size(path) == (got.shape[1], got.shape[0])


def _save(tmp_path: Path, image: Image.Image, name: str, **kwargs: object) -> Path:
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def test_grey_palette_bilevel_and_cmyk(tmp_path: Path) -> None:
    rgb = Image.fromarray(_gradient())
    grey = rgb.convert("L")
    cases = {
        "l.png": grey,
        "one.png": rgb.convert("1"),
        "p.png": rgb.convert("P"),
        "cmyk.tif": rgb.convert("CMYK"),
        "cmyk.jpg": rgb.convert("CMYK"),
        "rgb.bmp": rgb,
        "rgb.webp": rgb,
    }
    for name, image in cases.items():
        path = _save(tmp_path, image, name, **({"lossless": True} if "webp" in name else {}))
        got = read_image(path)
        assert got.shape == (4, 6, 3) and got.dtype == np.uint8, name
        if name in ("l.png", "one.png", "p.png", "rgb.bmp", "rgb.webp", "cmyk.tif"):
            assert np.array_equal(got, np.asarray(image.convert("RGB"))), name
    assert np.array_equal(read_image(tmp_path / "l.png")[..., 0], np.asarray(grey))


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red stays red
    rgba[0, 1] = (0, 0, 0, 0)  # transparent black becomes white
    rgba[1, 0] = (0, 0, 255, 128)  # half-transparent blue: blended with white
    path = _save(tmp_path, Image.fromarray(rgba), "a.png")
    got = read_image(path)
    assert got[0, 0].tolist() == [255, 0, 0]
    assert got[0, 1].tolist() == [255, 255, 255]
    assert got[1, 0, 2] == 255 and 120 < got[1, 0, 0] < 135
    la = Image.fromarray(rgba[..., [0, 3]].copy())
    assert read_image(_save(tmp_path, la, "la.png"))[0, 1].tolist() == [255, 255, 255]
    palette = Image.fromarray(np.array([[0, 1]], dtype=np.uint8)).convert("P")
    palette.putpalette([0, 0, 0, 10, 20, 30])
    path = _save(tmp_path, palette, "pt.png", transparency=0)
    assert read_image(path).tolist() == [[[255, 255, 255], [10, 20, 30]]]


def test_sixteen_bit_and_float_are_scaled_to_8_bit(tmp_path: Path) -> None:
    values = np.array([[0, 257, 65535], [1000, 30000, 65280]], dtype=np.uint16)
    path = _save(tmp_path, Image.fromarray(values), "g16.png")
    got = read_image(path)
    assert got.shape == (2, 3, 3)
    assert got[..., 0].tolist() == [[0, 1, 255], [4, 117, 254]]
    as_int = Image.fromarray(values.astype(np.int32))
    assert np.array_equal(read_image(_save(tmp_path, as_int, "i32.tif")), got)
    floats = Image.fromarray(np.array([[-1.0, 0.0, 1.0]], dtype=np.float32))
    assert read_image(_save(tmp_path, floats, "f.tif"))[0, :, 0].tolist() == [0, 128, 255]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width×height but carries almost no data (a bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_huge_image_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(30_000, 30_000))
    assert image_size(path) == (30_000, 30_000)  # the size alone is harmless and cheap
    with pytest.raises(
        ImageTooLargeError, match=r"30000×30000.*Open anyway.*--allow-large"
    ) as info:
        read_image(path)
    assert info.value.path == str(path) and info.value.width == 30_000
    # Allowed, it gets past the limit and then fails on the missing data, not on the size.
    with pytest.raises(ImageReadError) as info2:
        read_image(path, allow_large=True)
    assert not isinstance(info2.value, ImageTooLargeError)


def test_limit_follows_pillow_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path, Image.fromarray(_gradient(20, 10)), "small.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ImageTooLargeError):
        read_image(path)
    assert read_image(path, allow_large=True).shape == (10, 20, 3)
    assert Image.MAX_IMAGE_PIXELS == 100  # the temporary lift was undone


def test_truncated_missing_and_garbage_files(tmp_path: Path) -> None:
    data = (SAMPLES / "dog.jpg").read_bytes()
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.jpg.*(damaged|truncated)"):
        read_image(truncated)
    png = tmp_path / "cut.png"
    Image.fromarray(_gradient(64, 64)).save(png)
    png.write_bytes(png.read_bytes()[:80])
    with pytest.raises(ImageReadError):
        read_image(png)
    garbage = tmp_path / "text.jpg"
    garbage.write_text("not an image")
    with pytest.raises(ImageReadError, match="not a readable image") as info:
        image_size(garbage)
    assert info.value.path == str(garbage)
    with pytest.raises(ImageReadError, match="file not found"):
        read_image(tmp_path / "missing.png")


def test_scan_images_natural_order_recursive_and_hidden(tmp_path: Path) -> None:
    names = ["img10.jpg", "img2.JPG", "img1.png", "b/x.tif", "a/c/y.webp", "notes.txt"]
    names += [".hidden.png", ".samdesk/cache.png", "a/Img3.jpeg"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert scan_images(tmp_path, recursive=False) == ["img1.png", "img2.JPG", "img10.jpg"]
    assert scan_images(tmp_path, recursive=True) == [
        "a/c/y.webp",
        "a/Img3.jpeg",
        "b/x.tif",
        "img1.png",
        "img2.JPG",
        "img10.jpg",
    ]
    assert {".jpg", ".png", ".tif", ".tiff", ".webp", ".bmp"} <= IMAGE_EXTENSIONS
    assert natural_sort_key("a9") < natural_sort_key("a10")
    with pytest.raises(NotADirectoryError):
        scan_images(tmp_path / "img1.png")


def test_check_image_agrees_with_read_image(tmp_path) -> None:
    """Export's check refuses exactly what the viewer's read_image refuses."""
    import io

    import pytest
    from PIL import Image as PILImage

    from samdesk.core.images import ImageReadError, check_image, read_image

    files = {}
    for name, fmt in (("a.jpg", "JPEG"), ("b.png", "PNG")):
        buffer = io.BytesIO()
        gradient = np.tile(np.arange(256, dtype=np.uint8), (64, 1))
        PILImage.fromarray(gradient).convert("RGB").save(buffer, fmt)
        files[name] = buffer.getvalue()
        files["cut-" + name] = buffer.getvalue()[: len(buffer.getvalue()) * 2 // 3]
    files["text.png"] = b"not an image"
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    for name in [*files, "missing.png"]:
        try:
            read_image(tmp_path / name)
            viewer_ok = True
        except ImageReadError:
            viewer_ok = False
        if viewer_ok:
            check_image(tmp_path / name)
        else:
            with pytest.raises(ImageReadError):
                check_image(tmp_path / name)
        assert viewer_ok == (name in ("a.jpg", "b.png")), name
