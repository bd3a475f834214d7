"""Connected components of the ink judged against the typical digit height: digit
pieces, and the lines they form (steps 5-6 of ``segmentation``).

The typical height is the photo's, except in rows of writing far taller than it (a number
written large beside printed labels that outweigh it), which are judged against their
own height and pen (``tall_writing_rows``).

Specks, page edges, blobs, hairlines, dots, commas and dashes are dropped; pieces of
one digit that overlap in x (a 5's detached bar, a crossed 7, an open 4) are merged;
pieces are chained left to right into lines, and lines ordered top to bottom.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .ink import InkMask, label_components, touches_border, weighted_median
from .ruled_lines import Erased

#: Smallest digit height (pixels, in the working image) worth reading.
MIN_DIGIT_HEIGHT = 10
#: Pieces kept for merging, largest first. Merging and line grouping compare pieces pair
#: by pair, so a noise image of thousands of specks would take seconds; 300 pieces still
#: hold a page of 120 digits (the cap on what is read), each broken in two or three.
MAX_PIECES = 300


#: A component this many digit heights tall (and no wider than a digit) may be two
#: digits of neighbouring lines that touch, one above the other (cramped writing).
STACKED_MIN_HEIGHT = 2.0
STACKED_MAX_HEIGHT = 3.2
#: A component more than this many digit heights tall is no digit of that height; rows
#: of such writing are judged against a height of their own (``tall_writing_rows``).
TALL_WRITING = 2.0
#: Writing of the photo's digit height is at most this many digit heights tall (the
#: limit of ``lattice.shape_prior``'s free range): between it and ``TALL_WRITING`` lie
#: the shorter digits of a number written large, which do not count as writing of the
#: usual size beside it.
USUAL_HEIGHT = 1.4


#: Strokes thinner than this fraction of the writing's pen are hairlines, not writing.
HAIRLINE_PEN = 0.4
#: A component more than this many times as tall as it is wide is a thread (a fragment of
#: an upright line), not even a thin upright 1.
THREAD_ASPECT = 10
#: Ink wholly inside the bands of erased ruled lines and no longer than this many band
#: widths is a scrap of the lines (see ``_line_scraps``).
SCRAP_BANDS = 2
#: A component more than this many of its own strokes long is wire (remnants of ruled
#: lines joined into a mesh), not a digit: an MNIST digit is about 11 strokes tall, a
#: pencil digit at the working scale at most about 40.
WIRE_EXTENT = 80


#: A lone piece this many digit heights above or below every line of writing is no digit.
FAR_SINGLE_GAP = 3.0
#: One-piece lines thinner than this (digit heights), stacked in one column this many or
#: more, are the pieces of an upright line (see ``drop_upright_columns``).
THIN_SINGLE = 0.25
COLUMN_SINGLES = 3


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
class PieceGroup:
    """Pieces judged against one digit height, and the pen they are written with."""

    pieces: list[Piece]
    digit_height: float
    #: Typical stroke width of the writing (pixels): of the digit-sized pieces kept.
    pen: float


@dataclass(frozen=True, slots=True)
class Components:
    """Connected components of the ink mask, as digit pieces grouped by the digit height
    they are judged against: the photo's own first, then any rows of far taller
    writing (see ``tall_writing_rows``)."""

    labels: np.ndarray
    groups: tuple[PieceGroup, ...]

    @property
    def pieces(self) -> list[Piece]:
        return [piece for group in self.groups for piece in group.pieces]

    @property
    def digit_height(self) -> float:
        """The photo's typical digit height (0 when nothing digit-like was found)."""
        return self.groups[0].digit_height if self.groups else 0.0

    @property
    def pen(self) -> float:
        """The pen of the writing of the photo's digit height."""
        return self.groups[0].pen if self.groups else 0.0


