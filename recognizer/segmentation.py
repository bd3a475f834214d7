"""Find the digits in a grey photo: pure functions over arrays, run by ``segment``.

The steps, each a function below so that it can be tested on a drawn image:

1. ``estimate_background``: the paper (or board) brightness everywhere, as a median over
   a window much larger than a stroke, computed on a small copy of the image. A median
   does not care whether ink is darker or lighter than the paper, so the same estimate
   serves both polarities and follows shadows and uneven light.
2. ``dark_ink_polarity``: ink is whatever departs from the background strongly and
   sparsely; dark pen on paper departs downwards, chalk on a board upwards.
3. ``contrast_map``: how far each pixel departs from its background, relative to the
   background's brightness (so a shadow, which dims paper and ink alike, changes nothing).
4. ``binarize``: Otsu on the contrast with a floor (so that a blank page yields noise
   below the floor, not "ink"), plus hysteresis: faint parts of a stroke are kept when
   they touch a confident part.
5. ``remove_ruled_lines``: long thin horizontal and vertical runs (ruled or squared
   paper) are erased after deskewing, except where a stroke crosses them.
6. Connected components, then decisions relative to the typical digit height: drop
   specks, page edges and blobs; merge the pieces of one digit (those that overlap in x);
   drop dots, commas and dashes; split components too wide for one digit at the column
   of least ink; group into lines and order them for reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: At most this many digits are read from one photo; the rest is reported as truncated.
MAX_CANDIDATES = 120
#: Smallest digit height (pixels, in the working image) worth reading.
MIN_DIGIT_HEIGHT = 10
#: The background median window, as a fraction of the image's longest side.
BACKGROUND_WINDOW = 0.12
#: Contrast (0-255 = 0-100% of the background brightness) below which nothing is ink.
MIN_CONTRAST = 28
#: Hysteresis: pixels at least this fraction of the threshold join a stroke they touch.
WEAK_FRACTION = 0.6
#: A straight run at least this fraction of the image's shorter side is a ruled line.
LINE_MIN_FRACTION = 0.22


@dataclass(frozen=True, slots=True)
class Candidate:
    """One digit candidate in the segmentation frame (see ``Segmentation.transform``)."""

    x: int
    y: int
    w: int
    h: int
    #: uint8 (h, w): 255 where this candidate's ink is, 0 elsewhere (neighbours removed).
    mask: np.ndarray
    line: int


@dataclass(frozen=True, slots=True)
class Segmentation:
    candidates: tuple[Candidate, ...]
    truncated: bool
    #: 2x3 affine map from the input image to the frame the boxes are in; None when the
    #: image was not rotated (the usual case: only ruled paper is deskewed).
    transform: np.ndarray | None
    #: Typical digit height in pixels (0 when nothing digit-like was found).
    digit_height: float


# --------------------------------------------------------------------------- ink


def estimate_background(grey: np.ndarray, window_fraction: float = BACKGROUND_WINDOW) -> np.ndarray:
    """Paper brightness at every pixel: a large median, computed small and scaled up."""
    height, width = grey.shape
    factor = max(1, round(max(height, width) / 200))
    small = cv2.resize(
        grey,
        (max(1, round(width / factor)), max(1, round(height / factor))),
        interpolation=cv2.INTER_AREA,
    )
    window = max(3, round(window_fraction * max(small.shape)) | 1)
    window = min(window, 255)
    # The median only has to be right on the paper; stretch the edges so that a
    # window near the border still sees mostly paper, not padding.
    pad = window // 2
    padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    median = cv2.medianBlur(padded, window)[pad:-pad, pad:-pad]
    median = cv2.blur(median, (3, 3))
    return cv2.resize(median, (width, height), interpolation=cv2.INTER_LINEAR)


def dark_ink_polarity(grey: np.ndarray, background: np.ndarray) -> bool:
    """True for dark ink on light paper, False for light chalk on a dark board.

    Both polarities leave departures from the background on both sides (edges of
    shadows, of the page); the ink's side is the one with the heavier tail.
    """
    darker = cv2.subtract(background, grey)
    lighter = cv2.subtract(grey, background)
    noise = _noise_level(grey, background)
    floor = max(12.0, 4.0 * noise)
    dark_excess = _tail_mass(darker, floor)
    light_excess = _tail_mass(lighter, floor)
    return dark_excess >= light_excess


def _tail_mass(values: np.ndarray, floor: float) -> float:
    excess = cv2.subtract(values, np.full_like(values, min(255, round(floor))))
    return float(cv2.sumElems(excess)[0])


def _noise_level(grey: np.ndarray, background: np.ndarray) -> float:
    """Robust spread of grey around the background (median absolute deviation)."""
    diff = cv2.absdiff(grey, background)
    step = max(1, diff.size // 50_000)
    sample = diff.reshape(-1)[::step]
    return float(np.median(sample)) * 1.4826


def contrast_map(grey: np.ndarray, background: np.ndarray, dark_ink: bool) -> np.ndarray:
    """uint8 ink strength: 255 means the stroke departs 100% from its background."""
    if dark_ink:
        depth = cv2.subtract(background, grey)
        reference = cv2.max(background, 1)
    else:
        depth = cv2.subtract(grey, background)
        # Chalk is measured against the room left above the board, so a dark board in
        # a shadow still gives chalk a full-strength stroke.
        reference = cv2.max(cv2.subtract(np.full_like(background, 255), background), 1)
        reference = cv2.max(reference, cv2.add(background, 40))
    return cv2.divide(depth, reference, scale=255.0)


def binarize(contrast: np.ndarray, min_contrast: int = MIN_CONTRAST) -> np.ndarray:
    """Ink mask (uint8 0/255): Otsu above a floor, grown by hysteresis into faint parts."""
    otsu, _ = cv2.threshold(contrast, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    strong_level = max(float(otsu), float(min_contrast))
    weak_level = max(strong_level * WEAK_FRACTION, min_contrast * 0.75)
    strong = contrast >= strong_level
    if not strong.any():
        return np.zeros_like(contrast)
    weak = (contrast >= weak_level).astype(np.uint8)
    count, labels = cv2.connectedComponents(weak, connectivity=8)
    keep = np.zeros(count, dtype=bool)
    keep[np.unique(labels[strong])] = True
    keep[0] = False
    return (keep[labels] * 255).astype(np.uint8)


# ------------------------------------------------------------------- ruled lines


def estimate_skew(mask: np.ndarray, max_degrees: float = 8.0, step: float = 0.25) -> float:
    """Angle (degrees, counter-clockwise) of the dominant horizontal structure.

    Projection profiles: rows of ruled paper (or of text) are sharpest when projected
    along their own direction. Runs on the ink pixels' coordinates, subsampled.
    """
    ys, xs = np.nonzero(mask)
    if len(ys) < 50:
        return 0.0
    take = max(1, len(ys) // 20_000)
    ys = ys[::take].astype(np.float64)
    xs = xs[::take].astype(np.float64)
    xs -= xs.mean()
    best_angle, best_score = 0.0, -1.0
    angles = np.arange(-max_degrees, max_degrees + step / 2, step)
    for angle in angles:
        theta = math.radians(angle)
        rows = ys * math.cos(theta) + xs * math.sin(theta)
        rows -= rows.min()
        profile = np.bincount(rows.astype(np.int64))
        score = float(np.dot(profile, profile))
        if score > best_score:
            best_angle, best_score = float(angle), score
    return best_angle


def has_long_structures(mask: np.ndarray, min_fraction: float = 0.5) -> bool:
    """Whether some component spans most of the image: ruled lines, a grid, a page edge."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return False
    height, width = mask.shape
    widths = stats[1:, cv2.CC_STAT_WIDTH]
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    return bool(((widths >= min_fraction * width) | (heights >= min_fraction * height)).any())


