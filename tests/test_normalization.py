"""MNIST-style normalization of one crop, on drawn shapes and on MNIST itself."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from recognizer.normalization import (
    BOX,
    SIZE,
    TARGET_STROKE,
    normalize,
    normalize_batch,
    stroke_width,
)


def ink_box(image: np.ndarray, level: int = 1) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(image >= level)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    moments = cv2.moments(image.astype(np.float32))
    return moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]


def ring(size: int, thickness: int, canvas: tuple[int, int] | None = None) -> np.ndarray:
    height, width = canvas or (size + 10, size + 10)
    image = np.zeros((height, width), np.uint8)
    cv2.ellipse(image, (width // 2, height // 2), (size // 3, size // 2), 0, 0, 360, 255, thickness)
    return image


def test_empty_crop_gives_an_empty_image() -> None:
    out = normalize(np.zeros((30, 20), np.uint8))
    assert out.shape == (SIZE, SIZE) and out.dtype == np.uint8 and not out.any()


def test_tall_shape_keeps_its_aspect_and_fits_twenty_pixels() -> None:
    crop = np.zeros((140, 60), np.uint8)
    cv2.rectangle(crop, (20, 10), (39, 129), 255, -1)  # a bar 20 wide, 120 tall
    out = normalize(crop)
    _, _, w, h = ink_box(out)
    assert h == BOX
    assert 2 <= w <= 5  # 20/120 of 20 px, plus anti-aliasing


def test_wide_shape_fits_twenty_pixels_across() -> None:
    crop = np.zeros((60, 200), np.uint8)
    cv2.ellipse(crop, (100, 30), (90, 20), 0, 0, 360, 255, 6)
    _, _, w, h = ink_box(normalize(crop))
    assert w == BOX
    assert 4 <= h <= 7  # 46/186 of 20 px


def test_centre_of_mass_is_at_the_centre() -> None:
    crop = np.zeros((100, 80), np.uint8)
    cv2.line(crop, (10, 5), (10, 95), 255, 8)  # an L: mass far from its box centre
    cv2.line(crop, (10, 95), (70, 95), 255, 8)
    cx, cy = centre_of_mass(normalize(crop))
    assert abs(cx - 14) <= 0.6
    assert abs(cy - 14) <= 0.6


def test_result_is_anti_aliased() -> None:
    out = normalize(ring(90, 7))
    values = np.unique(out)
    assert len(values) > 10  # grey edges, not a binary image
    assert out.max() == 255


def test_grey_and_binary_crops_agree() -> None:
    binary = ring(80, 6)
    grey = np.where(binary > 0, 200, 40).astype(np.uint8)
    assert np.array_equal(normalize(binary), normalize(grey))


@pytest.mark.parametrize("thickness", [1, 2, 30])
def test_stroke_width_is_brought_towards_mnist(thickness: int) -> None:
    """A pencil line and a fat marker both end up with a pen-like stroke."""
    out = normalize(ring(200, thickness, canvas=(260, 260)))
    width = stroke_width(out >= 128)
    assert TARGET_STROKE * BOX * 0.6 <= width <= TARGET_STROKE * BOX * 1.6


def test_stroke_width_of_a_drawn_line() -> None:
    mask = np.zeros((50, 200), np.uint8)
    cv2.line(mask, (20, 25), (180, 25), 255, 9)
    assert stroke_width(mask) == pytest.approx(9, rel=0.15)
    assert stroke_width(np.zeros((5, 5), np.uint8)) == 0.0


def test_batch_matches_single_crops() -> None:
    crops = [ring(60, 4), ring(120, 12), np.zeros((10, 10), np.uint8)]
    batch = normalize_batch(crops)
    assert batch.shape == (3, SIZE, SIZE) and batch.dtype == np.uint8
    for crop, out in zip(crops, batch, strict=True):
        assert np.array_equal(normalize(crop), out)
    assert normalize_batch([]).shape == (0, SIZE, SIZE)


def test_mnist_digits_survive_a_round_trip(mnist_test, classifier) -> None:
    """Upscaled, thresholded MNIST digits normalized again read as well as the originals.

    This is the check that the recipe is MNIST's: any difference in box size, centring
    or stroke would cost accuracy here.
    """
    images, labels = mnist_test
    images, labels = images[:600], labels[:600]
    baseline = (classifier.predict(images).argmax(axis=1) == labels).mean()
    crops = [
        np.where(cv2.resize(image, None, fx=5, fy=5, interpolation=cv2.INTER_LINEAR) >= 100, 255, 0)
        for image in images
    ]
    renormalized = normalize_batch([crop.astype(np.uint8) for crop in crops])
    accuracy = (classifier.predict(renormalized).argmax(axis=1) == labels).mean()
    assert accuracy >= baseline - 0.01
    assert accuracy >= 0.97
