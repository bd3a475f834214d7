"""Decode whatever a person sends into one oriented, downscaled grey image.

The checks run from cheapest to dearest so that bad input is rejected before it costs
anything: the byte size first, then the header (format and dimensions, read by Pillow
without decoding a pixel, which is what stops decompression bombs such as a few-KB PNG
that claims 30000x30000 pixels), then the decode itself. OpenCV decodes the common formats
(it is several times faster than Pillow and can decode JPEG at 1/2, 1/4 or 1/8 scale, which
is how a 12-megapixel photo costs little more than a small one); Pillow is the fallback
for what OpenCV refuses. EXIF orientation is read from the header and applied here, the
same way for every format.

The recognizer works in grey: segmentation needs only brightness, and decoding a JPEG's
luma plane alone takes about half the time of a colour decode.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .types import CorruptImageError, ImageTooLargeError, ImageTooSmallError, NotAnImageError

#: Largest file accepted; a phone photo is 2-8 MB, Telegram documents are capped at 20 MB.
MAX_BYTES = 25 * 1024 * 1024
#: Largest image accepted (width x height), checked from the header before decoding.
MAX_PIXELS = 50_000_000
#: Narrowest side that can still hold a readable digit (an MNIST digit is 28x28).
MIN_SIDE = 8
#: Longest side of the image the recognizer works on; a digit string photographed at any
#: usual distance still has digits tens of pixels tall at this size.
WORK_MAX_SIDE = 1600

#: Formats Pillow may open. Others it knows (EPS runs Ghostscript, for one) are refused.
ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "DIB", "TIFF", "GIF", "AVIF", "PPM")

#: Leading bytes of image formats: a file that starts like an image but cannot be read
#: is reported as damaged rather than as "not an image".
_SIGNATURES = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",  # TIFF, little endian
    b"MM\x00*",  # TIFF, big endian
)

_EXIF_ORIENTATION = 0x0112

ImageSource = bytes | bytearray | memoryview | str | PathLike[str] | np.ndarray


@dataclass(frozen=True, slots=True)
class LoadedImage:
    """A decoded photo, oriented, in grey, downscaled to at most ``WORK_MAX_SIDE``."""

    #: uint8 (H, W) grey image the recognizer works on.
    image: np.ndarray
    #: (width, height) of the oriented photo at full resolution; boxes are reported in it.
    original_size: tuple[int, int]
    #: ``image`` pixels per original pixel (1.0 when no downscaling was needed).
    scale: float


@dataclass(frozen=True, slots=True)
class _Header:
    format: str
    width: int  # as stored, before orientation
    height: int
    orientation: int
    has_alpha: bool


def load_image(
    source: ImageSource,
    *,
    max_side: int = WORK_MAX_SIDE,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
) -> LoadedImage:
    """Decode bytes, a file path or an array into a ``LoadedImage``.

    Arrays are taken as already oriented, in OpenCV's channel order (grey, BGR or BGRA).
    Raises NotAnImageError, CorruptImageError, ImageTooLargeError or ImageTooSmallError;
    a missing file raises the usual OSError, since that is the caller's mistake.
    """
    if isinstance(source, np.ndarray):
        grey = array_to_grey(source, max_pixels=max_pixels)
        return _downscale(grey, max_side)
    if isinstance(source, str | PathLike):
        data = _read_file(Path(source), max_bytes)
    elif isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        raise TypeError(f"expected bytes, a path or an array, got {type(source).__name__}")
    return decode_bytes(data, max_side=max_side, max_pixels=max_pixels, max_bytes=max_bytes)


def decode_bytes(
    data: bytes,
    *,
    max_side: int = WORK_MAX_SIDE,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_BYTES,
) -> LoadedImage:
    """Decode an encoded image file held in memory; see ``load_image``."""
    if not data:
        raise NotAnImageError("empty input")
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"{len(data)} bytes is more than the {max_bytes} accepted")
    header = _read_header(data)
    _check_dimensions(header.width, header.height, max_pixels)
    grey, decoded_scale = _decode(data, header, max_side)
    grey = _apply_orientation(grey, header.orientation)
    if header.orientation in (5, 6, 7, 8):
        original_size = (header.height, header.width)
    else:
        original_size = (header.width, header.height)
    loaded = _downscale(grey, max_side)
    return LoadedImage(
        image=loaded.image,
        original_size=original_size,
        scale=loaded.scale * decoded_scale,
    )


def array_to_grey(array: np.ndarray, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any image array (grey, BGR, BGRA; uint8, uint16, float or bool) -> uint8 grey."""
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise NotAnImageError(f"an array of shape {array.shape} is not an image")
    height, width = array.shape[:2]
    _check_dimensions(width, height, max_pixels)
    image = _to_uint8(array)
    if image.ndim == 3:
        if image.shape[2] == 4:
            return _composite_on_white(image)
        if image.shape[2] == 3:
            return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        image = image[:, :, 0]
    return np.ascontiguousarray(image)


