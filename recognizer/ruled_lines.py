"""Ruled and squared paper: find the long straight lines and erase them, but not the
strokes that cross them (step 4 of ``segmentation``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from .ink import ink_levels, label_components

#: A straight run at least this fraction of the image's shorter side is a ruled line.
LINE_MIN_FRACTION = 0.3
#: Longest side of the copy ruled lines are looked for in.
LINE_SEARCH_SIDE = 640
#: Ruled paper has many lines: the transform runs only when the straight runs add up
#: to at least this many lines' length (a page's edges alone do not).
LINE_EVIDENCE = 4
#: ...and only when some connected run spans at least this share of the shortest line.
LINE_REACH = 0.75
#: Shortest straight run (pixels, in that copy) that may be part of a ruled line, and
#: the thickness from which it is a stroke rather than a ruled line.
LINE_RUN = 6
LINE_THICK = 5
#: A line is in the ink mask when at least this share of the samples along it touch ink.
LINE_INK_COVERAGE = 0.6
#: Ruled lines are looked for within this many degrees of horizontal and vertical.
LINE_MAX_TILT = 12
#: On a ruled page (at least this many lines in one direction), a line's free ends are
#: followed as far as its ink goes, across gaps up to this many erasing bands long.
RULED_PAGE_LINES = 3
LINE_GAP_BANDS = 3
#: The transform does not run when straight runs cover more than this share of the copy.
LINE_RUNS_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class RuledLine:
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def horizontal(self) -> bool:
        return abs(self.x1 - self.x0) >= abs(self.y1 - self.y0)


def find_ruled_lines(
    contrast: np.ndarray, min_length: int | None = None, weak: int | None = None
) -> list[RuledLine]:
    """Long straight lines within ``LINE_MAX_TILT`` degrees of horizontal or vertical.

    On a half-size copy of the contrast, thresholded at the faint-ink level and closed
    along each direction in turn (which joins the dashes a faint line breaks into), a
    probabilistic Hough transform finds segments many times longer than any stroke of a
    digit, at whatever tilt the photo has. ``weak`` is the contrast's faint-ink level
    (``ink_levels``), when known.
    """
    height, width = contrast.shape
    if min_length is None:
        min_length = default_line_length(contrast)
    if weak is None:
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
    # The transform joins a line's dashes across gaps up to this long.
    gap = max(3, length // 15)
    bridge = 5
    lines = []
    for horizontal in (True, False):
        kernel = np.ones((1, bridge) if horizontal else (bridge, 1), np.uint8)
        joined = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, kernel)
        # The transform is the dear part. Its input is only what lies in straight runs
        # along the direction (a line tilted by up to 12 degrees still has runs of
        # several pixels; dots, noise and strokes across mostly do not), and it is
        # skipped when those runs do not add up to several lines' length, or when none
        # of them comes near one line's length (``_has_long_run``).
        run = np.ones((1, LINE_RUN) if horizontal else (LINE_RUN, 1), np.uint8)
        runs = cv2.morphologyEx(joined, cv2.MORPH_OPEN, run)
        # Evidence counts only thin runs: the inside of a thick stroke runs every way.
        across = np.ones((LINE_THICK, 1) if horizontal else (1, LINE_THICK), np.uint8)
        thin = cv2.subtract(runs, cv2.morphologyEx(binary, cv2.MORPH_OPEN, across))
        if cv2.countNonZero(thin) < LINE_EVIDENCE * length:
            continue
        # A copy mostly covered in straight runs is texture or noise, not a page with
        # lines on it; the transform's cost grows with every one of those pixels.
        if cv2.countNonZero(runs) > LINE_RUNS_SHARE * runs.size:
            continue
        if not _has_long_run(runs, length, gap, horizontal):
            continue
        found = cv2.HoughLinesP(
            runs,
            rho=1,
            theta=math.pi / 180,
            threshold=max(10, length // 2),
            minLineLength=length,
            maxLineGap=gap,
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


def _has_long_run(runs: np.ndarray, length: int, gap: int, horizontal: bool) -> bool:
    """Whether some connected run, across gaps up to ``gap`` long, could be part of a
    line ``length`` long.

    Digits' strokes are short: on plain paper no run comes near a line's length, and
    the transform, which costs votes x angles for every pixel of every stroke, is
    skipped. Labelling a copy shrunk along the direction by more than the gap (and twice
    across, so a tilted line stays one piece) is cheap, and joins a faint line's dashes
    wherever the transform would join them.
    """
    height, width = runs.shape
    step = gap + 1  # a gap shorter than a cell never leaves a whole cell empty
    size = (max(1, width // step), max(1, height // 2))
    if not horizontal:
        size = (max(1, width // 2), max(1, height // step))
    pooled = cv2.resize(runs, size, interpolation=cv2.INTER_AREA)
    _, _, stats = label_components(cv2.threshold(pooled, 0, 255, cv2.THRESH_BINARY)[1])
    extent = stats[1:, cv2.CC_STAT_WIDTH if horizontal else cv2.CC_STAT_HEIGHT]
    return bool(extent.size) and int(extent.max()) * step >= LINE_REACH * length


class Erased(NamedTuple):
    """An ink mask with its ruled lines erased, and where they were."""

    mask: np.ndarray
    #: 255 where a line was erased (the bands around the lines), or None if none was.
    zone: np.ndarray | None
    #: The bands' width (pixels).
    band: int


def erase_ruled_lines(mask: np.ndarray, lines: list[RuledLine]) -> Erased:
    """Erase the lines' pixels, except those of strokes that cross a line.

    A pixel of a horizontal line belongs to a stroke too when the ink runs on across
    the line (a vertical run longer than the line is thick), and likewise for vertical
    lines; those pixels stay. A "line" much thicker than the others is the straight
    stroke of a large digit (a 1, a 7's stem) and is left alone.
    """
    thickness, coverage = _line_ink(mask, lines)
    # The lines' typical thickness is measured on the lines that are in the mask: a
    # line too faint to be ink touches ink only where it crosses digits, and would
    # pass a stroke's width for its own. Without any line in the mask, nothing is erased.
    measured = [
        t for t, share in zip(thickness, coverage, strict=True) if share >= LINE_INK_COVERAGE
    ]
    if not measured:
        return Erased(mask, None, 0)
    typical = float(np.median(measured))
    width = round(typical)
    band = width + 2 + (width + 1) // 2
    across = width + 3
    cleaned = mask
    zone: np.ndarray | None = None
    bands = []
    for horizontal in (True, False):
        group = [
            line
            for line, t in zip(lines, thickness, strict=True)
            if line.horizontal == horizontal and 0 < t <= 2 * typical + 1
        ]
        if len(group) >= RULED_PAGE_LINES:
            group = _continued(mask, group, band // 2, LINE_GAP_BANDS * band)
        if not group:
            continue
        line_mask = np.zeros_like(mask)
        for line in group:
            cv2.line(line_mask, (line.x0, line.y0), (line.x1, line.y1), 255, band)
        kernel = np.ones((across, 1) if horizontal else (1, across), np.uint8)
        crossing = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        # Masks are 0 or 255: subtracting is "and not", in one pass.
        cleaned = cv2.subtract(cleaned, cv2.subtract(line_mask, crossing))
        bands.append((horizontal, line_mask))
        zone = line_mask if zone is None else cv2.bitwise_or(zone, line_mask)
    # A thin stroke crossing a thicker line lost the crossing: where ink continues on
    # both sides of a line, close the gap again (only with ink that was there).
    for horizontal, line_mask in bands:
        size = (3, band + 2) if horizontal else (band + 2, 3)
        closed = cv2.morphologyEx(cleaned, cv2.MORPH_CLOSE, np.ones(size[::-1], np.uint8))
        cleaned = cv2.bitwise_or(cleaned, cv2.bitwise_and(closed, mask, mask=line_mask))
    return Erased(cleaned, zone, band)


def _continued(mask: np.ndarray, lines: list[RuledLine], reach: int, gap: int) -> list[RuledLine]:
    """The lines of one direction, each free end continued as far as the mask's ink goes
    on along it (within ``reach`` pixels across it), across gaps up to ``gap`` long.

    The transform's segments stop short of a line's true ends wherever its votes thin
    out: at a digit written on the line, or on the last stretch to the photo's edge.
    That rest of the line stayed in the mask, joined to the digit, and the two were
    dropped together as a scrap of the page. An end is free when no other segment lies
    on beyond it: between two segments of one line there is a digit whose stroke may run
    along the line, and the erasing must leave it.
    """
    ends = np.array([(line.x0, line.y0, line.x1, line.y1) for line in lines], np.float64)
    starts, stops = ends[:, :2], ends[:, 2:]
    length = np.hypot(*(stops - starts).T)
    direction = (stops - starts) / np.maximum(length, 1.0)[:, None]
    # Every segment's endpoints, measured along and across every segment.
    points = np.concatenate([starts, stops])
    offset = points[None, :, :] - starts[:, None, :]
    along = offset[..., 0] * direction[:, :1] + offset[..., 1] * direction[:, 1:]
    across = np.abs(offset[..., 0] * direction[:, 1:] - offset[..., 1] * direction[:, :1])
    on_line = across <= reach
    own = np.arange(len(lines))
    on_line[own, own] = on_line[own, own + len(lines)] = False
    # A point has no direction to be continued in.
    before = (on_line & (along < 0)).any(axis=1) | (length == 0)
    beyond = (on_line & (along > length[:, None])).any(axis=1) | (length == 0)
    if before.all() and beyond.all():
        return lines
    # Ink within reach across the lines, for a walk to read one pixel per step.
    horizontal = lines[0].horizontal
    shape = (2 * reach + 1, 1) if horizontal else (1, 2 * reach + 1)
    near = cv2.dilate(mask, np.ones(shape, np.uint8))
    continued = []
    for k, line in enumerate(lines):
        start, stop = (line.x0, line.y0), (line.x1, line.y1)
        step = (float(direction[k, 0]), float(direction[k, 1]))
        if not before[k]:
            start = _ink_reach(near, start, (-step[0], -step[1]), gap)
        if not beyond[k]:
            stop = _ink_reach(near, stop, step, gap)
        continued.append(RuledLine(*start, *stop))
    return continued


def _ink_reach(
    ink: np.ndarray, start: tuple[int, int], direction: tuple[float, float], gap: int
) -> tuple[int, int]:
    """The last point from ``start`` along ``direction`` before the ink stops for more
    than ``gap`` pixels, or ``start``."""
    height, width = ink.shape
    # Steps to the border: the first step at which x or y leaves the image.
    limits = [
        (width - 0.5 - start[0]) / direction[0] if direction[0] > 0 else np.inf,
        (-0.5 - start[0]) / direction[0] if direction[0] < 0 else np.inf,
        (height - 0.5 - start[1]) / direction[1] if direction[1] > 0 else np.inf,
        (-0.5 - start[1]) / direction[1] if direction[1] < 0 else np.inf,
    ]
    steps = np.arange(1, math.ceil(min(limits)))
    if not len(steps):
        return start
    xs = np.clip(np.rint(start[0] + direction[0] * steps).astype(np.intp), 0, width - 1)
    ys = np.clip(np.rint(start[1] + direction[1] * steps).astype(np.intp), 0, height - 1)
    hits = np.flatnonzero(ink[ys, xs])
    # The misses before each hit: the walk ends at the hit before the first long gap.
    misses = np.diff(np.r_[-1, hits]) - 1
    long_gaps = np.flatnonzero(misses > gap)
    last = long_gaps[0] if len(long_gaps) else len(hits)
    if last == 0:
        return start
    end = hits[last - 1]
    return int(xs[end]), int(ys[end])


class LineInk(NamedTuple):
    #: The median count of ink pixels across each line, over the samples that touch
    #: ink (0 where none does).
    thickness: list[float]
    #: The share of each line's samples that touch ink.
    coverage: list[float]


def _line_ink(mask: np.ndarray, lines: list[RuledLine]) -> LineInk:
    """How thick each line is in the ink mask, and how much of it is there, from
    samples of the ink across it every 12 pixels along it.

    All lines' samples are gathered in one indexing operation: squared paper has dozens
    of lines, and per-line NumPy calls cost more than the pixels they read.
    """
    height, width = mask.shape
    reach = 8
    offsets = np.arange(-reach, reach + 1)
    counts, owners = [], []
    for horizontal in (True, False):
        group = [k for k, line in enumerate(lines) if line.horizontal == horizontal]
        if not group:
            continue
        ends = np.array([[lines[k].x0, lines[k].y0, lines[k].x1, lines[k].y1] for k in group])
        steps = np.maximum(
            2, np.hypot(ends[:, 2] - ends[:, 0], ends[:, 3] - ends[:, 1]).astype(np.intp) // 12
        )
        owner = np.repeat(np.asarray(group), steps)
        last = np.cumsum(steps) - 1
        index = np.arange(len(owner)) - np.repeat(last + 1 - steps, steps)
        # np.linspace(0.05, 0.95, steps) for every line at once, rounding alike.
        t = index * np.repeat((0.95 - 0.05) / (steps - 1), steps) + 0.05
        t[last] = 0.95
        x0, y0, x1, y1 = (np.repeat(ends[:, k], steps) for k in range(4))
        xs = np.clip(np.round(x0 + t * (x1 - x0)).astype(np.intp), 0, width - 1)
        ys = np.clip(np.round(y0 + t * (y1 - y0)).astype(np.intp), 0, height - 1)
        if horizontal:
            strips = mask[np.clip(ys[:, None] + offsets, 0, height - 1), xs[:, None]]
        else:
            strips = mask[ys[:, None], np.clip(xs[:, None] + offsets, 0, width - 1)]
        counts.append(np.count_nonzero(strips, axis=1))
        owners.append(owner)
    thickness = [0.0] * len(lines)
    if not counts:
        return LineInk(thickness, [0.0] * len(lines))
    count, owner = np.concatenate(counts), np.concatenate(owners)
    touched = count > 0
    samples = np.bincount(owner, minlength=len(lines))
    coverage = np.bincount(owner[touched], minlength=len(lines)) / np.maximum(samples, 1)
    if not touched.any():
        return LineInk(thickness, coverage.tolist())
    count, owner = count[touched], owner[touched]
    order = np.lexsort((count, owner))
    count, owner = count[order], owner[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    sizes = np.diff(np.r_[starts, len(owner)])
    middle_low = count[starts + (sizes - 1) // 2]
    middle_high = count[starts + sizes // 2]
    for k, low, high in zip(owner[starts], middle_low, middle_high, strict=True):
        thickness[int(k)] = (float(low) + float(high)) / 2.0
    return LineInk(thickness, coverage.tolist())


def default_line_length(contrast: np.ndarray) -> int:
    """Shortest ruled line looked for: a good part of the photo's shorter side."""
    return max(30, round(LINE_MIN_FRACTION * min(contrast.shape)))
