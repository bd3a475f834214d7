"""Stroke-drawn handwritten digits in the styles MNIST under-represents, for training.

MNIST was written by American Census employees and students, so it hardly holds the
digits people in Europe write every day: the 1 with a long flag (read as 7), the crossed
7, the open 4 (read as 9), the 9 with a straight tail (read as 4 or 7). The network
cannot learn what it never sees, so training adds digits drawn here: every class, each
in several style variants, with per-writer variation in shape, proportion, slant,
rotation, pen width and the odd gap in a stroke.

Each glyph is a few strokes of control points in a unit box (x right, y down, the digit
filling [0, 1] in both), smoothed into curves where the pen curves and kept sharp where
it turns. A sample is drawn four times over-size with an anti-aliased pen, shrunk to a
digit height between ``MIN_HEIGHT`` and ``MAX_HEIGHT`` pixels, thresholded into a binary
ink mask and passed through ``recognizer.normalization.normalize``: the very recipe the
recognizer applies to every crop of a photo, so the training inputs look like the inputs
the network is asked about.

This generator is independent of the photo synthesiser in ``tests/`` on purpose: the
recognizer's accuracy test must stay an honest check rather than an exam with known answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from recognizer.normalization import normalize

#: Digit height in pixels before normalization: from a small digit in a photo of a
#: whole page to a large one filling a close-up (the recognizer sees that whole range).
MIN_HEIGHT = 24
MAX_HEIGHT = 120
#: Width of the digit's box over its height (before slant and rotation).
MIN_ASPECT, MAX_ASPECT = 0.45, 0.85
#: Horizontal shear (x += shear * (y - 0.5), y down): negative leans right, as most hands do.
MIN_SHEAR, MAX_SHEAR = -0.3, 0.15
#: Rotation: normal with a standard deviation of 4 degrees, cut at +-10.
MAX_ROTATION_DEG = 10.0
#: Pen width over digit height: a fine pen to a marker (drawn log-uniformly in between).
MIN_PEN, MAX_PEN = 0.04, 0.18
#: Per-writer jitter of the control points, in units of the digit height.
MIN_JITTER, MAX_JITTER = 0.008, 0.03
#: Chance that a stroke has a small gap (the pen skipped or lifted).
GAP_PROBABILITY = 0.12
#: Drawing resolution over the final one: anti-aliased edges, then area shrink.
SUPERSAMPLE = 4
#: Points per spline segment between two control points.
_SEGMENT_POINTS = 10

Point = np.ndarray


class Stroke(NamedTuple):
    """One pen stroke: control points (k, 2) in the unit box, drawn smooth or as corners."""

    points: np.ndarray
    smooth: bool = False
    closed: bool = False


class _Pen:
    """Jittered control points for one writer's sample: ``pen(x, y)`` and helpers."""

    def __init__(self, rng: np.random.Generator, jitter: float, aspect: float) -> None:
        self.rng = rng
        self.jitter = jitter
        #: The writer's width over height, for glyph parts that keep their true angles.
        self.aspect = aspect

    def __call__(self, x: float, y: float, scale: float = 1.0) -> Point:
        return np.array([x, y]) + self.rng.normal(0.0, self.jitter * scale, 2)

    def u(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def ellipse(
        self,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        start_deg: float,
        end_deg: float,
        count: int,
        scale: float = 0.6,
    ) -> list[Point]:
        """``count`` points along an elliptic arc; 0 deg is right, 90 deg is down."""
        angles = np.radians(np.linspace(start_deg, end_deg, count))
        return [self(cx + rx * math.cos(a), cy + ry * math.sin(a), scale) for a in angles]


def _line(*points: Point) -> Stroke:
    return Stroke(np.array(points, dtype=np.float64))


def _curve(*points: Point, closed: bool = False) -> Stroke:
    return Stroke(np.array(points, dtype=np.float64), smooth=True, closed=closed)


# --- the glyphs: one function per style variant, (pen) -> strokes -------------------------


def _zero_oval(p: _Pen) -> list[Stroke]:
    rx, ry = p.u(0.4, 0.5), p.u(0.44, 0.5)
    return [_curve(*p.ellipse(0.5, 0.5, rx, ry, -90, 270 - 45, 8), closed=True)]


def _zero_overlap(p: _Pen) -> list[Stroke]:
    # Started at the top, round anticlockwise, and a little past the start.
    rx, ry = p.u(0.4, 0.5), p.u(0.44, 0.5)
    start = p.u(-80, -50)
    return [_curve(*p.ellipse(0.5, 0.5, rx, ry, start, start - 360 - p.u(20, 50), 11))]


def _one_flag(p: _Pen, base: bool = False) -> list[Stroke]:
    # A long flag, 30-60 degrees below the horizontal: steeper than a 7's bar, which is
    # what tells them apart. The flag is laid out in true proportions (x divided by the
    # aspect that ``Writer.place`` multiplies it by back).
    top = p(0.62, 0.02, 0.5)
    length, angle = p.u(0.28, 0.5), math.radians(p.u(30, 60))
    aspect = p.aspect
    end = top + np.array([-length * math.cos(angle) / aspect, length * math.sin(angle)])
    bow = (end + top) / 2 + np.array([0.0, -p.u(0.0, 0.04)])
    foot = p(0.62 + p.u(-0.04, 0.04), 0.98, 0.5)
    strokes = [_curve(end, bow, top), _line(top, foot)]
    if base:
        half_left, half_right = p.u(0.14, 0.24) / aspect, p.u(0.14, 0.24) / aspect
        strokes.append(_line(p(foot[0] - half_left, 0.98, 0.3), p(foot[0] + half_right, 0.97, 0.3)))
    return strokes


def _one_flag_base(p: _Pen) -> list[Stroke]:
    return _one_flag(p, base=True)


def _one_stem(p: _Pen) -> list[Stroke]:
    # A slight slant of its own; the writer's shear and rotation add the rest.
    lean = p.u(-0.02, 0.06) / p.aspect
    return [_line(p(0.5 + lean, 0.02), p(0.5 - lean, 0.98))]


def _two_body(p: _Pen) -> list[Point]:
    return [
        p(0.1, p.u(0.2, 0.32)),
        p(0.32, 0.04),
        p(0.66, 0.03),
        p(0.88, p.u(0.2, 0.3)),
        p(0.78, 0.48),
        p(0.48, 0.72),
    ]


def _two_plain(p: _Pen) -> list[Stroke]:
    corner = p(0.08, 0.97, 0.5)
    return [_curve(*_two_body(p), corner), _line(corner, p(0.95, p.u(0.9, 1.0), 0.5))]


def _two_loop(p: _Pen) -> list[Stroke]:
    # Down to the bottom left, a small loop sitting on the line, then along the base.
    r = p.u(0.8, 1.15)
    return [
        _curve(
            *_two_body(p),
            p(0.3, 0.84, 0.4),
            p(0.18, 0.92, 0.3),
            p(0.18 - 0.1 * r, 0.86, 0.3),
            p(0.18 - 0.03 * r, 0.78 - 0.04 * r, 0.3),
            p(0.18 + 0.07 * r, 0.82, 0.3),
            p(0.3, 0.95, 0.3),
            p(0.6, 0.97, 0.5),
            p(0.95, p.u(0.9, 0.99), 0.5),
        )
    ]


def _three_round(p: _Pen) -> list[Stroke]:
    middle = p(p.u(0.35, 0.5), p.u(0.44, 0.5), 0.5)
    return [
        _curve(p(0.12, p.u(0.1, 0.2)), p(0.45, 0.02), p(0.8, 0.12), p(0.78, 0.32), middle),
        _curve(middle, p(0.83, 0.6), p(0.86, 0.82), p(0.55, 0.98), p(0.1, p.u(0.82, 0.9))),
    ]


def _three_flat(p: _Pen) -> list[Stroke]:
    # The "Z-like" top: a flat bar, a diagonal to the middle, then the round belly.
    middle = p(p.u(0.3, 0.45), p.u(0.4, 0.46), 0.5)
    return [
        _line(p(0.12, 0.04), p(0.88, 0.03), middle),
        _curve(middle, p(0.8, 0.52), p(0.88, 0.75), p(0.62, 0.96), p(0.3, 0.97), p(0.08, 0.84)),
    ]


def _four_open(p: _Pen, vertical_top: tuple[float, float] = (0.0, 0.1)) -> list[Stroke]:
    # The "L" (top left open) and a vertical crossing its bar.
    bar_y = p.u(0.55, 0.68)
    x = p.u(0.62, 0.74)
    return [
        _line(p(p.u(0.2, 0.38), 0.0), p(0.06, bar_y), p(p.u(0.85, 1.0), bar_y + p.u(-0.04, 0.02))),
        _line(p(x, p.u(*vertical_top)), p(x + p.u(-0.05, 0.03), 1.0)),
    ]


def _four_open_short(p: _Pen) -> list[Stroke]:
    return _four_open(p, vertical_top=(0.15, 0.3))


def _four_closed(p: _Pen, extended: bool = False) -> list[Stroke]:
    # The triangle: from the apex down-left, along the bar; the vertical from the apex
    # (or from above it, the diagonal meeting it lower down).
    x = p.u(0.62, 0.74)
    top = p(x, 0.0, 0.5)
    apex = p(x, p.u(0.14, 0.28), 0.3) if extended else top
    bar_y = p.u(0.6, 0.7)
    return [
        _line(apex, p(0.04, bar_y), p(p.u(0.85, 1.0), bar_y + p.u(-0.03, 0.02))),
        _line(top, p(x + p.u(-0.05, 0.03), 1.0)),
    ]


def _four_closed_extended(p: _Pen) -> list[Stroke]:
    return _four_closed(p, extended=True)


def _five_belly(p: _Pen, start: Point) -> Stroke:
    return _curve(
        start,
        p(0.5, 0.36),
        p(0.82, 0.5),
        p(0.86, 0.76),
        p(0.6, 0.96),
        p(0.3, 0.98),
        p(0.08, p.u(0.8, 0.9)),
    )


def _five_attached(p: _Pen) -> list[Stroke]:
    corner, knee = p(0.22, 0.04, 0.5), p(0.18, p.u(0.4, 0.5), 0.5)
    return [_line(p(0.88, 0.03), corner, knee), _five_belly(p, knee)]


def _five_detached(p: _Pen) -> list[Stroke]:
    # The stem and belly in one stroke, the top bar added afterwards, not touching.
    top, knee = p(0.22, 0.06, 0.5), p(0.18, p.u(0.4, 0.5), 0.5)
    gap = p.u(0.06, 0.14)
    bar_y = p.u(-0.02, 0.04)
    return [
        _line(top, knee),
        _five_belly(p, knee),
        _line(p(0.22 + gap, bar_y, 0.3), p(0.9, bar_y + p.u(-0.04, 0.02), 0.5)),
    ]


def _six_loop(p: _Pen) -> list[Point]:
    return [
        p(0.3, 0.94, 0.6),
        p(0.62, 0.97, 0.6),
        p(0.86, 0.76, 0.6),
        p(0.7, 0.52, 0.6),
        p(0.42, 0.5, 0.6),
        p(0.18, p.u(0.62, 0.7), 0.6),
    ]


def _six_round(p: _Pen) -> list[Stroke]:
    return [
        _curve(p(0.8, p.u(0.02, 0.1)), p(0.48, 0.08), p(0.22, 0.36), p(0.13, 0.68), *_six_loop(p))
    ]


def _six_straight(p: _Pen) -> list[Stroke]:
    # A nearly straight stem from the top right into the loop.
    return [_curve(p(0.72, 0.0), p(0.48, 0.3), p(0.24, 0.6), p(0.16, 0.8), *_six_loop(p))]


def _seven(p: _Pen, curved: bool = False, cross: bool = False, serif: bool = False):
    left, corner = p(0.05, p.u(0.02, 0.1)), p(0.95, 0.03, 0.5)
    foot = p(p.u(0.3, 0.5), 1.0)
    if curved:
        mid = (corner + foot) / 2 + np.array([p.u(0.06, 0.14), -p.u(0.0, 0.05)])
        stem = _curve(corner, mid, foot)
    else:
        mid = (corner + foot) / 2
        stem = _line(corner, foot)
    head = [p(0.05 + p.u(-0.03, 0.03), p.u(0.16, 0.26), 0.5), left] if serif else [left]
    strokes = [_line(*head, corner), stem]
    if cross:
        y = mid[1] + p.u(-0.06, 0.06)
        strokes.append(_line(p(mid[0] - p.u(0.2, 0.32), y, 0.4), p(mid[0] + p.u(0.14, 0.28), y)))
    return strokes


def _seven_plain(p: _Pen) -> list[Stroke]:
    return _seven(p)


def _seven_curved(p: _Pen) -> list[Stroke]:
    return _seven(p, curved=True)


def _seven_crossed(p: _Pen) -> list[Stroke]:
    return _seven(p, curved=p.rng.random() < 0.3, cross=True)


def _seven_crossed_serif(p: _Pen) -> list[Stroke]:
    return _seven(p, curved=p.rng.random() < 0.3, cross=True, serif=True)


def _eight_two_loops(p: _Pen) -> list[Stroke]:
    waist = p.u(0.42, 0.5)
    top_r = waist / 2 + 0.01
    bottom_r = (1 - waist) / 2 + 0.01
    return [
        _curve(*p.ellipse(0.5, top_r, p.u(0.3, 0.4), top_r, -90, 225, 8), closed=True),
        _curve(*p.ellipse(0.5, 1 - bottom_r, p.u(0.38, 0.48), bottom_r, -90, 225, 8), closed=True),
    ]


def _eight_figure(p: _Pen) -> list[Stroke]:
    # One stroke: from the top right over the top, down through the waist to the right,
    # round the bottom, and back up through the waist to where it started.
    waist_y = p.u(0.42, 0.52)
    return [
        _curve(
            p(0.8, 0.14),
            p(0.5, 0.02),
            p(0.2, 0.16),
            p(0.3, waist_y - 0.14),
            p(0.5, waist_y, 0.5),
            p(0.8, waist_y + 0.16),
            p(0.84, 0.84),
            p(0.5, 0.98),
            p(0.16, 0.84),
            p(0.22, waist_y + 0.14),
            p(0.5, waist_y - 0.02, 0.5),
            p(0.76, waist_y - 0.2),
            p(0.76, 0.08),
        )
    ]


def _nine_loop(p: _Pen) -> tuple[Stroke, Point]:
    """A round loop at the top and the point on its right where the tail leaves it."""
    ry = p.u(0.2, 0.28)
    rx = p.u(0.32, 0.42)
    cx, cy = 0.88 - rx, ry + 0.01
    points = p.ellipse(cx, cy, rx, ry, 0, -360 + 45, 8)
    return _curve(*points, closed=True), points[0]


def _nine_straight(p: _Pen) -> list[Stroke]:
    loop, start = _nine_loop(p)
    return [loop, _line(start, p(start[0] + p.u(-0.06, 0.04), 1.0))]


def _nine_curved(p: _Pen) -> list[Stroke]:
    loop, start = _nine_loop(p)
    return [loop, _curve(start, p(0.86, 0.62), p(0.72, 0.9), p(0.45, 0.99), p(0.2, 0.9))]


def _nine_slanted(p: _Pen) -> list[Stroke]:
    loop, start = _nine_loop(p)
    return [loop, _line(start, p(p.u(0.35, 0.55), 1.0))]


Glyph = Callable[[_Pen], list[Stroke]]

#: Every label's style variants with their share of the samples. The European styles
#: MNIST lacks get the larger shares; the plain ones stay so the classes stay whole.
VARIANTS: dict[int, dict[str, tuple[float, Glyph]]] = {
    0: {"oval": (0.5, _zero_oval), "overlap": (0.5, _zero_overlap)},
    1: {
        "flag": (0.45, _one_flag),
        "flag_base": (0.3, _one_flag_base),
        "stem": (0.25, _one_stem),
    },
    2: {"plain": (0.5, _two_plain), "loop": (0.5, _two_loop)},
    3: {"round": (0.5, _three_round), "flat_top": (0.5, _three_flat)},
    4: {
        "open": (0.35, _four_open),
        "open_short": (0.2, _four_open_short),
        "closed": (0.25, _four_closed),
        "closed_extended": (0.2, _four_closed_extended),
    },
    5: {"attached": (0.5, _five_attached), "detached": (0.5, _five_detached)},
    6: {"round": (0.5, _six_round), "straight": (0.5, _six_straight)},
    7: {
        "plain": (0.2, _seven_plain),
        "curved": (0.2, _seven_curved),
        "crossed": (0.3, _seven_crossed),
        "crossed_serif": (0.3, _seven_crossed_serif),
    },
    8: {"two_loops": (0.5, _eight_two_loops), "figure": (0.5, _eight_figure)},
    9: {
        "straight_tail": (0.35, _nine_straight),
        "curved_tail": (0.3, _nine_curved),
        "slanted_tail": (0.35, _nine_slanted),
    },
}


# --- from strokes to pixels --------------------------------------------------------------


def _spline(points: np.ndarray, closed: bool) -> np.ndarray:
    """Centripetal Catmull-Rom through the points: smooth, no loops or overshoot at kinks."""
    if closed:
        ext = np.concatenate([points[-1:], points, points[:2]])
    else:
        ext = np.concatenate(
            [2 * points[:1] - points[1:2], points, 2 * points[-1:] - points[-2:-1]]
        )
    p0, p1, p2, p3 = ext[:-3], ext[1:-2], ext[2:-1], ext[3:]
    d01 = np.linalg.norm(p1 - p0, axis=1) ** 0.5 + 1e-6
    d12 = np.linalg.norm(p2 - p1, axis=1) ** 0.5 + 1e-6
    d23 = np.linalg.norm(p3 - p2, axis=1) ** 0.5 + 1e-6
    # Tangents at p1 and p2 (Barry-Goldman, written as Hermite tangents over [0, 1]).
    m1 = (p1 - p0) / d01[:, None] - (p2 - p0) / (d01 + d12)[:, None] + (p2 - p1) / d12[:, None]
    m2 = (p2 - p1) / d12[:, None] - (p3 - p1) / (d12 + d23)[:, None] + (p3 - p2) / d23[:, None]
    m1 *= d12[:, None]
    m2 *= d12[:, None]
    t = np.linspace(0.0, 1.0, _SEGMENT_POINTS, endpoint=False)[None, :, None]
    h00, h10 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t
    h01, h11 = -2 * t**3 + 3 * t**2, t**3 - t**2
    curve = h00 * p1[:, None] + h10 * m1[:, None] + h01 * p2[:, None] + h11 * m2[:, None]
    curve = curve.reshape(-1, 2)
    last = points[:1] if closed else points[-1:]
    return np.concatenate([curve, last])


def _dense(stroke: Stroke) -> np.ndarray:
    if stroke.smooth and len(stroke.points) >= 3:
        return _spline(stroke.points, stroke.closed)
    points = stroke.points
    return np.concatenate([points, points[:1]]) if stroke.closed else points


def _cut_gap(path: np.ndarray, width: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Split a path at a random place by a gap a little wider than the pen."""
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    length = along[-1]
    gap = width + rng.uniform(0.03, 0.07)
    if length < 4 * gap:
        return [path]
    start = rng.uniform(0.25, 0.75) * length - gap / 2
    end = start + gap

    def at(position: float) -> np.ndarray:
        return np.array([np.interp(position, along, path[:, i]) for i in range(2)])[None]

    before = np.concatenate([path[along < start], at(start)])
    after = np.concatenate([at(end), path[along > end]])
    return [before, after]


@dataclass(frozen=True)
class Writer:
    """One sample's hand: the random choices that are not part of the glyph's shape."""

    height: float
    aspect: float
    shear: float
    rotation_deg: float
    pen: float
    jitter: float

    @classmethod
    def random(cls, rng: np.random.Generator) -> Writer:
        return cls(
            height=float(rng.uniform(MIN_HEIGHT, MAX_HEIGHT)),
            aspect=float(rng.uniform(MIN_ASPECT, MAX_ASPECT)),
            shear=float(rng.uniform(MIN_SHEAR, MAX_SHEAR)),
            # Mostly small: the slant is the shear's job; this is the page or camera turned.
            rotation_deg=float(
                np.clip(
                    rng.normal(0.0, MAX_ROTATION_DEG / 2.5), -MAX_ROTATION_DEG, MAX_ROTATION_DEG
                )
            ),
            pen=float(math.exp(rng.uniform(math.log(MIN_PEN), math.log(MAX_PEN)))),
            jitter=float(rng.uniform(MIN_JITTER, MAX_JITTER)),
        )

    def place(self, points: np.ndarray) -> np.ndarray:
        """Unit-box points -> pixels of the over-size drawing (centred on the origin)."""
        x = (points[:, 0] - 0.5) * self.aspect
        y = points[:, 1] - 0.5
        x = x + self.shear * y
        angle = math.radians(self.rotation_deg)
        cos, sin = math.cos(angle), math.sin(angle)
        scale = self.height * SUPERSAMPLE
        return np.stack([(cos * x - sin * y) * scale, (sin * x + cos * y) * scale], axis=1)


def pick_variant(label: int, rng: np.random.Generator) -> str:
    """A style of ``label`` drawn at its share in ``VARIANTS``."""
    styles = VARIANTS[label]
    names = list(styles)
    weights = np.array([styles[name][0] for name in names])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def draw_mask(label: int, rng: np.random.Generator, variant: str | None = None) -> np.ndarray:
    """A binary ink mask (uint8, ink = 255) of one digit at its drawing size.

    ``variant`` names a style from ``VARIANTS[label]``; None picks one at its share.
    This is what a clean photo crop of the digit looks like before normalization.
    """
    if variant is None:
        variant = pick_variant(label, rng)
    glyph = VARIANTS[label][variant][1]
    writer = Writer.random(rng)
    strokes = glyph(_Pen(rng, writer.jitter, writer.aspect))
    paths = [_dense(stroke) for stroke in strokes]
    if rng.random() < GAP_PROBABILITY:
        index = int(rng.integers(len(paths)))
        paths[index : index + 1] = _cut_gap(paths[index], writer.pen, rng)

    placed = [writer.place(path) for path in paths]
    width = max(1, round(writer.pen * writer.height * SUPERSAMPLE))
    everything = np.concatenate(placed)
    margin = width + 2 * SUPERSAMPLE
    low = everything.min(axis=0) - margin
    size = np.ceil((everything.max(axis=0) + margin - low) / SUPERSAMPLE).astype(int)
    canvas = np.zeros((size[1] * SUPERSAMPLE, size[0] * SUPERSAMPLE), np.uint8)
    for path in placed:
        # A pen's pressure varies a little from stroke to stroke.
        stroke_width = max(1, round(width * rng.uniform(0.85, 1.15)))
        pixels = np.round(path - low).astype(np.int32)
        cv2.polylines(canvas, [pixels], False, 255, stroke_width, cv2.LINE_AA)
    small = cv2.resize(canvas, (size[0], size[1]), interpolation=cv2.INTER_AREA)
    _, mask = cv2.threshold(small, 127, 255, cv2.THRESH_BINARY)
    return mask


def draw_digit(label: int, rng: np.random.Generator, variant: str | None = None) -> np.ndarray:
    """One synthetic digit as the network sees it: 28x28 uint8, ink = 255, MNIST style."""
    return normalize(draw_mask(label, rng, variant))


@dataclass(frozen=True)
class SyntheticDigits:
    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) uint8
    variants: tuple[str, ...]  # the style of each image, for inspection and tests


def generate(count: int, seed: int) -> SyntheticDigits:
    """``count`` digits, the classes balanced (within one), shuffled; the same for a seed."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % 10).astype(np.uint8)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    variants: list[str] = []
    for index, label in enumerate(labels):
        variant = pick_variant(int(label), rng)
        images[index] = draw_digit(int(label), rng, variant)
        variants.append(variant)
    return SyntheticDigits(images, labels, tuple(variants))


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 images and (N,) uint8 labels, ready to join MNIST's training set."""
    digits = generate(count, seed)
    return digits.images, digits.labels


def contact_sheet(per_label: int = 20, seed: int = 0, scale: int = 2) -> np.ndarray:
    """One row per label of generated digits (white ink on black), for eyeballing styles."""
    rng = np.random.default_rng(seed)
    rows = [np.hstack([draw_digit(label, rng) for _ in range(per_label)]) for label in range(10)]
    sheet = np.vstack(rows)
    return cv2.resize(sheet, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


if __name__ == "__main__":  # python -m training.handwriting OUT.png
    import sys

    out = sys.argv[1] if len(sys.argv) > 1 else "handwriting_sheet.png"
    cv2.imwrite(out, contact_sheet())
    print(out)
