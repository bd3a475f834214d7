"""One digit crop -> the 28x28 image the network expects, made the way MNIST was made.

MNIST's recipe (LeCun et al.): crop to the ink, scale so that the longest side fits a
20x20 box keeping the aspect ratio, with anti-aliasing, then place the result in a 28x28
field so that its centre of mass sits at the centre. A network trained on MNIST has only
ever seen digits made that way, so every crop goes through exactly the same steps.

MNIST's pen also has a fairly constant stroke: about 9% of the box's longest side
(5th-95th percentile 6-14%). A pencil line in a large digit or a marker stroke in a small
one is far outside that, so the stroke is first thickened or thinned towards it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

SIZE = 28
BOX = 20
#: Stroke width over the longest side of the ink box, as in MNIST (median 0.092).
TARGET_STROKE = 0.095
#: Strokes thinner or thicker than these fractions of the longest side are corrected.
THIN_STROKE = 0.07
THICK_STROKE = 0.15
#: Large crops are shrunk to this longest side before the stroke is corrected: the
#: correction needs no more detail, and it keeps the morphology cheap.
WORK_SIDE = 96

_SQUARE3 = np.ones((3, 3), np.uint8)


def normalize(crop: np.ndarray) -> np.ndarray:
    """A crop (uint8, ink = 255, binary or grey) -> 28x28 uint8, MNIST style.

    Pixels at or above 128 count as ink. An empty crop gives an empty 28x28 image.
    """
    crop = np.asarray(crop, dtype=np.uint8)
    _, mask = cv2.threshold(crop, 127, 255, cv2.THRESH_BINARY)
    if not cv2.countNonZero(mask):
        return np.zeros((SIZE, SIZE), dtype=np.uint8)
    ink = _reduce(_crop_to_ink(mask))
    ink = normalize_stroke(ink)
    return _fit_and_centre(ink)


def normalize_batch(crops: Sequence[np.ndarray]) -> np.ndarray:
    """Many crops -> (N, 28, 28) uint8, ready for one ``Classifier.predict`` call."""
    out = np.zeros((len(crops), SIZE, SIZE), dtype=np.uint8)
    for index, crop in enumerate(crops):
        out[index] = normalize(crop)
    return out


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary mask: twice its area over its boundary length."""
    binary = np.asarray(mask, dtype=np.uint8)
    area = cv2.countNonZero(binary)
    if area == 0:
        return 0.0
    eroded = cv2.erode(binary, _SQUARE3, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    boundary = area - cv2.countNonZero(eroded)
    return 2.0 * area / max(boundary, 1)


def normalize_stroke(ink: np.ndarray) -> np.ndarray:
    """Thicken very thin strokes and thin very thick ones towards MNIST's pen."""
    longest = max(ink.shape)
    width = stroke_width(ink)
    ratio = width / longest
    if ratio < THIN_STROKE:
        grow = round(TARGET_STROKE * longest - width)
        if grow >= 1:
            pad = grow // 2 + 1
            padded = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
            return _crop_to_ink(cv2.dilate(padded, _disc(grow + 1)))
    elif ratio > THICK_STROKE:
        shrink = round(width - TARGET_STROKE * 1.15 * longest)
        if shrink >= 1:
            thinner = cv2.erode(
                ink, _disc(shrink + 1), borderType=cv2.BORDER_CONSTANT, borderValue=0
            )
            # Never erode a stroke away: keep the erosion only if most ink survives
            # the way a thinner pen would have drawn it.
            if cv2.countNonZero(thinner) and _crop_to_ink(thinner).shape[0] >= 0.8 * ink.shape[0]:
                return _crop_to_ink(thinner)
    return ink


def _reduce(ink: np.ndarray) -> np.ndarray:
    """Shrink a large crop to ``WORK_SIDE`` keeping thin strokes (coverage over 1/4)."""
    height, width = ink.shape
    longest = max(height, width)
    if longest <= WORK_SIDE:
        return ink
    scale = WORK_SIDE / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
    _, reduced = cv2.threshold(small, 63, 255, cv2.THRESH_BINARY)
    return _crop_to_ink(reduced) if cv2.countNonZero(reduced) else ink


def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    x, y, w, h = cv2.boundingRect(ink)
    if w == 0 or h == 0:
        return ink
    return ink[y : y + h, x : x + w]


def _disc(diameter: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (diameter, diameter))


def _fit_and_centre(ink: np.ndarray) -> np.ndarray:
    """Longest side to 20 px with area averaging, then centre of mass to the centre."""
    height, width = ink.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    box = cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
    out = np.zeros((SIZE, SIZE), dtype=np.uint8)
    moments = cv2.moments(box)
    if moments["m00"] <= 0:
        return out
    cy = moments["m01"] / moments["m00"]
    cx = moments["m10"] / moments["m00"]
    top = min(max(round(SIZE / 2 - cy), 0), SIZE - box.shape[0])
    left = min(max(round(SIZE / 2 - cx), 0), SIZE - box.shape[1])
    out[top : top + box.shape[0], left : left + box.shape[1]] = box
    return out
