"""Phone-photo-like pictures of handwritten digits, made from MNIST test digits.

The end-to-end tests and the load benchmark need photos whose right answer is known:
MNIST test digits (never copied into the repository, read from MNIST_PATH) are scaled up,
turned into dark ink on slightly grey, noisy paper, laid out in a row and JPEG-encoded
like a phone camera would.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

DIGIT_SIZE = 96  # pixels per MNIST digit on the photo (MNIST's 28 px scaled up)
GAP = 24
MARGIN = 60
PAPER = 235
JPEG_QUALITY = 90


def load_mnist_test(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's test images and labels from an .npz file."""
    with np.load(path) as data:
        return data["x_test"], data["y_test"]


def pick_digits(
    images: np.ndarray, labels: np.ndarray, text: str, rng: np.random.Generator
) -> list[np.ndarray]:
    """One MNIST test image for each character of ``text`` (a string of digits).

    Only digits written in one connected stroke and narrower than tall are used: a broken
    "5" or a sprawling "2" is a fair test of the recognizer, but the end-to-end tests want
    photos whose answer is not in doubt.
    """
    chosen = []
    for char in text:
        if not char.isdigit():
            raise ValueError(f"only digits can be drawn, got {char!r}")
        candidates = np.flatnonzero(labels == int(char))
        while True:
            image = images[rng.choice(candidates)]
            if is_one_stroke(image) and is_upright(image):
                break
        chosen.append(image)
    return chosen


def is_upright(digit: np.ndarray, max_aspect: float = 0.8) -> bool:
    """True if the digit's ink is clearly taller than wide (never taken for two digits)."""
    _, _, width, height = cv2.boundingRect((digit >= 128).astype(np.uint8))
    return width <= max_aspect * height


def is_one_stroke(digit: np.ndarray) -> bool:
    """True if the digit's ink is a single 8-connected blob."""
    ink = (digit >= 128).astype(np.uint8)
    count, _ = cv2.connectedComponents(ink, connectivity=8)
    return count == 2  # the background and one stroke


def paper(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Slightly uneven grey paper with sensor noise (uint8, one channel)."""
    x = np.linspace(-1.0, 1.0, width)[None, :]
    y = np.linspace(-1.0, 1.0, height)[:, None]
    shading = PAPER - 12 * (x**2 + y**2) / 2
    noise = rng.normal(0.0, 3.0, size=(height, width))
    return np.clip(shading + noise, 0, 255).astype(np.uint8)


def compose(digits: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """The digits as dark ink in a row on paper (uint8, one channel)."""
    width = 2 * MARGIN + len(digits) * DIGIT_SIZE + max(0, len(digits) - 1) * GAP
    height = 2 * MARGIN + DIGIT_SIZE
    canvas = paper(width, height, rng)
    for i, digit in enumerate(digits):
        big = cv2.resize(digit, (DIGIT_SIZE, DIGIT_SIZE), interpolation=cv2.INTER_CUBIC)
        ink = 255 - big  # MNIST is white on black; paper is light, ink is dark
        x = MARGIN + i * (DIGIT_SIZE + GAP)
        y = MARGIN + int(rng.integers(-8, 9))
        region = canvas[y : y + DIGIT_SIZE, x : x + DIGIT_SIZE]
        np.minimum(region, ink, out=region)
    return canvas


def encode_jpeg(image: np.ndarray) -> bytes:
    colour = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image
    ok, encoded = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return encoded.tobytes()


def encode_png(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("OpenCV could not encode a PNG")
    return encoded.tobytes()


def digits_photo(
    images: np.ndarray, labels: np.ndarray, text: str, *, seed: int = 0, png: bool = False
) -> bytes:
    """A photo of ``text`` handwritten (JPEG, or PNG for an uncompressed image file)."""
    rng = np.random.default_rng(seed)
    image = compose(pick_digits(images, labels, text, rng), rng)
    return encode_png(image) if png else encode_jpeg(image)


def blank_photo(*, seed: int = 0, width: int = 640, height: int = 480) -> bytes:
    """A photo of empty paper: no digits to find."""
    return encode_jpeg(paper(width, height, np.random.default_rng(seed)))
