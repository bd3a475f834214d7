"""Find the digits in a grey photo: ``segment`` runs the steps, each in its own module.

0. A photo smaller than ``WORK_MIN_SIDE`` is enlarged; one of large digits is shrunk
   (after step 1, ``ink.working_shrink``).
1-3. ``ink``: background and polarity, contrast, binary ink mask.
4. ``ruled_lines``: ruled and squared paper lines erased.
5-6. ``pieces``: digit pieces and the lines they form; scraps of the erased lines drop.
   Each line keeps the digit height it was judged against (the photo's, or that of a
   row of far taller writing).
7-8. ``lattice``: candidate digit boundaries and crops; the best reading is chosen after
   the classifier has scored the crops (``choose_segments``, called by the pipeline).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from .ink import (
    InkMask,
    binarize_components,
    contrast_map,
    fitted_background,
    shrink,
    working_shrink,
)
from .lattice import Crop, LineLattice, build_lattice
from .pieces import (
    THREAD_ASPECT,
    WIRE_EXTENT,
    Piece,
    box_stroke_widths,
    drop_far_singles,
    drop_upright_columns,
    estimate_digit_height,
    find_pieces,
    group_lines,
    is_stray,
    is_wire,
)
from .ruled_lines import Erased, default_line_length, erase_ruled_lines, find_ruled_lines

#: At most this many digits are read from one photo; the rest is reported as truncated.
MAX_CANDIDATES = 120
#: Segmentation works on images at least this long on their longest side: its pixel
#: constants (the morphology's kernels, the ruled-line search's runs and gaps) were set
#: on photos of 1280-1600 pixels, and a smaller photo is enlarged to this first.
WORK_MIN_SIDE = 1280


@dataclass(frozen=True, slots=True)
class Segmentation:
    lines: tuple[LineLattice, ...]
    #: The photo's typical digit height in pixels (0 when nothing digit-like was found);
    #: a line of far taller writing holds its own (``LineLattice.digit_height``).
    digit_height: float
    truncated: bool
    #: Segmentation pixels per pixel of the image given to ``segment`` (crops' boxes are
    #: in the segmentation's pixels).
    scale: float = 1.0

    @property
    def crops(self) -> list[Crop]:
        """Every crop of every line, in order: the batch to classify."""
        return [crop for line in self.lines for crop in line.crops]


def segment(grey: np.ndarray, max_candidates: int = MAX_CANDIDATES) -> Segmentation:
    """Digit hypotheses of a grey uint8 image, line by line in reading order."""
    if grey.ndim != 2 or grey.dtype != np.uint8:
        raise ValueError("segment() expects a 2-D uint8 grey image")
    contrast, scale = _working_contrast(grey)
    ink = binarize_components(contrast)
    # A ruled line is longer than any stroke of a digit: the digits already standing
    # free of lines say how long a stroke can be.
    stroke_limit = 1.8 * _free_digit_height(ink)
    lines = find_ruled_lines(
        contrast, max(round(stroke_limit), default_line_length(contrast)), ink.levels[1]
    )
    if lines:
        erased = erase_ruled_lines(ink.mask(), lines)
        result = segment_mask(erased.mask, max_candidates, erased=erased)
    else:
        result = segment_mask(ink.faint, max_candidates, ink)
    return dataclasses.replace(result, scale=scale)


def _enlarged(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """``grey`` enlarged (bilinear) to ``WORK_MIN_SIDE`` if smaller, and the factor."""
    longest = max(grey.shape)
    if longest >= WORK_MIN_SIDE:
        return grey, 1.0
    height, width = grey.shape
    factor = WORK_MIN_SIDE / longest
    size = (round(width * factor), round(height * factor))
    enlarged = cv2.resize(grey, size, interpolation=cv2.INTER_LINEAR)
    return enlarged, enlarged.shape[1] / width


def _free_digit_height(ink: InkMask) -> float:
    """Digit height from the components that are not joined to lines or the page edge."""
    height, width = ink.labels.shape
    stats = ink.stats
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    area = stats[:, cv2.CC_STAT_AREA]
    # A thread-thin upright piece is a fragment of a vertical line or of the page's
    # edge, however tall: were it counted, a page whose digits all touch its lines would
    # take the fragment's height for theirs, and no line would be long enough to erase.
    free = (area >= 6) & (w < 0.5 * width) & (h < 0.5 * height) & (h <= THREAD_ASPECT * w)
    free[0] = False
    # So is wire: the grid at a page's darker edge, joined into one mesh.
    long = np.flatnonzero(free & (np.maximum(w, h) > 2 * WIRE_EXTENT))
    strokes = box_stroke_widths(ink.labels, stats, long)
    free[long[is_wire(strokes, w[long], h[long])]] = False
    return estimate_digit_height(h[free], w[free], area[free]) if free.any() else 0.0


def _working_contrast(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """The contrast map at the working scale, and that scale (working pixels per pixel
    of ``grey``).

    A photo smaller than ``WORK_MIN_SIDE`` is enlarged to it, unless its digits are
    large enough to be shrunk again (see ``working_shrink``): enlarging and then
    shrinking would only blur its thin lines. When the digits are large enough in the
    coarse copy the background was estimated on, its contrast is used as it is: no
    full-size pass at all.
    """
    work, enlarged = _enlarged(grey)
    background = fitted_background(work)
    factor = working_shrink(background)
    if enlarged > 1.0 and factor > 1:
        work, enlarged = grey, 1.0
        background = fitted_background(work)
        factor = working_shrink(background)
    coarse = round(background.factor)
    if factor >= coarse:
        contrast = background.coarse_contrast
    else:
        contrast = contrast_map(shrink(work, factor), background)
    return contrast, enlarged * contrast.shape[1] / work.shape[1]


def segment_mask(
    mask: np.ndarray,
    max_candidates: int = MAX_CANDIDATES,
    ink: InkMask | None = None,
    erased: Erased | None = None,
) -> Segmentation:
    """Steps 5-7 on a clean ink mask (and its components, if already labelled, or
    where ruled lines were erased from it)."""
    components = find_pieces(mask, ink, erased)
    if not components.pieces:
        return Segmentation((), 0.0, False)
    # Each group's lines, judged against its digit height, then all top to bottom.
    found: list[tuple[list[Piece], float]] = []
    for group in components.groups:
        hd = group.digit_height
        lines = [
            line for line in group_lines(group.pieces, hd) if not is_stray(line, hd, group.pen)
        ]
        found.extend((line, hd) for line in drop_far_singles(drop_upright_columns(lines, hd), hd))
    found.sort(key=lambda item: float(np.median([p.cy for p in item[0]])))
    truncated = False
    kept: list[tuple[list[Piece], float]] = []
    total = 0
    for line, hd in found:
        if total + len(line) > max_candidates:
            line = sorted(line, key=lambda p: p.cx)[: max_candidates - total]
            truncated = True
        if line:
            kept.append((line, hd))
            total += len(line)
        if truncated:
            break
    lattices = tuple(build_lattice(line, components.labels, hd) for line, hd in kept)
    return Segmentation(lattices, components.digit_height, truncated)