def remove_ruled_lines(mask: np.ndarray, min_length: int | None = None) -> np.ndarray:
    """Erase long thin horizontal and vertical runs, keeping strokes that cross them."""
    height, width = mask.shape
    if min_length is None:
        min_length = max(30, round(LINE_MIN_FRACTION * min(height, width)))
    horizontal = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, min_length), np.uint8))
    vertical = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((min_length, 1), np.uint8))
    lines = cv2.bitwise_or(horizontal, vertical)
    if not lines.any():
        return mask
    thickness = _line_thickness(horizontal, vertical)
    # Lines are a little thicker after a rotation and JPEG; strokes crossing them are
    # at least that much longer across the line.
    across = thickness + max(2, round(thickness * 0.5))
    tall = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((across, 1), np.uint8))
    wide = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, across), np.uint8))
    protect = cv2.bitwise_or(
        cv2.bitwise_and(tall, cv2.bitwise_not(vertical)),
        cv2.bitwise_and(wide, cv2.bitwise_not(horizontal)),
    )
    remove = cv2.bitwise_and(lines, cv2.bitwise_not(protect))
    return cv2.bitwise_and(mask, cv2.bitwise_not(remove))


def _line_thickness(horizontal: np.ndarray, vertical: np.ndarray) -> int:
    """Typical thickness of the detected lines: area over length."""
    estimates = []
    for lines, axis in ((horizontal, 0), (vertical, 1)):
        area = cv2.countNonZero(lines)
        if area == 0:
            continue
        # Length: the number of line pixels seen along the line direction per line,
        # summed: columns (for horizontal lines) that hold any line pixel in a run.
        runs = np.count_nonzero(np.diff((lines > 0).astype(np.int8), axis=axis) == 1)
        estimates.append(area / max(1, runs))
    return max(1, round(float(np.median(estimates)))) if estimates else 1