def downscale_to(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink so that the longest side is at most ``max_side``; returns (image, scale)."""
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return image, 1.0
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Area averaging is the right filter for shrinking, but slow for uneven factors;
    # bilinear is as good when shrinking by less than half, and much faster.
    interpolation = cv2.INTER_AREA if scale <= 0.5 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interpolation), size[0] / width


def _read_file(path: Path, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size > max_bytes:
        raise ImageTooLargeError(f"{path} is {size} bytes, more than the {max_bytes} accepted")
    return path.read_bytes()


def _read_header(data: bytes) -> _Header:
    """Format, stored size, EXIF orientation and alpha, without decoding pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns of odd EXIF, bombs we check
            with Image.open(io.BytesIO(data), formats=_pillow_formats()) as image:
                width, height = image.size
                orientation = _orientation(image)
                has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
                    "transparency" in image.info
                )
                return _Header(image.format or "", width, height, orientation, has_alpha)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(str(exc)) from exc
    except UnidentifiedImageError as exc:
        if data.startswith(_SIGNATURES) or data[8:12] == b"WEBP":
            raise CorruptImageError(f"damaged image header: {exc}") from exc
        raise NotAnImageError("not a recognised image format") from exc
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise CorruptImageError(f"damaged image header: {exc}") from exc


@functools.cache
def _pillow_formats() -> tuple[str, ...]:
    """The allowed formats this Pillow build can open (it has no plugin for some)."""
    Image.init()
    return tuple(name for name in ALLOWED_FORMATS if name in Image.OPEN)


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a damaged EXIF block must not cost the photo
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _check_dimensions(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{width}x{height} is more than the {max_pixels} pixels accepted",
        )
    if min(width, height) < MIN_SIDE:
        raise ImageTooSmallError(f"{width}x{height} is smaller than {MIN_SIDE}x{MIN_SIDE}")


def _decode(data: bytes, header: _Header, max_side: int) -> tuple[np.ndarray, float]:
    """Grey uint8 pixels as stored (not yet oriented) and the scale they were decoded at."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    scale = 1.0
    if header.has_alpha:
        flags = cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION
    else:
        flags, scale = _grey_flags(header, max_side)
    try:
        decoded = cv2.imdecode(buffer, flags)
    except cv2.error:
        decoded = None
    if decoded is None or decoded.size == 0:
        return _decode_with_pillow(data), 1.0
    if header.has_alpha or decoded.ndim == 3 or decoded.dtype != np.uint8:
        return array_to_grey(decoded, max_pixels=decoded.size), 1.0
    if scale != 1.0:
        scale = decoded.shape[1] / header.width  # the DCT scale rounds sizes up
    return decoded, scale


def _grey_flags(header: _Header, max_side: int) -> tuple[int, float]:
    """Decode a large JPEG at the coarsest DCT scale that still covers ``max_side``."""
    flags = cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION
    if header.format not in ("JPEG", "MPO"):
        return flags, 1.0
    longest = max(header.width, header.height)
    for factor, reduced in (
        (8, cv2.IMREAD_REDUCED_GRAYSCALE_8),
        (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
        (2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
    ):
        if longest / factor >= max_side:
            return reduced | cv2.IMREAD_IGNORE_ORIENTATION, 1.0 / factor
    return flags, 1.0


def _decode_with_pillow(data: bytes) -> np.ndarray:
    """The fallback decoder: the first frame, alpha composited on white, in grey."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns of odd EXIF, bombs we check
            with Image.open(io.BytesIO(data), formats=_pillow_formats()) as image:
                image.seek(0)
                if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                    array = np.asarray(image)
                    return array_to_grey(array, max_pixels=array.size)
                rgba = image.convert("RGBA")
                array = np.asarray(rgba)[:, :, [2, 1, 0, 3]]
                return _composite_on_white(np.ascontiguousarray(array))
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise CorruptImageError(f"cannot decode the image: {exc}") from exc


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        finite = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        top = 255.0 if finite.size and float(finite.max()) > 1.0 else 1.0
        return np.clip(finite * (255.0 / top), 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        top = int(array.max()) if array.size else 0
        if top > 255:  # wider integers (Pillow's mode "I"): keep the used range
            return (array.astype(np.float64) * (255.0 / top)).astype(np.uint8)
        return np.clip(array, 0, 255).astype(np.uint8)
    raise NotAnImageError(f"an array of type {array.dtype} is not an image")


def _composite_on_white(bgra: np.ndarray) -> np.ndarray:
    """Transparent parts become white paper, which is what a viewer shows."""
    grey = cv2.cvtColor(np.ascontiguousarray(bgra[:, :, :3]), cv2.COLOR_BGR2GRAY)
    alpha = bgra[:, :, 3].astype(np.float32) * (1.0 / 255.0)
    out = grey.astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright as EXIF orientation 1-8 says."""
    if orientation == 2:
        return cv2.flip(image, 1)
    if orientation == 3:
        return cv2.rotate(image, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(image, 0)
    if orientation == 5:
        return cv2.transpose(image)
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.rotate(cv2.transpose(image), cv2.ROTATE_180)
    if orientation == 8:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return image


def _downscale(grey: np.ndarray, max_side: int) -> LoadedImage:
    height, width = grey.shape[:2]
    small, scale = downscale_to(grey, max_side)
    return LoadedImage(image=small, original_size=(width, height), scale=scale)


# Register Pillow's plugins now, in the importing thread: Pillow fills its registry lazily
# and not atomically, and two worker threads opening their first image at once can see a
# half-filled one (KeyError: 'MPO').
_pillow_formats()
