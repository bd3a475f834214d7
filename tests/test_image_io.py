"""Decoding: every common format and every kind of bad input, with drawn images only."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from recognizer.image_io import MIN_SIDE, WORK_MAX_SIDE, load_image
from recognizer.types import (
    CorruptImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    RecognitionError,
)


def pattern(width: int = 120, height: int = 80) -> np.ndarray:
    """A grey image whose orientation is unambiguous: dark top-left corner block."""
    image = np.full((height, width), 220, np.uint8)
    image[: height // 3, : width // 4] = 20
    cv2.circle(image, (width * 3 // 4, height * 2 // 3), height // 6, 90, -1)
    return image


def encode(image: np.ndarray, ext: str, *params: int) -> bytes:
    ok, buffer = cv2.imencode(ext, image, list(params))
    assert ok
    return buffer.tobytes()


def pil_bytes(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".bmp", ".tiff"])
def test_decodes_common_formats_to_grey(ext: str) -> None:
    image = pattern()
    colour = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    loaded = load_image(encode(colour, ext))
    assert loaded.image.dtype == np.uint8
    assert loaded.image.shape == image.shape
    assert loaded.original_size == (120, 80)
    assert loaded.scale == 1.0
    assert np.abs(loaded.image.astype(int) - image).mean() < 3


def test_path_and_array_inputs(tmp_path) -> None:
    image = pattern()
    path = tmp_path / "photo.png"
    path.write_bytes(encode(image, ".png"))
    assert np.array_equal(load_image(path).image, image)
    assert np.array_equal(load_image(str(path)).image, image)
    assert np.array_equal(load_image(image).image, image)
    bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    assert np.abs(load_image(bgr).image.astype(int) - image).max() <= 1


def test_missing_file_is_an_os_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "nope.jpg")


@pytest.mark.parametrize(
    "array",
    [
        pattern().astype(np.float32) / 255.0,
        pattern().astype(np.uint16) * 257,
        pattern() > 128,
        pattern()[:, :, None],
    ],
    ids=["float", "uint16", "bool", "one-channel"],
)
def test_array_types_become_uint8_grey(array: np.ndarray) -> None:
    loaded = load_image(array)
    assert loaded.image.dtype == np.uint8
    assert loaded.image.shape == (80, 120)
    # The dark block stays dark and the paper light, whatever the type.
    assert loaded.image[5, 5] < 60
    assert loaded.image[70, 10] > 200


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    image = Image.fromarray(pattern())
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = pil_bytes(image, "JPEG", quality=95, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L"))
    loaded = load_image(data)
    assert loaded.image.shape == expected.shape
    assert loaded.original_size == (expected.shape[1], expected.shape[0])
    assert np.abs(loaded.image.astype(int) - expected).mean() < 2


def test_alpha_is_composited_on_white() -> None:
    rgba = np.zeros((40, 40, 4), np.uint8)  # transparent black everywhere...
    rgba[10:30, 10:30] = (0, 0, 0, 255)  # ...but an opaque black square
    data = pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG")
    grey = load_image(data).image
    assert grey[0, 0] == 255
    assert grey[20, 20] == 0


def test_palette_transparency_is_composited_on_white() -> None:
    image = Image.new("P", (30, 30), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (10, 10, 20, 20))
    data = pil_bytes(image, "PNG", transparency=0)
    grey = load_image(data).image
    assert grey[0, 0] == 255
    assert grey[15, 15] < 100


def test_sixteen_bit_png_is_scaled_to_eight_bits() -> None:
    ramp = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    grey = load_image(encode(ramp, ".png")).image
    assert grey.dtype == np.uint8
    assert grey[0, 0] == 0
    assert grey[-1, -1] == int(ramp[-1, -1]) >> 8


def test_cmyk_jpeg() -> None:
    rgb = Image.fromarray(cv2.cvtColor(pattern(), cv2.COLOR_GRAY2RGB))
    data = pil_bytes(rgb.convert("CMYK"), "JPEG", quality=95)
    grey = load_image(data).image
    assert np.abs(grey.astype(int) - pattern()).mean() < 6


def test_animated_gif_gives_first_frame() -> None:
    first = Image.fromarray(pattern())
    second = Image.fromarray(255 - pattern())
    data = pil_bytes(first, "GIF", save_all=True, append_images=[second], duration=100)
    grey = load_image(data).image
    assert np.abs(grey.astype(int) - pattern()).mean() < 3


def test_large_jpeg_is_downscaled_early_with_its_scale() -> None:
    big = cv2.resize(pattern(), (4000, 3000), interpolation=cv2.INTER_NEAREST)
    loaded = load_image(encode(big, ".jpg", cv2.IMWRITE_JPEG_QUALITY, 90))
    assert max(loaded.image.shape) <= WORK_MAX_SIDE
    assert loaded.original_size == (4000, 3000)
    assert loaded.scale == pytest.approx(loaded.image.shape[1] / 4000, rel=1e-3)
    # The dark block keeps its place, in proportion.
    assert loaded.image[int(0.1 * loaded.image.shape[0]), int(0.1 * loaded.image.shape[1])] < 60


def test_large_png_is_downscaled() -> None:
    big = cv2.resize(pattern(), (2400, 1600), interpolation=cv2.INTER_NEAREST)
    loaded = load_image(encode(big, ".png"))
    assert loaded.image.shape == (1067, 1600)
    assert loaded.scale == pytest.approx(1600 / 2400, rel=1e-3)


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, this is text and not a photo", b"%PDF-1.4\n%....", bytes(range(256)) * 4],
    ids=["empty", "text", "pdf", "binary"],
)
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(NotAnImageError) as info:
        load_image(data)
    assert "image" in info.value.user_message.lower()


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tiff", ".bmp"])
def test_truncated_files_are_corrupt(ext: str) -> None:
    noisy = np.random.default_rng(1).integers(0, 255, (200, 300), dtype=np.uint8)
    data = encode(noisy, ext)
    with pytest.raises(CorruptImageError):
        load_image(data[: len(data) // 2])


def test_signature_alone_is_corrupt() -> None:
    with pytest.raises(CorruptImageError):
        load_image(b"\x89PNG\r\n\x1a\n")


def test_one_pixel_is_too_small() -> None:
    with pytest.raises(ImageTooSmallError):
        load_image(encode(np.zeros((1, 1), np.uint8), ".png"))
    with pytest.raises(ImageTooSmallError):
        load_image(np.zeros((MIN_SIDE - 1, 100), np.uint8))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int = 30000) -> bytes:
    """A valid 1-bit PNG of side x side black pixels: ~100 KB that inflate to 112 MB."""
    row = bytes(1 + side // 8)  # filter byte + packed pixels, all zero
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row * 1000) for _ in range(side // 1000)]
    chunks.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(chunks))
        + _png_chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_refused_before_decoding() -> None:
    data = png_bomb()
    assert len(data) < 200_000
    with pytest.raises(ImageTooLargeError):
        load_image(data)


def test_pixel_and_byte_caps_are_configurable() -> None:
    data = encode(pattern(), ".png")
    with pytest.raises(ImageTooLargeError):
        load_image(data, max_pixels=100 * 50)
    with pytest.raises(ImageTooLargeError):
        load_image(data, max_bytes=len(data) - 1)
    with pytest.raises(ImageTooLargeError):
        load_image(np.zeros((100, 100), np.uint8), max_pixels=5000)


def test_file_over_the_byte_cap_is_not_read(tmp_path) -> None:
    path = tmp_path / "huge.jpg"
    path.write_bytes(b"\xff\xd8\xff" + bytes(1000))
    with pytest.raises(ImageTooLargeError):
        load_image(path, max_bytes=500)


@pytest.mark.parametrize(
    "array", [np.zeros((5, 5, 2), np.uint8), np.zeros((4, 4, 4, 4), np.uint8)], ids=str
)
def test_arrays_that_are_not_images(array: np.ndarray) -> None:
    with pytest.raises(NotAnImageError):
        load_image(array)


def test_user_messages_are_friendly() -> None:
    for error in (NotAnImageError, CorruptImageError, ImageTooLargeError, ImageTooSmallError):
        message = error().user_message
        assert message and "Traceback" not in message and len(message) < 200


_JPEG = encode(pattern(64, 48), ".jpg", cv2.IMWRITE_JPEG_QUALITY, 80)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    position=st.integers(0, len(_JPEG) - 1),
    junk=st.binary(min_size=1, max_size=16),
    cut=st.integers(1, len(_JPEG)),
)
def test_fuzzed_jpegs_never_crash(position: int, junk: bytes, cut: int) -> None:
    data = (_JPEG[:position] + junk + _JPEG[position + len(junk) :])[:cut]
    try:
        loaded = load_image(data)
    except RecognitionError:
        return
    assert loaded.image.dtype == np.uint8 and loaded.image.ndim == 2


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_never_crash(data: bytes) -> None:
    with pytest.raises(RecognitionError):
        load_image(data)
