"""Where one digit ends and the next begins (steps 7-8 of ``segmentation``).

``build_lattice`` lists, for one line of pieces, the places where a digit may end:
clear gaps between complete-looking pieces are certain; a piece too wide for one digit
(touching digits) gets candidate cuts at the columns of least ink; a fragment may
belong to either neighbour or stand alone (a broken pencil line). Every segment between
two candidate places is one crop. After the classifier has scored every crop of the
photo in one batch, ``choose_segments`` finds the best path through each lattice by
dynamic programming over log-probabilities plus shape priors: the classifier settles
what geometry alone cannot.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from .pieces import Piece

#: A piece wider than this many times its height (or the digit height) may hold
#: touching digits and gets candidate cuts.
WIDE_PIECE = 1.1
#: Widest segment (in digit heights) the lattice considers to be one digit.
MAX_DIGIT_WIDTH = 1.5
#: Log prior cost of cutting a connected piece: most pieces are one digit; touching
#: digits must be read clearly better cut than whole. A cut at a valley of the piece's
#: ink of relative depth d (``_valley_depths``) costs CUT_COST x (1 - d): two digits
#: touch at a narrow joint between tall strokes (d near 1), while a dip in the ink of
#: one digit is shallow (d near 0).
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
    #: Log prior cost of a reading passing each boundary: 0 between pieces, the cut's
    #: cost where it cuts through a piece (between touching digits, if any).
    cut_costs: tuple[float, ...]
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
    #: The digit height (pixels) the line's pieces were judged against.
    digit_height: float = 0.0

    @property
    def smallest_crops(self) -> list[int]:
        """The crops between neighbouring boundaries: each piece of the line on its own,
        and each part of a piece a cut goes through. What the line holds, whichever of
        them a reading chooses or merges."""
        found = {
            index
            for (start, end), index in zip(self.spans, self.span_crops, strict=True)
            if end == start + 1 and index != EMPTY
        }
        return sorted(found)


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
    cut_costs: list[float] = [0.0]
    for left, right in itertools.pairwise(line):
        cuts = _inner_cuts(left, labels, hd)
        positions.extend(cut.x for cut in cuts)
        certain.extend([False] * len(cuts))
        cut_costs.extend(cut.cost for cut in cuts)
        gap = right.x0 - left.x1
        boundary = (left.x1 + right.x0) / 2 if gap >= 0 else (left.cx + right.cx) / 2
        sure = gap > 0.05 * hd and _is_complete(left, hd) and _is_complete(right, hd)
        sure = sure or gap > 0.6 * hd
        positions.append(boundary)
        certain.append(sure)
        cut_costs.append(0.0)
    cuts = _inner_cuts(line[-1], labels, hd)
    positions.extend(cut.x for cut in cuts)
    certain.extend([False] * len(cuts))
    cut_costs.extend(cut.cost for cut in cuts)
    positions.append(float(line[-1].x1))
    certain.append(True)
    cut_costs.append(0.0)
    order = np.argsort(positions, kind="stable")
    positions = [positions[i] for i in order]
    certain = [certain[i] for i in order]
    cut_costs = [cut_costs[i] for i in order]

    spans: list[tuple[int, int]] = []
    span_crops: list[int] = []
    crops: list[Crop] = []
    priors: list[float] = []
    skip_priors: list[float] = []
    seen: dict[tuple, int] = {}
    for start in range(len(positions) - 1):
        for end in range(start + 1, len(positions)):
            key = _segment_key(line, positions[start], positions[end], hd)
            if _ink_width(key, line) <= MAX_DIGIT_WIDTH * hd or _single_piece(key, line):
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
        cut_costs=tuple(cut_costs),
        spans=tuple(spans),
        span_crops=tuple(span_crops),
        crops=tuple(crops),
        priors=tuple(priors),
        skip_priors=tuple(skip_priors),
        digit_height=hd,
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


class Cut(NamedTuple):
    """A candidate cut through a piece: its column and the log prior cost of cutting."""

    x: float
    cost: float


def _inner_cuts(piece: Piece, labels: np.ndarray, digit_height: float) -> list[Cut]:
    """Candidate cuts inside a piece too wide for one digit, at the deepest valleys of
    its column-ink profile, each with its prior cost (see ``CUT_COST``)."""
    if not _is_wide(piece, digit_height):
        return []
    crop = _piece_ink(labels[piece.y0 : piece.y1, piece.x0 : piece.x1], piece)
    profile = crop.sum(axis=0).astype(np.float64)
    smooth = max(1, round(0.04 * digit_height))
    profile = np.convolve(profile, np.ones(2 * smooth + 1) / (2 * smooth + 1), mode="same")
    margin = max(1, round(0.15 * digit_height))
    if piece.w <= 2 * margin:
        return []
    inner = profile[margin : piece.w - margin]
    # Local minima (plateaus count once), kept apart from each other.
    left = np.concatenate(([np.inf], inner[:-1]))
    right = np.concatenate((inner[1:], [np.inf]))
    minima = np.flatnonzero((inner <= left) & (inner < right))
    # Deepest valleys first, measured against the ink on either side: the columns where
    # two digits touch are low between two tall ones, while the long thin bar of a 7
    # (or the top of a 5) is low too, but only beside the piece's edge.
    depths = _valley_depths(profile, minima + margin)
    order = np.argsort(-depths, kind="stable")
    expected = max(1, round(piece.w / (0.65 * max(piece.h, 0.8 * digit_height))))
    # Where digits touch, little ink crosses the column; inside a stroke, much does.
    # The deepest valleys are kept whatever ink crosses them, as many as there are
    # probably digits to separate; others only if clearly little does.
    shallow = 0.85 * float(np.median(profile[profile > 0]))
    valleys = [
        Cut(float(piece.x0 + margin + index), CUT_COST * (1.0 - float(depth)))
        for index, depth in zip(minima[order], depths[order], strict=True)
    ]
    chosen: list[Cut] = []

    def apart(cut: Cut) -> bool:
        return all(abs(cut.x - other.x) >= 0.12 * digit_height for other in chosen)

    for cut, ink in zip(valleys, inner[minima[order]], strict=True):
        if len(chosen) >= expected - 1 and ink > shallow:
            break
        if apart(cut):
            chosen.append(cut)
        if len(chosen) >= expected + 1:
            break
    # Every part must be narrow enough to be read as one digit: where two cuts (or a cut
    # and the piece's edge) lie further apart, the deepest valley between them is cut too.
    for cut in valleys:
        bounds = [float(piece.x0), *sorted(other.x for other in chosen), float(piece.x1)]
        too_wide = [
            (a, b) for a, b in itertools.pairwise(bounds) if b - a > MAX_DIGIT_WIDTH * digit_height
        ]
        if not too_wide:
            break
        if any(a < cut.x < b for a, b in too_wide) and apart(cut):
            chosen.append(cut)
    return sorted(chosen)


def _valley_depths(profile: np.ndarray, minima: np.ndarray) -> np.ndarray:
    """Each minimum's depth as a valley, as a share of its lower rim.

    A rim is the highest point between the minimum and the nearest lower point on that
    side (or the end of the profile): a valley's prominence. As a share of the rim, a
    narrow joint between two strokes scores near 1, and a wobble in a thick stroke
    near 0.
    """
    depths = np.empty(len(minima))
    for k, index in enumerate(minima):
        value = float(profile[index])
        top = min(_rim(profile[:index][::-1], value), _rim(profile[index + 1 :], value))
        depths[k] = (top - value) / max(top, 1e-9)
    return depths


def _rim(side: np.ndarray, value: float) -> float:
    """The highest point of ``side`` (outwards from a minimum) before it drops below
    ``value``."""
    lower = np.flatnonzero(side < value)
    return float(side[: lower[0] if len(lower) else len(side)].max(initial=value))


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


def _ink_width(key: tuple, line: list[Piece]) -> float:
    """How wide the ink of a segment is (boundaries lie mid-gap, so a segment between
    two of them is wider than the digit it may hold); 0 for a segment without ink."""
    whole, cut = key
    if not whole and not cut:
        return 0.0
    x0 = min([line[i].x0 for i in whole] + [lo for _, lo, _ in cut])
    x1 = max([line[i].x1 for i in whole] + [hi for _, _, hi in cut])
    return float(x1 - x0)


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
        ink |= _piece_ink(region, line[i])
    for i, lo, hi in cut:
        ink[:, lo - x0 : hi - x0] |= _piece_ink(region[:, lo - x0 : hi - x0], line[i])
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


def _piece_ink(region: np.ndarray, piece: Piece) -> np.ndarray:
    """Where a region of the label image holds the piece's ink."""
    # Most pieces are one component: a comparison is several times quicker than isin.
    if len(piece.labels) == 1:
        return region == piece.labels[0]
    return np.isin(region, piece.labels)


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


def choose_segments(
    lattice: LineLattice, probs: np.ndarray, digit_like: np.ndarray | None = None
) -> list[int]:
    """Indices (into the lattice's crops) of the best reading of a line.

    ``probs`` holds the classifier's probabilities for the lattice's crops, and
    ``digit_like`` (default: all 1) its probability that each crop is one whole digit
    at all (``Classifier.score``). A reading is a path through the candidate boundaries;
    each step is a crop read as a digit, scoring log(top probability x digit-likeness)
    + shape prior - DIGIT_COST, or a crop skipped as not a digit, scoring its skip
    prior, less the cost of the cut it ends at, if any. Dynamic programming finds the
    best path.
    """
    count = len(lattice.positions)
    best = np.full(count, -np.inf)
    best[0] = 0.0
    back: list[tuple[int, int] | None] = [None] * count
    if len(probs):
        like = np.ones(len(probs)) if digit_like is None else np.asarray(digit_like)
        top = np.log(np.clip(probs.max(axis=1) * like, 1e-6, 1.0))
    else:
        top = np.zeros(0)
    for (start, end), index in zip(lattice.spans, lattice.span_crops, strict=True):
        if best[start] == -np.inf:
            continue
        base = best[start] - lattice.cut_costs[end]
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