def stroke_widths(mask: np.ndarray, labels: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """Mean stroke width per component: twice the area over the boundary length (at
    least 2 pixels: no more of a component's pixels than all can be on its boundary)."""
    eroded = cv2.erode(mask, np.ones((3, 3), np.uint8))
    boundary = cv2.subtract(mask, eroded) > 0
    edge = np.bincount(labels[boundary], minlength=len(areas)).astype(np.float64)
    return 2.0 * areas.astype(np.float64) / np.maximum(edge, 1.0)


def box_stroke_widths(labels: np.ndarray, stats: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """``stroke_widths`` of the ``candidates`` (labels) alone, each measured in its own
    box: for a few large components, cheaper than a pass over the whole image."""
    strokes = np.empty(len(candidates), np.float64)
    for k, label in enumerate(candidates):
        x, y, w, h, area = (int(v) for v in stats[label, :5])
        ink = (labels[y : y + h, x : x + w] == label).astype(np.uint8)
        inner = cv2.erode(ink, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT)
        strokes[k] = 2.0 * area / max(area - cv2.countNonZero(inner), 1)
    return strokes


def is_wire(strokes: np.ndarray, w: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Which components are wire (see ``WIRE_EXTENT``). A stroke is at least 2 pixels
    wide, so only components over ``2 * WIRE_EXTENT`` pixels long can be."""
    return strokes * WIRE_EXTENT < np.maximum(w, h)


def estimate_digit_height(heights: np.ndarray, widths: np.ndarray, areas: np.ndarray) -> float:
    """Typical digit height: the ink-weighted median height of digit-shaped components.

    Weighting by ink makes the many specks of a noisy photo count for little next to
    the digits; leaving out thin upright pieces (1s, but also remnants of lines) keeps
    long line fragments from posing as tall digits, unless nothing else is there.
    """
    tall_enough = heights >= MIN_DIGIT_HEIGHT
    shaped = tall_enough & (heights >= 0.6 * widths) & (heights <= 3.5 * widths)
    if areas[shaped].sum() < 0.3 * areas[tall_enough].sum():
        shaped = tall_enough & (heights >= 0.6 * widths) & (heights <= THREAD_ASPECT * widths)
    if not shaped.any():
        shaped = tall_enough
        if not shaped.any():
            return 0.0
    return weighted_median(heights[shaped], areas[shaped])


def find_pieces(
    mask: np.ndarray, ink: InkMask | None = None, erased: Erased | None = None
) -> Components:
    """Components of a clean ink mask, filtered and merged into digit pieces.

    ``ink`` passes the components already found for this very mask (when no ruled
    lines were removed from it), which saves labelling it again; the mask may then be
    ``ink.faint``, since only the kept components' labels are read. ``erased`` says
    where ruled lines were erased from the mask, when they were.
    """
    height, width = mask.shape
    if ink is not None:
        labels, stats, count = ink.labels, ink.stats, len(ink.stats)
    else:
        count, labels, stats = label_components(mask)
    if count <= 1:
        return Components(labels, ())
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
    if erased is not None and erased.zone is not None:
        usable &= ~_line_scraps(mask, labels, w, h, erased)
    # A margin line and the stubs of the lines that cross it can make one component as
    # digit-shaped as any, and heavier than all the digits: it must not set their height.
    sized = usable & ~is_wire(strokes, w, h)
    if not sized.any():
        sized = usable
    digit_height = estimate_digit_height(h[sized], w[sized], area[sized])
    if digit_height <= 0:
        return Components(labels, ())
    at_border = touches_border(stats, mask.shape)
    # Each component is judged against the digit height of its rows: the photo's own,
    # or that of a row of far taller writing.
    group = np.zeros(count, np.intp)
    heights = [digit_height]
    centre = y + h / 2
    rows = tall_writing_rows(y, h, w, area, sized & ~at_border, digit_height)
    for top, bottom, tall_height in rows:
        group[(centre >= top) & (centre <= bottom)] = len(heights)
        heights.append(tall_height)
    hd = np.asarray(heights)[group]
    small = np.maximum(w, h) < 0.15 * hd
    too_tall = h > TALL_WRITING * hd
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
    pen = weighted_median(strokes[usable], area[usable])
    hairline = (strokes < 0.45 * pen) & (np.minimum(w, h) < 0.2 * hd)
    keep = usable & ~small & ~too_tall & ~edge_piece & ~flat_line & ~thin_line & ~hairline
    stacked = (
        usable
        & ~at_border
        & (h > STACKED_MIN_HEIGHT * hd)
        & (h <= STACKED_MAX_HEIGHT * hd)
        & (w >= 0.4 * hd)
        & (w <= 1.4 * hd)
    )
    grouped: list[list[Piece]] = [[] for _ in heights]
    for i in np.flatnonzero(keep):
        grouped[group[i]].append(
            Piece(
                int(x[i]),
                int(y[i]),
                int(x[i] + w[i]),
                int(y[i] + h[i]),
                [int(i)],
                int(area[i]),
                float(strokes[i]),
            )
        )
    next_label = count
    for i in np.flatnonzero(stacked):
        box = (int(x[i]), int(y[i]), int(w[i]), int(h[i]))
        halves = split_stacked(labels, int(i), box, next_label, float(hd[i]), float(strokes[i]))
        if halves:
            grouped[group[i]].extend(halves)
            next_label += 1
    if sum(len(pieces) for pieces in grouped) > MAX_PIECES:
        grouped = [
            sorted(pieces, key=lambda p: p.area, reverse=True)[:MAX_PIECES] for pieces in grouped
        ]
    groups = []
    for index, (pieces, group_height) in enumerate(zip(grouped, heights, strict=True)):
        pieces = merge_overlapping(pieces, group_height)
        pieces = [
            p
            for p in pieces
            if not is_punctuation(p, group_height) or _over_a_digit(p, pieces, group_height)
        ]
        # The pen of the writing, from the digit-sized pieces only: on squared or ruled
        # paper the remnants of the lines outweigh the digits among all components, and
        # a lone digit would look drawn with another pen than the writing's. Each size
        # of writing has its own: a number written large is written with a broad pen.
        writing = keep & (group == index) & (h >= 0.6 * hd)
        group_pen = weighted_median(strokes[writing], area[writing]) if writing.any() else pen
        groups.append(PieceGroup(pieces, group_height, group_pen))
    return Components(labels, tuple(groups))


def tall_writing_rows(
    y: np.ndarray,
    h: np.ndarray,
    w: np.ndarray,
    area: np.ndarray,
    candidates: np.ndarray,
    digit_height: float,
) -> list[tuple[float, float, float]]:
    """Rows (top, bottom) of writing far taller than the photo's digit height, each with
    its own digit height.

    The digit height is the ink-weighted median of the photo's components: where printed
    words outnumber a number written beside them (a form, a label on a note), it is the
    words' height, and a number several times taller would be dropped as too tall for
    a digit. Components more than ``TALL_WRITING`` digit heights tall whose rows
    overlap form a row; it is read at its own height when its tall components outweigh
    the ink of usual height there (two digits of neighbouring lines that touch are one
    tall component among many usual ones).
    """
    # A thread (a fragment of an upright line, a page's edge) is no writing.
    tall = np.flatnonzero(candidates & (h > TALL_WRITING * digit_height) & (h <= THREAD_ASPECT * w))
    if not len(tall):
        return []
    usual = candidates & (h >= 0.6 * digit_height) & (h <= USUAL_HEIGHT * digit_height)
    centre = y + h / 2
    # Top to bottom, a component starts a new row when it lies below all above it.
    order = tall[np.argsort(y[tall], kind="stable")]
    bottoms = np.maximum.accumulate(y[order] + h[order])
    starts = np.flatnonzero(y[order[1:]] >= bottoms[:-1]) + 1
    rows = []
    for members in np.split(order, starts):
        top = float(y[members].min())
        bottom = float((y[members] + h[members]).max())
        inside = usual & (centre >= top) & (centre <= bottom)
        row_height = estimate_digit_height(h[members], w[members], area[members])
        if row_height > 0 and area[members].sum() > area[inside].sum():
            rows.append((top, bottom, row_height))
    return rows


def _line_scraps(
    mask: np.ndarray, labels: np.ndarray, w: np.ndarray, h: np.ndarray, erased: Erased
) -> np.ndarray:
    """Which components are what is left of the erased lines themselves: a scrap no
    longer than ``SCRAP_BANDS`` bands with no ink outside the bands. Where two lines of
    squared paper cross, each direction's erasure spares the other line's ink as a
    stroke crossing it, and leaves a dot; a page of them reads as rows of 1s."""
    outside = cv2.subtract(mask, erased.zone)
    reaches_out = np.bincount(labels[outside > 0], minlength=len(w)) > 0
    return ~reaches_out & (np.maximum(w, h) <= SCRAP_BANDS * erased.band)


def split_stacked(
    labels: np.ndarray,
    label: int,
    box: tuple[int, int, int, int],
    new_label: int,
    digit_height: float,
    stroke: float,
) -> list[Piece]:
    """Two digits of neighbouring lines that touch, one above the other, as two pieces.

    The component is cut at its narrowest row in its middle part, where the digits
    meet; the lower part takes ``new_label`` in ``labels``. A component without a narrow
    waist there, or whose parts are not both about a digit tall, is left alone (none).
    """
    x0, y0, span, height = box
    region = labels[y0 : y0 + height, x0 : x0 + span]
    rows, cols = np.nonzero(region == label)
    width_per_row = np.bincount(rows, minlength=height)
    low, high = round(0.3 * height), round(0.7 * height)
    cut = low + int(np.argmin(width_per_row[low:high]))
    if width_per_row[cut] > max(0.35 * span, 2.5 * stroke):
        return []
    lower = rows >= cut
    halves = []
    for part, part_label in ((~lower, label), (lower, new_label)):
        part_rows, part_cols = rows[part], cols[part]
        part_height = int(part_rows.max()) + 1 - int(part_rows.min())
        if part_height < 0.6 * digit_height or part_height > 1.4 * digit_height:
            return []
        halves.append(
            Piece(
                x0 + int(part_cols.min()),
                y0 + int(part_rows.min()),
                x0 + int(part_cols.max()) + 1,
                y0 + int(part_rows.max()) + 1,
                [part_label],
                int(part.sum()),
                stroke,
            )
        )
    region[rows[lower], cols[lower]] = new_label
    return halves


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
    """A "line" that is no writing: only fragments, only hairlines (a page edge, the
    scraps of a ruled line), or one piece drawn with another pen than the rest of the
    photo (a page edge's hairline, a shadow's smudge)."""
    if all(piece.h < 0.45 * digit_height for piece in line):
        return True
    if all(piece.stroke < HAIRLINE_PEN * pen for piece in line):
        return True
    return len(line) == 1 and not 0.5 * pen <= line[0].stroke <= 2.2 * pen


def drop_upright_columns(lines: list[list[Piece]], digit_height: float) -> list[list[Piece]]:
    """Without the thin one-piece "lines" stacked in one column, ``COLUMN_SINGLES`` or
    more: the ruled lines cut an upright line (a page's edge, a margin) into pieces one
    line tall, each alone in its line and each as thin as a 1."""
    singles = [
        line[0] for line in lines if len(line) == 1 and line[0].w < THIN_SINGLE * digit_height
    ]
    upright: set[int] = set()
    for piece in singles:
        column = [
            other
            for other in singles
            if min(piece.x1, other.x1) - max(piece.x0, other.x0) >= 0.5 * min(piece.w, other.w)
        ]
        if len(column) >= COLUMN_SINGLES:
            upright.update(id(other) for other in column)
    return [line for line in lines if not (len(line) == 1 and id(line[0]) in upright)]


def drop_far_singles(lines: list[list[Piece]], digit_height: float) -> list[list[Piece]]:
    """Without the one-piece "lines" far above or below all the real writing.

    People write a number as a block of lines a line gap apart; one lone mark many digit
    heights away from every line of two or more digits is the tip of a shadow or a scrap
    of a ruled line past its end, not a digit (``FAR_SINGLE_GAP``). A lone digit near
    the writing joins the block, so a lone digit a line gap beyond it is kept too.
    """
    if all(len(line) == 1 for line in lines):
        return lines
    # Lines chained by gaps of at most FAR_SINGLE_GAP form blocks; in a sweep from the
    # top, a line starts a new block when it lies that far below all above it.
    tops = [min(p.y0 for p in line) for line in lines]
    bottoms = [max(p.y1 for p in line) for line in lines]
    block_of = [0] * len(lines)
    block, bottom = -1, -np.inf
    for index in sorted(range(len(lines)), key=tops.__getitem__):
        if tops[index] - bottom > FAR_SINGLE_GAP * digit_height:
            block += 1
        block_of[index] = block
        bottom = max(bottom, bottoms[index])
    writing = {block_of[k] for k, line in enumerate(lines) if len(line) >= 2}
    return [line for k, line in enumerate(lines) if block_of[k] in writing]


def group_lines(pieces: list[Piece], digit_height: float) -> list[list[Piece]]:
    """Chain pieces left to right into lines (tolerates a tilted string), top to bottom.

    A piece joins the line whose band it overlaps most in height: the band its latest
    complete digits span (the latest, because a tilted string drifts; complete ones,
    because a dot or a fragment is a poor guide). A line of fragments only takes a piece
    that no line of digits will.
    """
    lines: list[list[Piece]] = []
    for piece in sorted(pieces, key=lambda p: p.x0):
        best, best_rank = None, (False, 0.0)
        for line in lines:
            complete = [p for p in line[-3:] if p.h >= 0.6 * digit_height]
            guides = complete or [max(line[-3:], key=lambda p: p.h)]
            top, bottom = min(p.y0 for p in guides), max(p.y1 for p in guides)
            overlap = min(bottom, piece.y1) - max(top, piece.y0)
            fraction = overlap / max(1, min(bottom - top, piece.h))
            gap = piece.x0 - line[-1].x1
            rank = (bool(complete), fraction)
            if fraction > 0.35 and gap < 4 * digit_height and rank > best_rank:
                best, best_rank = line, rank
        if best is None:
            lines.append([piece])
        else:
            best.append(piece)
    lines.sort(key=lambda line: float(np.median([p.cy for p in line])))
    return lines