# -------------------------------------------------------------------- components


@dataclass(slots=True)
class _Part:
    """A group of connected components (optionally cut to a column range)."""

    x0: int
    y0: int
    x1: int
    y1: int
    labels: list[int]
    area: int
    cut: tuple[int, int] | None = None

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


def _stroke_widths(mask: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Mean stroke width per component: twice the area over the boundary length."""
    eroded = cv2.erode(mask, np.ones((3, 3), np.uint8))
    boundary = cv2.subtract(mask, eroded) > 0
    area = np.bincount(labels.reshape(-1), minlength=count).astype(np.float64)
    edge = np.bincount(labels[boundary], minlength=count).astype(np.float64)
    return 2.0 * area / np.maximum(edge, 1.0)


def estimate_digit_height(heights: np.ndarray, widths: np.ndarray, areas: np.ndarray) -> float:
    """Typical digit height: the area-weighted median height of digit-shaped components."""
    shaped = (heights >= MIN_DIGIT_HEIGHT) & (heights >= 0.6 * widths) & (heights <= 8 * widths)
    if not shaped.any():
        shaped = heights >= MIN_DIGIT_HEIGHT
        if not shaped.any():
            return 0.0
    h = heights[shaped].astype(np.float64)
    weight = areas[shaped].astype(np.float64)
    order = np.argsort(h)
    cumulative = np.cumsum(weight[order])
    index = int(np.searchsorted(cumulative, cumulative[-1] / 2))
    return float(h[order][min(index, len(h) - 1)])


def _initial_parts(
    stats: np.ndarray, strokes: np.ndarray, image_shape: tuple[int, int]
) -> tuple[list[_Part], float]:
    height, width = image_shape
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    area = stats[:, cv2.CC_STAT_AREA]
    index = np.arange(len(stats))
    real = index > 0
    # Page edges, shadows, the table: anything spanning most of the image.
    huge = (w >= 0.8 * width) | (h >= 0.8 * height)
    # Blobs are not strokes: a filled region is wide across everywhere.
    blob = strokes > 0.45 * np.minimum(w, h) + 2
    blob &= np.minimum(w, h) > 2 * MIN_DIGIT_HEIGHT
    speck = np.maximum(w, h) < 3
    usable = real & ~huge & ~blob & ~speck
    digit_height = estimate_digit_height(h[usable], w[usable], area[usable])
    if digit_height <= 0:
        return [], 0.0
    small = np.maximum(w, h) < 0.12 * digit_height
    too_big = (h > 2.2 * digit_height) | (w > 12 * digit_height)
    at_border = (x == 0) | (y == 0) | (x + w >= width) | (y + h >= height)
    edge_piece = at_border & ((h > 1.5 * digit_height) | (w > 3 * digit_height))
    keep = usable & ~small & ~too_big & ~edge_piece
    parts = [
        _Part(int(x[i]), int(y[i]), int(x[i] + w[i]), int(y[i] + h[i]), [int(i)], int(area[i]))
        for i in np.flatnonzero(keep)
    ]
    return parts, digit_height


def _merge_fragments(parts: list[_Part], digit_height: float) -> list[_Part]:
    """Merge pieces of one digit: they overlap in x, are close in y, fit one digit box."""
    merged = True
    while merged and len(parts) > 1:
        merged = False
        parts.sort(key=lambda p: p.area, reverse=True)
        for i, big in enumerate(parts):
            for j in range(len(parts) - 1, i, -1):
                piece = parts[j]
                if _belong_together(big, piece, digit_height):
                    parts[i] = _union(big, piece)
                    del parts[j]
                    merged = True
                    big = parts[i]
    return parts


def _belong_together(a: _Part, b: _Part, digit_height: float) -> bool:
    overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
    if overlap_x <= 0:
        return False
    narrow = min(a.w, b.w)
    if overlap_x < 0.5 * narrow:
        return False
    gap_y = max(a.y0, b.y0) - min(a.y1, b.y1)
    if gap_y > 0.25 * digit_height:
        return False
    union_h = max(a.y1, b.y1) - min(a.y0, b.y0)
    union_w = max(a.x1, b.x1) - min(a.x0, b.x0)
    return union_h <= 1.35 * digit_height and union_w <= 1.3 * digit_height


def _union(a: _Part, b: _Part) -> _Part:
    return _Part(
        min(a.x0, b.x0),
        min(a.y0, b.y0),
        max(a.x1, b.x1),
        max(a.y1, b.y1),
        a.labels + b.labels,
        a.area + b.area,
    )


def _is_punctuation(part: _Part, digit_height: float) -> bool:
    """Dots, commas, dashes and the like: too short for a digit of this string."""
    if part.h >= 0.55 * digit_height:
        return False
    # Short and not wide: a dot or a comma. Short and flat: a dash or an underline.
    return part.h < 0.4 * digit_height or part.w > 1.6 * part.h


def _split_wide(part: _Part, labels: np.ndarray, digit_height: float) -> list[_Part]:
    """Cut a component holding touching digits at the columns of least ink."""
    count = _digit_count(part, digit_height)
    if count <= 1:
        return [part]
    crop = np.isin(labels[part.y0 : part.y1, part.x0 : part.x1], part.labels)
    profile = crop.sum(axis=0).astype(np.float64)
    profile = np.convolve(profile, np.ones(3) / 3, mode="same")
    cuts = []
    for k in range(1, count):
        centre = part.w * k / count
        lo = max(1, round(centre - 0.3 * part.w / count))
        hi = min(part.w - 1, round(centre + 0.3 * part.w / count))
        if hi <= lo:
            continue
        cuts.append(lo + int(np.argmin(profile[lo:hi])))
    pieces = []
    edges = [0, *cuts, part.w]
    for left, right in zip(edges[:-1], edges[1:], strict=True):
        columns = crop[:, left:right]
        rows = np.flatnonzero(columns.any(axis=1))
        if len(rows) == 0:
            continue
        pieces.append(
            _Part(
                part.x0 + left,
                part.y0 + int(rows[0]),
                part.x0 + right,
                part.y0 + int(rows[-1]) + 1,
                part.labels,
                int(columns.sum()),
                cut=(part.x0 + left, part.x0 + right),
            )
        )
    return pieces


def _digit_count(part: _Part, digit_height: float) -> int:
    """How many digits a component probably holds, from its width."""
    height = max(part.h, 0.8 * digit_height)
    ratio = part.w / height
    if ratio <= 1.05:
        return 1
    return max(1, min(12, round(ratio / 0.7)))


def _group_lines(parts: list[_Part], digit_height: float) -> list[list[_Part]]:
    """Chain parts left to right into lines (tolerates a tilted string), top to bottom."""
    lines: list[list[_Part]] = []
    for part in sorted(parts, key=lambda p: p.x0):
        best, best_overlap = None, 0.0
        for line in lines:
            last = line[-1]
            overlap = min(last.y1, part.y1) - max(last.y0, part.y0)
            fraction = overlap / max(1, min(last.h, part.h))
            gap = part.x0 - last.x1
            if fraction > 0.4 and gap < 4 * digit_height and fraction > best_overlap:
                best, best_overlap = line, fraction
        if best is None:
            lines.append([part])
        else:
            best.append(part)
    lines.sort(key=lambda line: float(np.median([p.cy for p in line])))
    return lines


def _part_mask(part: _Part, labels: np.ndarray) -> np.ndarray:
    crop = labels[part.y0 : part.y1, part.x0 : part.x1]
    mask = np.isin(crop, part.labels)
    if part.cut is not None:
        left, right = part.cut[0] - part.x0, part.cut[1] - part.x0
        mask[:, :left] = False
        mask[:, right:] = False
    return mask.astype(np.uint8) * 255


# ---------------------------------------------------------------------- pipeline


def ink_mask(grey: np.ndarray) -> np.ndarray:
    """Steps 1-4: the binary ink mask (255 = ink) of a grey image, either polarity."""
    background = estimate_background(grey)
    dark = dark_ink_polarity(grey, background)
    return binarize(contrast_map(grey, background, dark))


def segment(grey: np.ndarray, max_candidates: int = MAX_CANDIDATES) -> Segmentation:
    """Digit candidates of a grey uint8 image, in reading order."""
    if grey.ndim != 2 or grey.dtype != np.uint8:
        raise ValueError("segment() expects a 2-D uint8 grey image")
    mask = ink_mask(grey)
    transform = None
    if has_long_structures(mask):
        angle = estimate_skew(mask)
        if abs(angle) >= 0.5:
            height, width = mask.shape
            transform = cv2.getRotationMatrix2D((width / 2, height / 2), -angle, 1.0)
            mask = cv2.warpAffine(mask, transform, (width, height), flags=cv2.INTER_NEAREST)
        mask = remove_ruled_lines(mask)
    return segment_mask(mask, max_candidates=max_candidates, transform=transform)


def segment_mask(
    mask: np.ndarray, max_candidates: int = MAX_CANDIDATES, transform: np.ndarray | None = None
) -> Segmentation:
    """Steps 6 on a clean ink mask: components -> candidates in reading order."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return Segmentation((), False, transform, 0.0)
    strokes = _stroke_widths(mask, labels, count)
    parts, digit_height = _initial_parts(stats, strokes, mask.shape)
    if not parts:
        return Segmentation((), False, transform, 0.0)
    parts = _merge_fragments(parts, digit_height)
    parts = [p for p in parts if not _is_punctuation(p, digit_height)]
    parts = [piece for p in parts for piece in _split_wide(p, labels, digit_height)]
    parts = [p for p in parts if p.h >= MIN_DIGIT_HEIGHT * 0.6]
    lines = _group_lines(parts, digit_height)
    candidates: list[Candidate] = []
    truncated = False
    for line_index, line in enumerate(lines):
        for part in line:
            if len(candidates) >= max_candidates:
                truncated = True
                break
            mask_crop = _part_mask(part, labels)
            candidates.append(
                Candidate(part.x0, part.y0, part.w, part.h, mask_crop, line=line_index)
            )
        if truncated:
            break
    return Segmentation(tuple(candidates), truncated, transform, digit_height)
