"""Find the digits in a grey photo: pure functions over arrays, run by ``segment``.

The steps, each a function below so that it can be tested on a drawn image:

1. ``estimate_background``: paper (or board) brightness everywhere, and the polarity
   (dark pen on paper or light chalk on a board), on a small copy of the image.
2. ``contrast_map``: how far each pixel departs from its background, relative to the
   background's brightness, so that a shadow, which dims paper and ink alike, changes
   nothing.
3. ``binarize``: Otsu on the contrast with a floor (a blank page is noise below the
   floor, not ink), grown by hysteresis into faint parts of strokes.
4. ``remove_ruled_lines``: long straight lines (ruled or squared paper), found by a
   probabilistic Hough transform at any small tilt, are erased except where a stroke
   crosses them.
5. ``find_pieces``: connected components, judged against the typical digit height:
   specks, page edges, blobs, dots, commas and dashes are dropped; pieces of one digit
   that overlap in x (a 5's detached bar, a crossed 7, an open 4) are merged.
6. ``group_lines``: pieces chained left to right into lines, lines top to bottom.
7. ``build_lattice``: for each line, the places where one digit may end and the next
   begin. Clear gaps between complete-looking pieces are certain; a piece too wide for
   one digit (touching digits) gets candidate cuts at the columns of least ink; a
   fragment may belong to either neighbour or stand alone (a broken pencil line).
   Every segment between two candidate places is one crop.
8. ``choose_segments``: after the classifier has scored every crop in one batch, the
   best path through each line's lattice (dynamic programming over log-probabilities
   plus a shape prior) decides which crops are the digits.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

#: At most this many digits are read from one photo; the rest is reported as truncated.
MAX_CANDIDATES = 120
#: Smallest digit height (pixels, in the working image) worth reading.
MIN_DIGIT_HEIGHT = 10
#: Longest side of the coarse copy the background and the polarity are computed on.
COARSE_SIDE = 640
#: Strokes up to this fraction of the image's longest side are told from the background.
STROKE_KERNEL = 0.04
#: Strokes wider than this fraction of the background kernel call for a wider kernel...
THICK_STROKE_FRACTION = 0.5
#: ...of at most this fraction of the image's longest side.
MAX_STROKE_KERNEL = 0.15
#: Digits this tall (pixels) are plenty for a 28x28 input (MNIST's digits are 20 px);
#: an image of larger ones is shrunk by a whole factor that keeps them this tall.
WORK_DIGIT_HEIGHT = 40
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
#: A straight run at least this fraction of the image's shorter side is a ruled line.
LINE_MIN_FRACTION = 0.3
#: Longest side of the copy ruled lines are looked for in.
LINE_SEARCH_SIDE = 640
#: Ruled paper has many lines: the transform runs only when the straight runs add up
#: to at least this many lines' length (a page's edges alone do not).
LINE_EVIDENCE = 4
#: Shortest straight run (pixels, in that copy) that may be part of a ruled line.
LINE_RUN = 6
#: Ruled lines are looked for within this many degrees of horizontal and vertical.
LINE_MAX_TILT = 12
#: A piece wider than this many times its height (or the digit height) may hold
#: touching digits and gets candidate cuts.
WIDE_PIECE = 1.1
#: Widest segment (in digit heights) the lattice considers to be one digit.
MAX_DIGIT_WIDTH = 1.5
#: Log prior cost of cutting a connected piece: most pieces are one digit; touching
#: digits must be read clearly better cut than whole.
CUT_COST = 1.5
#: Log prior cost of reading two complete-looking pieces as one digit.
MERGE_COST = 1.5
#: Log prior cost of reading a dot beside a digit as part of it.
DOT_MERGE_COST = 1.5
#: A segment with no ink (between two boundaries in a gap) in ``LineLattice.span_crops``.
EMPTY = -1
#: Extra cost of skipping part of a cut piece as "not a digit" (a sliver of a long bar
#: may be skipped; half a digit should not be).
CUT_SKIP_COST = 1.0


# --------------------------------------------------------------------------- ink


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


def noise_floors(contrast: np.ndarray, sigmas: tuple[float, ...]) -> list[np.ndarray]:
    """Per-pixel contrast that noise alone reaches: local median + ``sigmas`` deviations.

    Noise is far from even across a photo: a shadow or a dark corner is several times
    noisier (relative to its brightness) than lit paper. Robust local statistics (a
    median and a median absolute deviation, which ignore the sparse ink) on a strided
    copy, which keeps the pixel-level noise that area averaging would remove.
    """
    height, width = contrast.shape
    step = max(1, round(max(height, width) / NOISE_GRID_SIDE))
    sample = np.ascontiguousarray(contrast[::step, ::step])
    window = max(3, round(NOISE_WINDOW * max(sample.shape)) | 1)
    median = cv2.medianBlur(sample, window)
    spread = cv2.medianBlur(cv2.absdiff(sample, median), window)
    floors = []
    for sigma in sigmas:
        floor = cv2.add(median, cv2.multiply(spread, 1.4826 * sigma))
        # Noise statistics vary slowly; the nearest sample is close enough, and quick.
        floors.append(cv2.resize(floor, (width, height), interpolation=cv2.INTER_NEAREST))
    return floors


@dataclass(frozen=True, slots=True)
class InkMask:
    """The binary ink mask and its connected components (from the hysteresis step)."""

    mask: np.ndarray
    labels: np.ndarray
    #: ``cv2.connectedComponentsWithStats`` rows; components that were not kept have
    #: zero area and size.
    stats: np.ndarray


def binarize_components(contrast: np.ndarray, min_contrast: int = MIN_CONTRAST) -> InkMask:
    """Ink mask (uint8 0/255): strong pixels, plus faint pixels connected to them.

    Strong: above Otsu's level (at least ``min_contrast``) and well above the local
    noise. Faint: above the hysteresis level and above the local noise. The faint
    mask's connected components that hold a strong pixel are the ink.
    """
    strong_level, weak_level = ink_levels(contrast, min_contrast)
    strong_floor, weak_floor = noise_floors(contrast, (STRONG_SIGMAS, WEAK_SIGMAS))
    strong = cv2.compare(contrast, cv2.max(strong_floor, strong_level), cv2.CMP_GE)
    points = cv2.findNonZero(strong)
    if points is None:
        empty = np.zeros_like(contrast)
        return InkMask(empty, np.zeros(contrast.shape, np.int32), np.zeros((1, 5), np.int32))
    weak = cv2.compare(contrast, cv2.max(weak_floor, weak_level), cv2.CMP_GE)
    count, labels, stats = label_components(weak)
    points = points.reshape(-1, 2)
    keep = np.zeros(count, dtype=bool)
    keep[labels[points[:, 1], points[:, 0]]] = True
    keep[0] = False
    if keep[1:].all():
        return InkMask(weak, labels, stats)
    stats[~keep, :] = 0
    mask = np.take(np.where(keep, 255, 0).astype(np.uint8), labels)
    return InkMask(mask, labels, stats)


def binarize(contrast: np.ndarray, min_contrast: int = MIN_CONTRAST) -> np.ndarray:
    """The ink mask alone (uint8, 255 = ink); see ``binarize_components``."""
    return binarize_components(contrast, min_contrast).mask


def fitted_background(grey: np.ndarray) -> Background:
    """The background, estimated with a kernel that suits the strokes of this photo.

    The kernel must be wider than the strokes but narrower than smudges and shadows:
    the default suits pens and pencils at any usual distance. When the strokes turn out
    thick for it (a marker, close up), the background is estimated again with a kernel
    two strokes wide.
    """
    background = estimate_background(grey)
    width = thick_stroke_width(background)
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


def thick_stroke_width(background: Background) -> float:
    """Width (pixels of the image the background was estimated on) of the thickest
    strokes: the 95th percentile of twice the distance to the nearest paper, over the
    ink of the coarse copy (thin lines and specks, which would pull a mean down, do not
    matter to a high percentile)."""
    small = background.coarse_contrast
    strong, _ = ink_levels(small)
    mask = cv2.threshold(small, strong - 1, 255, cv2.THRESH_BINARY)[1]
    if not cv2.countNonZero(mask):
        return 0.0
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    return 2.0 * float(np.percentile(distance[mask > 0], 95)) * background.factor


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
    digit_height = _weighted_median(h[usable], area[usable]) * background.factor
    return max(1, int(digit_height // WORK_DIGIT_HEIGHT))


# ------------------------------------------------------------------- ruled lines


@dataclass(frozen=True, slots=True)
class RuledLine:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def horizontal(self) -> bool:
        return abs(self.x1 - self.x0) >= abs(self.y1 - self.y0)


def find_ruled_lines(contrast: np.ndarray, min_length: int | None = None) -> list[RuledLine]:
    """Long straight lines within ``LINE_MAX_TILT`` degrees of horizontal or vertical.

    On a half-size copy of the contrast, thresholded at the faint-ink level and closed
    along each direction in turn (which joins the dashes a faint line breaks into), a
    probabilistic Hough transform finds segments many times longer than any stroke of a
    digit, at whatever tilt the photo has.
    """
    height, width = contrast.shape
    if min_length is None:
        min_length = max(30, round(LINE_MIN_FRACTION * min(height, width)))
    _, weak = ink_levels(contrast)
    # The transform's cost grows with the pixels; lines survive a coarse copy well.
    factor = max(1, round(max(height, width) / LINE_SEARCH_SIDE))
    small = contrast
    if factor > 1:
        small = cv2.resize(
            contrast, (width // factor, height // factor), interpolation=cv2.INTER_AREA
        )
    binary = cv2.threshold(small, max(8, round(0.8 * weak)), 255, cv2.THRESH_BINARY)[1]
    length = max(10, min_length // factor)
    bridge = 5
    lines = []
    for horizontal in (True, False):
        kernel = np.ones((1, bridge) if horizontal else (bridge, 1), np.uint8)
        joined = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, kernel)
        # The transform is the dear part. Its input is only what lies in straight runs
        # along the direction (a line tilted by up to 12 degrees still has runs of
        # several pixels; dots, noise and strokes across mostly do not), and it is
        # skipped when those runs do not add up to several lines' length.
        run = np.ones((1, LINE_RUN) if horizontal else (LINE_RUN, 1), np.uint8)
        runs = cv2.morphologyEx(joined, cv2.MORPH_OPEN, run)
        if cv2.countNonZero(runs) < LINE_EVIDENCE * length:
            continue
        found = cv2.HoughLinesP(
            runs,
            rho=1,
            theta=math.pi / 180,
            threshold=max(10, length // 2),
            minLineLength=length,
            maxLineGap=max(3, length // 15),
        )
        if found is None:
            continue
        for x0, y0, x1, y1 in np.asarray(found).reshape(-1, 4):
            angle = math.degrees(math.atan2(abs(int(y1) - int(y0)), abs(int(x1) - int(x0))))
            if (angle <= LINE_MAX_TILT) if horizontal else (angle >= 90 - LINE_MAX_TILT):
                lines.append(
                    RuledLine(
                        int(x0) * factor, int(y0) * factor, int(x1) * factor, int(y1) * factor
                    )
                )
    return lines


def remove_ruled_lines(mask: np.ndarray, lines: list[RuledLine]) -> np.ndarray:
    """Erase the lines' pixels, except those of strokes that cross a line.

    A pixel of a horizontal line belongs to a stroke too when the ink runs on across
    the line (a vertical run longer than the line is thick), and likewise for vertical
    lines; those pixels stay. A "line" much thicker than the others is the straight
    stroke of a large digit (a 1, a 7's stem) and is left alone.
    """
    thickness = [_line_thickness(mask, line) for line in lines]
    measured = [t for t in thickness if t > 0]
    if not measured:
        return mask
    typical = float(np.median(measured))
    keep = np.full_like(mask, 255)
    bands = []
    for horizontal in (True, False):
        group = [
            line
            for line, t in zip(lines, thickness, strict=True)
            if line.horizontal == horizontal and 0 < t <= 2 * typical + 1
        ]
        if not group:
            continue
        width = round(typical)
        band = width + 2 + (width + 1) // 2
        across = width + 3
        line_mask = np.zeros_like(mask)
        for line in group:
            cv2.line(line_mask, (line.x0, line.y0), (line.x1, line.y1), 255, band)
        kernel = np.ones((across, 1) if horizontal else (1, across), np.uint8)
        crossing = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        erase = cv2.bitwise_and(line_mask, cv2.bitwise_not(crossing))
        keep = cv2.bitwise_and(keep, cv2.bitwise_not(erase))
        bands.append((horizontal, band, line_mask))
    cleaned = cv2.bitwise_and(mask, keep)
    # A thin stroke crossing a thicker line lost the crossing: where ink continues on
    # both sides of a line, close the gap again (only with ink that was there).
    for horizontal, band, line_mask in bands:
        size = (3, band + 2) if horizontal else (band + 2, 3)
        closed = cv2.morphologyEx(cleaned, cv2.MORPH_CLOSE, np.ones(size[::-1], np.uint8))
        restore = cv2.bitwise_and(cv2.bitwise_and(closed, mask), line_mask)
        cleaned = cv2.bitwise_or(cleaned, restore)
    return cleaned


def _line_thickness(mask: np.ndarray, line: RuledLine) -> float:
    """Thickness of one line: median count of ink pixels across it, sampled along it."""
    height, width = mask.shape
    reach = 8
    steps = max(2, int(math.hypot(line.x1 - line.x0, line.y1 - line.y0) // 12))
    t = np.linspace(0.05, 0.95, steps)
    xs = np.clip(np.round(line.x0 + t * (line.x1 - line.x0)).astype(np.intp), 0, width - 1)
    ys = np.clip(np.round(line.y0 + t * (line.y1 - line.y0)).astype(np.intp), 0, height - 1)
    offsets = np.arange(-reach, reach + 1)
    if line.horizontal:
        rows = np.clip(ys[:, None] + offsets, 0, height - 1)
        strips = mask[rows, xs[:, None]]
    else:
        cols = np.clip(xs[:, None] + offsets, 0, width - 1)
        strips = mask[ys[:, None], cols]
    counts = np.count_nonzero(strips, axis=1)
    counts = counts[counts > 0]
    return float(np.median(counts)) if len(counts) else 0.0


# ------------------------------------------------------------------------ pieces


@dataclass(slots=True)
class Piece:
    """Connected components that belong together (one digit, or touching digits)."""

    x0: int
    y0: int
    x1: int
    y1: int
    labels: list[int]
    area: int
    #: Mean stroke width (pixels).
    stroke: float = 0.0

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


@dataclass(frozen=True, slots=True)
class Components:
    """Connected components of the ink mask and the typical digit height."""

    labels: np.ndarray
    pieces: list[Piece]
    digit_height: float
    #: Typical stroke width of the ink (pixels).
    pen: float


def stroke_widths(mask: np.ndarray, labels: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """Mean stroke width per component: twice the area over the boundary length."""
    eroded = cv2.erode(mask, np.ones((3, 3), np.uint8))
    boundary = cv2.subtract(mask, eroded) > 0
    edge = np.bincount(labels[boundary], minlength=len(areas)).astype(np.float64)
    return 2.0 * areas.astype(np.float64) / np.maximum(edge, 1.0)


def estimate_digit_height(heights: np.ndarray, widths: np.ndarray, areas: np.ndarray) -> float:
    """Typical digit height: the ink-weighted median height of digit-shaped components.

    Weighting by ink makes the many specks of a noisy photo count for little next to
    the digits; leaving out thin upright pieces (1s, but also remnants of lines) keeps
    long line fragments from posing as tall digits, unless nothing else is there.
    """
    tall_enough = heights >= MIN_DIGIT_HEIGHT
    shaped = tall_enough & (heights >= 0.6 * widths) & (heights <= 3.5 * widths)
    if areas[shaped].sum() < 0.3 * areas[tall_enough].sum():
        shaped = tall_enough & (heights >= 0.6 * widths) & (heights <= 10 * widths)
    if not shaped.any():
        shaped = tall_enough
        if not shaped.any():
            return 0.0
    return _weighted_median(heights[shaped], areas[shaped])


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    if len(values) == 0:
        return 0.0
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order].astype(np.float64))
    index = int(np.searchsorted(cumulative, cumulative[-1] / 2))
    return float(values[order][min(index, len(values) - 1)])


def find_pieces(mask: np.ndarray, ink: InkMask | None = None) -> Components:
    """Components of a clean ink mask, filtered and merged into digit pieces.

    ``ink`` passes the components already found for this very mask (when no ruled
    lines were removed from it), which saves labelling it again.
    """
    height, width = mask.shape
    if ink is not None:
        labels, stats, count = ink.labels, ink.stats, len(ink.stats)
    else:
        count, labels, stats = label_components(mask)
    if count <= 1:
        return Components(labels, [], 0.0, 0.0)
    strokes = stroke_widths(mask, labels, stats[:, cv2.CC_STAT_AREA])
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    area = stats[:, cv2.CC_STAT_AREA]
    real = np.arange(count) > 0
    huge = (w >= 0.8 * width) | (h >= 0.8 * height)
    # Blobs are not strokes: a filled region is about as wide across as it is long
    # (a disc's "stroke" is half its diameter; a 1's is a tenth of its height).
    blob = (strokes > 0.35 * np.maximum(w, h)) & (np.minimum(w, h) > 2 * MIN_DIGIT_HEIGHT)
    speck = (np.maximum(w, h) < 3) | (area < 6)
    usable = real & ~huge & ~blob & ~speck
    digit_height = estimate_digit_height(h[usable], w[usable], area[usable])
    if digit_height <= 0:
        return Components(labels, [], 0.0, 0.0)
    hd = digit_height
    small = np.maximum(w, h) < 0.15 * hd
    too_tall = h > 2.0 * hd
    at_border = (x <= 0) | (y <= 0) | (x + w >= width) | (y + h >= height)
    # What touches the photo's border is the page edge, the table, a finger, or a digit
    # cut in half: only keep what could be a whole digit.
    edge_piece = at_border & (
        (h > 1.4 * hd)
        | (w > 2.5 * hd)
        | (np.maximum(w, h) < 0.5 * hd)
        | (np.minimum(w, h) < 0.25 * hd)
    )
    flat_line = (w > 1.6 * hd) & (h < 0.3 * hd)
    thin_line = (h > 1.3 * hd) & (w < 0.15 * hd)
    # Remnants of ruled lines and page edges are hairlines next to the pen's strokes.
    pen = _weighted_median(strokes[usable], area[usable])
    hairline = (strokes < 0.45 * pen) & (np.minimum(w, h) < 0.2 * hd)
    keep = usable & ~small & ~too_tall & ~edge_piece & ~flat_line & ~thin_line & ~hairline
    pieces = [
        Piece(
            int(x[i]),
            int(y[i]),
            int(x[i] + w[i]),
            int(y[i] + h[i]),
            [int(i)],
            int(area[i]),
            float(strokes[i]),
        )
        for i in np.flatnonzero(keep)
    ]
    pieces = merge_overlapping(pieces, hd)
    pieces = [p for p in pieces if not is_punctuation(p, hd) or _over_a_digit(p, pieces, hd)]
    return Components(labels, pieces, digit_height, pen)


def merge_overlapping(pieces: list[Piece], digit_height: float) -> list[Piece]:
    """Merge pieces of one digit: they overlap in x, are close in y, fit one digit box."""
    merged = True
    while merged and len(pieces) > 1:
        merged = False
        pieces.sort(key=lambda p: p.area, reverse=True)
        i = 0
        while i < len(pieces):
            big = pieces[i]
            for j in range(len(pieces) - 1, i, -1):
                if _belong_together(big, pieces[j], digit_height):
                    big = _union(big, pieces[j])
                    pieces[i] = big
                    del pieces[j]
                    merged = True
            i += 1
    return pieces


def _belong_together(a: Piece, b: Piece, digit_height: float) -> bool:
    overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
    if overlap_x < 0.5 * min(a.w, b.w):
        return False
    gap_y = max(a.y0, b.y0) - min(a.y1, b.y1)
    if gap_y > 0.25 * digit_height:
        return False
    union_h = max(a.y1, b.y1) - min(a.y0, b.y0)
    union_w = max(a.x1, b.x1) - min(a.x0, b.x0)
    return union_h <= 1.35 * digit_height and union_w <= 1.1 * max(union_h, 0.8 * digit_height)


def _union(a: Piece, b: Piece) -> Piece:
    return Piece(
        min(a.x0, b.x0),
        min(a.y0, b.y0),
        max(a.x1, b.x1),
        max(a.y1, b.y1),
        a.labels + b.labels,
        a.area + b.area,
        (a.stroke * a.area + b.stroke * b.area) / max(1, a.area + b.area),
    )


def is_punctuation(piece: Piece, digit_height: float) -> bool:
    """Obvious dots and dashes: tiny, or very short and flat. Doubtful cases are left
    to the lattice, which may also read them as part of a neighbouring digit."""
    if max(piece.w, piece.h) < 0.2 * digit_height:
        return True
    return piece.h < 0.22 * digit_height and piece.w > 2.0 * piece.h


def _over_a_digit(piece: Piece, pieces: list[Piece], digit_height: float) -> bool:
    """Whether a small piece sits over or under a digit, as a 5's detached bar does
    (often reaching out to the right of the body), or a crossed 7's bar."""
    for other in pieces:
        if other is piece or other.h < 0.5 * digit_height:
            continue
        overlap_x = min(piece.x1, other.x1) - max(piece.x0, other.x0)
        gap_y = max(piece.y0, other.y0) - min(piece.y1, other.y1)
        if gap_y >= 0.25 * digit_height:
            continue
        if overlap_x > 0.2 * piece.w:
            return True
        on_top = piece.cy < other.y0 + 0.15 * digit_height
        if on_top and overlap_x > -0.15 * digit_height:
            return True
    return False


def is_stray(line: list[Piece], digit_height: float, pen: float) -> bool:
    """A "line" that is no writing: only fragments, or one piece drawn with another pen
    than the rest of the photo (a page edge's hairline, a shadow's smudge)."""
    if all(piece.h < 0.6 * digit_height for piece in line):
        return True
    return len(line) == 1 and not 0.5 * pen <= line[0].stroke <= 2.2 * pen


def group_lines(pieces: list[Piece], digit_height: float) -> list[list[Piece]]:
    """Chain pieces left to right into lines (tolerates a tilted string), top to bottom."""
    lines: list[list[Piece]] = []
    for piece in sorted(pieces, key=lambda p: p.x0):
        best, best_overlap = None, 0.0
        for line in lines:
            last = max(line[-3:], key=lambda p: p.h)  # a short piece is a poor guide
            overlap = min(last.y1, piece.y1) - max(last.y0, piece.y0)
            fraction = overlap / max(1, min(last.h, piece.h))
            gap = piece.x0 - line[-1].x1
            if fraction > 0.35 and gap < 4 * digit_height and fraction > best_overlap:
                best, best_overlap = line, fraction
        if best is None:
            lines.append([piece])
        else:
            best.append(piece)
    lines.sort(key=lambda line: float(np.median([p.cy for p in line])))
    return lines


# ----------------------------------------------------------------------- lattice


@dataclass(frozen=True, slots=True)
class Crop:
    """One digit hypothesis: a box in the working image and its ink (255) only."""

    x: int
    y: int
    w: int
    h: int
    mask: np.ndarray


@dataclass(frozen=True, slots=True)
class LineLattice:
    """Where digits of one line may start and end, and one crop per possible digit."""

    #: Candidate boundaries, left to right (x in the working image).
    positions: tuple[float, ...]
    #: Boundaries that every reading passes (clear gaps between complete digits).
    certain: tuple[bool, ...]
    #: Boundaries that cut through a piece (between touching digits, if any).
    inner: tuple[bool, ...]
    #: (start, end) position indices of each segment, and the crop each one reads
    #: (``EMPTY`` for a segment without ink).
    spans: tuple[tuple[int, int], ...]
    span_crops: tuple[int, ...]
    #: The distinct crops (two segments may hold the same ink).
    crops: tuple[Crop, ...]
    #: Log prior of each crop being one digit, from its shape alone.
    priors: tuple[float, ...]
    #: Log prior of each crop being no digit at all (-inf where it cuts a piece).
    skip_priors: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Segmentation:
    lines: tuple[LineLattice, ...]
    #: Typical digit height in pixels (0 when nothing digit-like was found).
    digit_height: float
    truncated: bool
    #: Segmentation pixels per pixel of the image given to ``segment`` (crops' boxes are
    #: in the segmentation's pixels).
    scale: float = 1.0

    @property
    def crops(self) -> list[Crop]:
        """Every crop of every line, in order: the batch to classify."""
        return [crop for line in self.lines for crop in line.crops]


def _is_complete(piece: Piece, digit_height: float) -> bool:
    return piece.h >= 0.7 * digit_height


def _is_wide(piece: Piece, digit_height: float) -> bool:
    """Too wide for most single digits: it may hold touching ones."""
    return piece.w > WIDE_PIECE * max(piece.h, 0.8 * digit_height)


def build_lattice(line: list[Piece], labels: np.ndarray, digit_height: float) -> LineLattice:
    """Candidate boundaries and segment crops of one line of pieces (sorted by x)."""
    hd = digit_height
    line = sorted(line, key=lambda p: p.cx)
    positions: list[float] = [float(line[0].x0)]
    certain: list[bool] = [True]
    inner: list[bool] = [False]
    for left, right in itertools.pairwise(line):
        cuts = _inner_cuts(left, labels, hd)
        positions.extend(cuts)
        certain.extend([False] * len(cuts))
        inner.extend([True] * len(cuts))
        gap = right.x0 - left.x1
        boundary = (left.x1 + right.x0) / 2 if gap >= 0 else (left.cx + right.cx) / 2
        sure = gap > 0.05 * hd and _is_complete(left, hd) and _is_complete(right, hd)
        sure = sure or gap > 0.6 * hd
        positions.append(boundary)
        certain.append(sure)
        inner.append(False)
    cuts = _inner_cuts(line[-1], labels, hd)
    positions.extend(cuts)
    certain.extend([False] * len(cuts))
    inner.extend([True] * len(cuts))
    positions.append(float(line[-1].x1))
    certain.append(True)
    inner.append(False)
    order = np.argsort(positions, kind="stable")
    positions = [positions[i] for i in order]
    certain = [certain[i] for i in order]
    inner = [inner[i] for i in order]

    spans: list[tuple[int, int]] = []
    span_crops: list[int] = []
    crops: list[Crop] = []
    priors: list[float] = []
    skip_priors: list[float] = []
    seen: dict[tuple, int] = {}
    for start in range(len(positions) - 1):
        for end in range(start + 1, len(positions)):
            width = positions[end] - positions[start]
            key = _segment_key(line, positions[start], positions[end], hd)
            if width <= MAX_DIGIT_WIDTH * hd or _single_piece(key, line):
                if key not in seen:
                    crop = _segment_crop(line, labels, key)
                    seen[key] = len(crops) if crop is not None else EMPTY
                    if crop is not None:
                        crops.append(crop)
                        priors.append(shape_prior(crop, hd) - _merge_cost(key, line, hd))
                        cuts_a_piece = bool(key[1]) and not _single_piece(key, line)
                        skip = skip_prior(crop, hd) - (CUT_SKIP_COST if cuts_a_piece else 0.0)
                        skip_priors.append(skip)
                spans.append((start, end))
                span_crops.append(seen[key])
            if certain[end]:
                break
    return LineLattice(
        positions=tuple(positions),
        certain=tuple(certain),
        inner=tuple(inner),
        spans=tuple(spans),
        span_crops=tuple(span_crops),
        crops=tuple(crops),
        priors=tuple(priors),
        skip_priors=tuple(skip_priors),
    )


def _merge_cost(key: tuple, line: list[Piece], digit_height: float) -> float:
    """Log prior cost of reading several pieces as one digit.

    Two complete-looking pieces side by side are rarely one digit (a fragment and a
    digit, or a stroke and a bar, often are); and a dot beside a digit, not over or
    under it, is punctuation rather than part of it.
    """
    whole, cut = key
    members = sorted(set(whole) | {index for index, _, _ in cut})
    if len(members) < 2:
        return 0.0
    pieces = [line[index] for index in members]
    complete = [p for p in pieces if _is_complete(p, digit_height)]
    cost = MERGE_COST * max(0, len(complete) - 1)
    for piece in pieces:
        if _is_dot(piece, digit_height) and not any(
            min(piece.x1, other.x1) - max(piece.x0, other.x0) > 0.3 * piece.w for other in complete
        ):
            cost += DOT_MERGE_COST
    return cost


def _is_dot(piece: Piece, digit_height: float) -> bool:
    return max(piece.w, piece.h) < 0.4 * digit_height


def _single_piece(key: tuple, line: list[Piece]) -> bool:
    """Whether a segment holds exactly one whole piece (always worth reading whole)."""
    whole, cut = key
    if len(whole) == 1 and not cut:
        return True
    if len(cut) == 1 and not whole:
        index, lo, hi = cut[0]
        return lo <= line[index].x0 and hi >= line[index].x1
    return False


def _inner_cuts(piece: Piece, labels: np.ndarray, digit_height: float) -> list[float]:
    """Candidate cuts inside a piece too wide for one digit: columns of least ink."""
    if not _is_wide(piece, digit_height):
        return []
    crop = np.isin(labels[piece.y0 : piece.y1, piece.x0 : piece.x1], piece.labels)
    profile = crop.sum(axis=0).astype(np.float64)
    smooth = max(1, round(0.04 * digit_height))
    profile = np.convolve(profile, np.ones(2 * smooth + 1) / (2 * smooth + 1), mode="same")
    margin = max(1, round(0.15 * digit_height))
    if piece.w <= 2 * margin:
        return []
    inner = profile[margin : piece.w - margin]
    # Local minima (plateaus count once), deepest first, kept apart from each other.
    left = np.concatenate(([np.inf], inner[:-1]))
    right = np.concatenate((inner[1:], [np.inf]))
    minima = np.flatnonzero((inner <= left) & (inner < right))
    minima = minima[np.argsort(inner[minima], kind="stable")]
    expected = max(1, round(piece.w / (0.65 * max(piece.h, 0.8 * digit_height))))
    # Where digits touch, little ink crosses the column; inside a stroke, much does.
    # The deepest minima are kept whatever their depth, as many as there are probably
    # digits to separate; shallower ones only if they are clearly low.
    shallow = 0.85 * float(np.median(profile[profile > 0]))
    chosen: list[int] = []
    for index in minima:
        if len(chosen) >= expected - 1 and inner[index] > shallow:
            break
        if all(abs(index - other) >= 0.12 * digit_height for other in chosen):
            chosen.append(int(index))
        if len(chosen) >= expected + 1:
            break
    return sorted(float(piece.x0 + margin + index) for index in chosen)


def _segment_key(line: list[Piece], left: float, right: float, digit_height: float) -> tuple:
    """What lies between two boundaries: whole pieces centred there, columns of wide ones."""
    whole = []
    cut = []
    for index, piece in enumerate(line):
        if _is_wide(piece, digit_height):
            lo, hi = max(left, piece.x0), min(right, piece.x1)
            if hi - lo >= 1:
                cut.append((index, round(lo), round(hi)))
        elif left <= piece.cx < right:
            whole.append(index)
    return (tuple(whole), tuple(cut))


def _segment_crop(line: list[Piece], labels: np.ndarray, key: tuple) -> Crop | None:
    """The ink of a segment (see ``_segment_key``), cropped to its bounding box."""
    whole, cut = key
    if not whole and not cut:
        return None
    members = list(whole) + [index for index, _, _ in cut]
    x0 = min([line[i].x0 for i in whole] + [lo for _, lo, _ in cut])
    x1 = max([line[i].x1 for i in whole] + [hi for _, _, hi in cut])
    y0 = min(line[i].y0 for i in members)
    y1 = max(line[i].y1 for i in members)
    region = labels[y0:y1, x0:x1]
    ink = np.zeros(region.shape, dtype=bool)
    for i in whole:
        ink |= np.isin(region, line[i].labels)
    for i, lo, hi in cut:
        ink[:, lo - x0 : hi - x0] |= np.isin(region[:, lo - x0 : hi - x0], line[i].labels)
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if len(rows) == 0:
        return None
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return Crop(
        x0 + int(cols[0]),
        y0 + int(rows[0]),
        int(cols[-1] - cols[0] + 1),
        int(rows[-1] - rows[0] + 1),
        ink.astype(np.uint8) * 255,
    )


def shape_prior(crop: Crop, digit_height: float) -> float:
    """Log prior that a crop is one whole digit of this string, from its shape alone.

    Digits of one string have about the same height; a digit is rarely wider than
    tall; and a digit is drawn with strokes, not filled.
    """
    height = crop.h / digit_height
    width = crop.w / digit_height
    prior = 0.0
    if height < 0.75:
        prior -= 10.0 * (0.75 - height)
    elif height > 1.4:
        prior -= 6.0 * (height - 1.4)
    if width > 1.2:
        prior -= 6.0 * (width - 1.2)
    aspect = crop.w / crop.h
    if aspect > 1.35:
        prior -= 5.0 * (aspect - 1.35)
    # A small filled blob is a dot; a large one may be a digit drawn with a fat marker.
    filled = _fill_ratio(crop)
    if filled > 0.3 and height < 0.6:
        prior -= 10.0 * (filled - 0.3)
    return prior


def skip_prior(crop: Crop, digit_height: float) -> float:
    """Log prior that a crop is not a digit at all: a dot, a comma, a dash, a smudge."""
    height = crop.h / digit_height
    width = crop.w / digit_height
    return -0.5 - 20.0 * max(0.0, height - 0.4) - 4.0 * max(0.0, width - 0.9)


def _fill_ratio(crop: Crop) -> float:
    """Stroke width over the crop's longest side: about 0.1 for a pen, 0.5 for a dot."""
    mask = crop.mask
    area = cv2.countNonZero(mask)
    inner = cv2.countNonZero(cv2.erode(mask, np.ones((3, 3), np.uint8), borderValue=0))
    width = 2.0 * area / max(1, area - inner)
    return width / max(crop.w, crop.h)


#: Cost of each extra digit in a reading: without it, splitting a digit in two is free
#: whenever both halves happen to look like confident digits.
DIGIT_COST = 1.0


def choose_segments(lattice: LineLattice, probs: np.ndarray) -> list[int]:
    """Indices (into the lattice's crops) of the best reading of a line.

    ``probs`` holds the classifier's probabilities for the lattice's crops. A reading
    is a path through the candidate boundaries; each step is a crop read as a digit,
    scoring log(top probability) + shape prior - DIGIT_COST, or a crop skipped as not
    a digit, scoring its skip prior. Dynamic programming finds the best path.
    """
    count = len(lattice.positions)
    best = np.full(count, -np.inf)
    best[0] = 0.0
    back: list[tuple[int, int] | None] = [None] * count
    top = np.log(np.clip(probs.max(axis=1), 1e-6, 1.0)) if len(probs) else np.zeros(0)
    for (start, end), index in zip(lattice.spans, lattice.span_crops, strict=True):
        if best[start] == -np.inf:
            continue
        base = best[start] - (CUT_COST if lattice.inner[end] and end < count - 1 else 0.0)
        if index == EMPTY:
            read, skip = -np.inf, base
        else:
            read = base + top[index] + lattice.priors[index] - DIGIT_COST
            skip = base + lattice.skip_priors[index]
        if read > best[end]:
            best[end] = read
            back[end] = (start, index)
        if skip > best[end]:
            best[end] = skip
            back[end] = (start, -1)
    path: list[int] = []
    node = count - 1
    while node > 0 and back[node] is not None:
        start, index = back[node]  # type: ignore[misc]
        if index >= 0:
            path.append(index)
        node = start
    return path[::-1]


# ---------------------------------------------------------------------- pipeline


def segment(grey: np.ndarray, max_candidates: int = MAX_CANDIDATES) -> Segmentation:
    """Digit hypotheses of a grey uint8 image, line by line in reading order."""
    if grey.ndim != 2 or grey.dtype != np.uint8:
        raise ValueError("segment() expects a 2-D uint8 grey image")
    background = fitted_background(grey)
    contrast, scale = _working_contrast(grey, background)
    ink = binarize_components(contrast)
    lines = find_ruled_lines(contrast)
    if lines:
        result = segment_mask(remove_ruled_lines(ink.mask, lines), max_candidates)
    else:
        result = segment_mask(ink.mask, max_candidates, ink)
    return dataclasses.replace(result, scale=scale)


def _working_contrast(grey: np.ndarray, background: Background) -> tuple[np.ndarray, float]:
    """The contrast map at the working scale, and that scale (see ``working_shrink``).

    When the digits are large enough in the coarse copy the background was estimated
    on, its contrast is used as it is: no full-size pass at all.
    """
    factor = working_shrink(background)
    coarse = round(background.factor)
    if factor >= coarse:
        return background.coarse_contrast, background.coarse_contrast.shape[1] / grey.shape[1]
    small = shrink(grey, factor)
    return contrast_map(small, background), small.shape[1] / grey.shape[1]


def segment_mask(
    mask: np.ndarray, max_candidates: int = MAX_CANDIDATES, ink: InkMask | None = None
) -> Segmentation:
    """Steps 5-7 on a clean ink mask (and its components, if already labelled)."""
    components = find_pieces(mask, ink)
    if not components.pieces:
        return Segmentation((), 0.0, False)
    hd = components.digit_height
    grouped = [
        line
        for line in group_lines(components.pieces, hd)
        if not is_stray(line, hd, components.pen)
    ]
    truncated = False
    kept: list[list[Piece]] = []
    total = 0
    for line in grouped:
        if total + len(line) > max_candidates:
            line = sorted(line, key=lambda p: p.cx)[: max_candidates - total]
            truncated = True
        if line:
            kept.append(line)
            total += len(line)
        if truncated:
            break
    lattices = tuple(build_lattice(line, components.labels, hd) for line in kept)
    return Segmentation(lattices, hd, truncated)
