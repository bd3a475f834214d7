"""Ink from a grey photo: the paper's brightness, how far each pixel departs from it, and
the binary ink mask (steps 1-3 of ``segmentation``), as pure functions over arrays.

1. ``estimate_background``: paper (or board) brightness everywhere, and the polarity
   (dark pen on paper or light chalk on a board), on a small copy of the image; with a
   wider kernel for fat strokes (``fitted_background``).
2. ``contrast_map``: how far each pixel departs from its background, relative to the
   background's brightness, so that a shadow, which dims paper and ink alike, changes
   nothing.
3. ``binarize``: Otsu on the contrast above a floor and above the local noise (a blank
   page or a noisy shadow is not ink), grown by hysteresis into faint parts of strokes.

``working_shrink`` says how far a photo of large digits can be shrunk first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: Longest side of the coarse copy the background and the polarity are computed on.
COARSE_SIDE = 640
#: Strokes up to this fraction of the image's longest side are told from the background.
STROKE_KERNEL = 0.04
#: Strokes wider than this fraction of the background kernel call for a wider kernel...
THICK_STROKE_FRACTION = 0.5
#: ...of at most this fraction of the image's longest side.
MAX_STROKE_KERNEL = 0.15
#: Light ink (chalk) is confirmed with a kernel this wide too (see ``fitted_background``).
WIDE_STROKE_KERNEL = 0.12
#: Digits this tall (pixels) are plenty for a 28x28 input (MNIST's digits are 20 px);
#: an image of larger ones is shrunk by a whole factor that keeps them this tall.
WORK_DIGIT_HEIGHT = 96
#: Paper whose brightness varies less than this (standard deviation, grey levels) is
#: evenly lit enough to be split from the ink by brightness alone: light falling off
#: across a phone photo's frame spreads it over 10-15 levels.
EVEN_PAPER_SPREAD = 16.0
#: Light ink (chalk) is chosen only when it outweighs dark ink by this factor: paper
#: is far more common, and a near tie should not flip the reading.
LIGHT_INK_MARGIN = 1.3
#: Darkest paper brightness that contrast is measured against (see ``contrast_map``).
DARK_FLOOR = 96
#: Contrast (0-255 = 0-100% of the background brightness) below which nothing is ink.
MIN_CONTRAST = 28
#: Ink must stand this many noise deviations above the local noise level (strong
#: pixels) or this many (faint pixels joining a stroke).
STRONG_SIGMAS = 5.0
WEAK_SIGMAS = 3.0
#: Noise statistics: a strided copy of about this longest side, windows of this
#: fraction of it.
NOISE_GRID_SIDE = 160
NOISE_WINDOW = 0.25
#: Hysteresis: pixels at least this fraction of the threshold join a stroke they touch.
WEAK_FRACTION = 0.6


def coarse_copy(grey: np.ndarray, longest: int = COARSE_SIDE) -> np.ndarray:
    """The image shrunk by a whole factor (area averaging, which OpenCV does fastest
    for whole factors) so that its longest side is at most about ``longest``."""
    return shrink(grey, math.ceil(max(grey.shape) / longest - 0.05))


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Area-average ``image`` down by a whole ``factor`` (1: unchanged)."""
    if factor <= 1:
        return image
    height, width = image.shape[:2]
    size = (max(1, width // factor), max(1, height // factor))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True, slots=True)
class Background:
    """Paper (or board) brightness under either polarity, and the polarity.

    Held at the coarse scale it was computed at (it varies slowly) and scaled up to
    whatever size the contrast is wanted at.
    """

    #: Brightness with dark thin structures (pen, pencil) closed over.
    under_dark_ink: np.ndarray
    #: Brightness with light thin structures (chalk) opened away.
    under_light_ink: np.ndarray
    dark_ink: bool
    #: The ink contrast of the coarse copy (see ``contrast_map``).
    coarse_contrast: np.ndarray
    #: Image pixels per coarse pixel.
    factor: float

    def paper(self, shape: tuple[int, int]) -> np.ndarray:
        """The background of the ink's polarity, at ``shape``."""
        coarse = self.under_dark_ink if self.dark_ink else self.under_light_ink
        return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def estimate_background(grey: np.ndarray, kernel_fraction: float = STROKE_KERNEL) -> Background:
    """Paper brightness under either polarity of ink, and the polarity, at coarse scale.

    A morphological closing removes dark structures thinner than its kernel (strokes)
    but keeps the edges of large ones (the table around a page, a shadow), so the
    background follows those edges instead of smearing them into fake ink. The
    polarity test weighs thin dark structures against thin light ones, each after
    first removing the other kind (an alternating filter), so that the light squares
    between the dark lines of squared paper do not count as light strokes.
    """
    small = coarse_copy(grey)
    size = max(3, round(kernel_fraction * max(small.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    # Replicated margins make whatever touches the border (the table, a shadow) extend
    # beyond it, so the closing does not mistake a narrow strip of table for a stroke.
    pad = size
    padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    closed_padded = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, kernel)
    opened_padded = cv2.morphologyEx(padded, cv2.MORPH_OPEN, kernel)
    dark_ridges = cv2.subtract(
        cv2.morphologyEx(opened_padded, cv2.MORPH_CLOSE, kernel), opened_padded
    )[pad:-pad, pad:-pad]
    light_ridges = cv2.subtract(
        closed_padded, cv2.morphologyEx(closed_padded, cv2.MORPH_OPEN, kernel)
    )[pad:-pad, pad:-pad]
    closed = closed_padded[pad:-pad, pad:-pad]
    opened = opened_padded[pad:-pad, pad:-pad]
    floor = 8  # grey levels: JPEG noise and paper texture stay below it
    dark_mass = cv2.sumElems(cv2.subtract(dark_ridges, floor))[0]
    light_mass = cv2.sumElems(cv2.subtract(light_ridges, floor))[0]
    dark = bool(light_mass <= LIGHT_INK_MARGIN * dark_mass)
    return Background(
        under_dark_ink=closed,
        under_light_ink=opened,
        dark_ink=dark,
        coarse_contrast=_relative_contrast(small, closed if dark else opened, dark),
        factor=max(grey.shape) / max(small.shape),
    )


def contrast_map(grey: np.ndarray, background: Background) -> np.ndarray:
    """uint8 ink strength: 255 means the stroke departs 100% from its background."""
    return _relative_contrast(grey, background.paper(grey.shape), background.dark_ink)


def _relative_contrast(grey: np.ndarray, paper: np.ndarray, dark_ink: bool) -> np.ndarray:
    if dark_ink:
        depth = cv2.subtract(paper, grey)
        # Relative to the paper's brightness, but not below a floor: in the darkest
        # corners (a table, a deep shadow) noise would otherwise look like ink.
        return cv2.divide(depth, cv2.max(paper, DARK_FLOOR), scale=255.0)
    depth = cv2.subtract(grey, paper)
    # Chalk is measured against the room left above the board (at least a fixed
    # amount), so a dark board in a shadow still gives chalk a full-strength stroke.
    room = cv2.max(cv2.subtract(np.full_like(paper, 255), paper), 60)
    return cv2.divide(depth, room, scale=255.0)


def ink_levels(contrast: np.ndarray, min_contrast: int = MIN_CONTRAST) -> tuple[int, int]:
    """(strong, weak) contrast levels: Otsu above a floor, and the hysteresis level."""
    otsu, _ = cv2.threshold(contrast, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    strong = max(int(otsu), min_contrast)
    weak = max(round(strong * WEAK_FRACTION), round(min_contrast * 0.75))
    return strong, weak


def label_components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components with their boxes and areas (``CC_STAT_*`` columns).

    The block-based algorithm computes the statistics about twice as fast as
    OpenCV's default on ink masks.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        mask, 8, cv2.CV_32S, cv2.CCL_BBDT
    )
    return count, labels, stats


def touches_border(stats: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Which components (``label_components`` rows) touch the image's border."""
    height, width = shape[:2]
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    right = x + stats[:, cv2.CC_STAT_WIDTH]
    bottom = y + stats[:, cv2.CC_STAT_HEIGHT]
    return (x <= 0) | (y <= 0) | (right >= width) | (bottom >= height)


def component_mask(labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """uint8 mask (255) of the components whose entry in ``keep`` is true."""
    # Every label is in range: "clip" skips the bounds check the default mode pays for.
    return np.take(np.where(keep, 255, 0).astype(np.uint8), labels, mode="clip")


def noise_floors(contrast: np.ndarray, levels: tuple[tuple[float, int], ...]) -> list[np.ndarray]:
    """Per-pixel contrast that noise alone reaches: for each (sigmas, level), the local
    median + ``sigmas`` deviations, and at least ``level``.

    Noise is far from even across a photo: a shadow or a dark corner is several times
    noisier (relative to its brightness) than lit paper. Robust local statistics (a
    median and a median absolute deviation, which ignore the sparse ink) on a strided
    copy, which keeps the pixel-level noise that area averaging would remove.
    """
    height, width = contrast.shape
    step = max(1, round(max(height, width) / NOISE_GRID_SIDE))
    # Ink is capped at the highest level first: where a digit fills most of a window
    # (a photo cropped to one thick digit), its strokes would otherwise be the "noise"
    # that they must stand out from.
    cap = max(level for _, level in levels)
    sample = np.minimum(contrast[::step, ::step], np.uint8(min(cap, 255)))
    window = max(3, round(NOISE_WINDOW * max(sample.shape)) | 1)
    median = cv2.medianBlur(sample, window)
    spread = cv2.medianBlur(cv2.absdiff(sample, median), window)
    floors = []
    for sigma, level in levels:
        floor = cv2.max(cv2.add(median, cv2.multiply(spread, 1.4826 * sigma)), level)
        # Noise statistics vary slowly; the nearest sample is close enough, and quick.
        floors.append(cv2.resize(floor, (width, height), interpolation=cv2.INTER_NEAREST))
    return floors


@dataclass(frozen=True, slots=True)
class InkMask:
    """The ink's connected components (from the hysteresis step), and its mask on demand.

    The kept components' labels are all most steps read; the mask of the kept
    components alone costs a pass over every label of the image, so it is made only
    for a step that needs the pixels themselves (``mask``).
    """

    #: Every faint component, those without a strong pixel too: as good as ``mask()``
    #: to a step that reads only the kept components' labels.
    faint: np.ndarray
    labels: np.ndarray
    #: ``cv2.connectedComponentsWithStats`` rows; components that were not kept have
    #: zero area and size.
    stats: np.ndarray
    #: Whether each label is ink (label 0, the paper, is not).
    kept: np.ndarray
    #: The (strong, weak) contrast levels of ``ink_levels``.
    levels: tuple[int, int]

    def mask(self) -> np.ndarray:
        """uint8 mask (255) of the kept components alone."""
        if self.kept[1:].all():
            return self.faint
        return component_mask(self.labels, self.kept)


def binarize_components(contrast: np.ndarray, min_contrast: int = MIN_CONTRAST) -> InkMask:
    """The ink: strong pixels, plus faint pixels connected to them.

    Strong: above Otsu's level (at least ``min_contrast``) and well above the local
    noise. Faint: above the hysteresis level and above the local noise. The faint
    mask's connected components that hold a strong pixel are the ink.
    """
    levels = ink_levels(contrast, min_contrast)
    strong_floor, weak_floor = noise_floors(
        contrast, ((STRONG_SIGMAS, levels[0]), (WEAK_SIGMAS, levels[1]))
    )
    strong = cv2.compare(contrast, strong_floor, cv2.CMP_GE)
    if not cv2.countNonZero(strong):
        empty = np.zeros_like(contrast)
        labels = np.zeros(contrast.shape, np.int32)
        return InkMask(empty, labels, np.zeros((1, 5), np.int32), np.zeros(1, bool), levels)
    weak = cv2.compare(contrast, weak_floor, cv2.CMP_GE)
    count, labels, stats = label_components(weak)
    kept = np.bincount(labels[strong > 0], minlength=count) > 0
    kept[0] = False
    stats[~kept, :] = 0
    return InkMask(weak, labels, stats, kept, levels)


def binarize(contrast: np.ndarray, min_contrast: int = MIN_CONTRAST) -> np.ndarray:
    """The ink mask alone (uint8, 255 = ink); see ``binarize_components``."""
    return binarize_components(contrast, min_contrast).mask()


def fitted_background(grey: np.ndarray) -> Background:
    """The background, estimated with a kernel that suits the strokes of this photo.

    The kernel must be wider than the strokes but narrower than smudges and shadows:
    the default suits pens and pencils at any usual distance. When the strokes turn out
    thick for it (a marker, close up), the background is estimated again with a kernel
    two strokes wide. Light ink is taken only if a wide kernel agrees.
    """
    background = estimate_background(grey)
    if not background.dark_ink:
        # Strokes thicker than the kernel are no thin structure of either kind: a photo
        # cropped to one marker digit would be read as chalk (its paper's noise as the
        # chalk). Light ink must still win with a kernel wide enough for such strokes.
        wide = estimate_background(grey, WIDE_STROKE_KERNEL)
        if wide.dark_ink:
            background = wide
    width = thick_stroke_width(background, grey)
    if width > THICK_STROKE_FRACTION * STROKE_KERNEL * max(grey.shape):
        fraction = min(MAX_STROKE_KERNEL, 2.0 * width / max(grey.shape))
        background = estimate_background(grey, fraction)
    return background


def ink_contrast(grey: np.ndarray, background: Background | None = None) -> np.ndarray:
    """Steps 1-2: the contrast map of a grey image, either polarity."""
    if background is None:
        background = fitted_background(grey)
    return contrast_map(grey, background)


def ink_mask(grey: np.ndarray) -> np.ndarray:
    """Steps 1-3: the binary ink mask (255 = ink) of a grey image, either polarity."""
    return binarize(ink_contrast(grey))


def thick_stroke_width(background: Background, grey: np.ndarray | None = None) -> float:
    """Width (pixels of the image the background was estimated on) of the thickest
    strokes: the 95th percentile of twice the distance to the nearest paper, over the
    ink of the coarse copy (thin lines and specks, which would pull a mean down, do not
    matter to a high percentile).

    Strokes much wider than the background kernel come out hollow in the contrast (the
    kernel could not close over them), so the plain grey image, split by Otsu, is asked
    too when the paper is evenly lit (a scan, a drawing program, a photo cropped to its
    digits) and the ink sparse.
    """
    small = background.coarse_contrast
    strong, _ = ink_levels(small)
    masks = [cv2.threshold(small, strong - 1, 255, cv2.THRESH_BINARY)[1]]
    if grey is not None and background.dark_ink:
        coarse = coarse_copy(grey)
        _, split = cv2.threshold(coarse, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
        _, spread = cv2.meanStdDev(coarse, mask=cv2.bitwise_not(split))
        if cv2.countNonZero(split) < 0.2 * split.size and spread[0, 0] < EVEN_PAPER_SPREAD:
            masks.append(_inner_components(split))
    width = 0.0
    for mask in masks:
        if cv2.countNonZero(mask):
            distance = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
            width = max(width, 2.0 * float(np.percentile(distance[mask > 0], 95)))
    return width * background.factor


def _inner_components(mask: np.ndarray) -> np.ndarray:
    """The mask without the components that touch the image's border.

    Split by brightness alone, a page photographed on a darker table gives the table as
    "ink": a broad band around the page, far thicker than any stroke.
    """
    # In a frame of ink one pixel wide, whatever touches the border touches the frame:
    # one flood fill (8-connected, as the components are) clears it all.
    framed = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=255)
    cv2.floodFill(framed, None, (0, 0), 0, flags=8)
    return framed[1:-1, 1:-1]


def working_shrink(background: Background) -> int:
    """The whole factor the image can be shrunk by before segmenting it (1: none).

    Large digits carry far more pixels than a 28x28 input needs, and the cost of every
    step grows with the pixels. The digit height, estimated on the coarse copy, sets
    the largest factor that keeps digits at least ``WORK_DIGIT_HEIGHT`` pixels tall.
    """
    small = background.coarse_contrast
    strong, _ = ink_levels(small)
    mask = cv2.threshold(small, strong - 1, 255, cv2.THRESH_BINARY)[1]
    count, _, stats = label_components(mask)
    if count <= 1:
        return 1
    stats = stats[1:]
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    area = stats[:, cv2.CC_STAT_AREA]
    height, width = small.shape
    usable = (w < 0.8 * width) & (h < 0.8 * height) & (area >= 4)
    if not usable.any():
        return 1
    digit_height = weighted_median(h[usable], area[usable]) * background.factor
    return max(1, int(digit_height // WORK_DIGIT_HEIGHT))


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The value below which half the weight lies."""
    if len(values) == 0:
        return 0.0
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order].astype(np.float64))
    index = int(np.searchsorted(cumulative, cumulative[-1] / 2))
    return float(values[order][min(index, len(values) - 1)])
