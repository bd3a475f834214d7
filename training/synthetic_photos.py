"""Realistic, labelled, photo-like images of handwritten digit strings.

``make_photo(seed, digits)`` returns one JPEG photo, the text a perfect reader would
return and where each digit landed; the same seed always gives the same photo. Digits
come from MNIST (passed in at run time, never stored in the repository), plus glyphs
drawn with OpenCV strokes in the styles MNIST under-represents and people in Europe
write every day: crossed 7s, 1s with a long flag, open 4s, 9s with a straight tail.

What a phone photo of a note does to those digits is applied step by step:
ink (pen, pencil, marker or chalk; colour, stroke width, breaks, touching neighbours),
paper (white, cream, grey; plain, ruled or squared; or a chalkboard), separators that are
not digits (``12.500,-``), the table around the page, perspective, uneven light and a
shadow, lens blur, sensor noise and JPEG compression.

The expected text follows ``Recognition.text``: digits only, lines separated by a space.

Two users, kept apart:
- the recognizer's accuracy test and benchmark use MNIST *test* digits, with the drawn
  glyphs and the stroke breaks;
- training (``training.photo_crops``) learns from the recognizer's own crops of photos of
  MNIST *train* digits, *without* this module's drawn glyphs and stroke breaks, so the
  test's glyph shapes and breaks stay unseen and the test stays an honest check of them
  (the drawn European digits training needs come from ``training.handwriting``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from recognizer.normalization import stroke_width

#: Photo sizes (width, height) a phone or a messenger produces.
PHOTO_SIZES = ((1280, 960), (960, 1280), (1600, 1200), (1024, 768), (800, 600), (1200, 1600))

#: Labels that have a hand-drawn European style, and how often it replaces MNIST's.
STYLE_LABELS = (1, 4, 7, 9)
STYLE_PROBABILITY = 0.35

#: How often a digit's stroke is broken (a pencil skipping, a pen running dry), and how
#: often two neighbours touch: often enough that every run of the test set meets both
#: many times, but not in every string, as in real writing.
BROKEN_PROBABILITY = 0.06
TOUCHING_PROBABILITY = 0.05

#: Letters whose printed shapes are like no digit (no l, o, s, z, b, g, q, c, u, y...):
#: the words of a ``words`` photo use only these, so that every crop of them is clearly
#: letters, not a digit, to the network that learns from them.
UNLIKE_DIGITS = "adefhkmnprtvwxEFHKMNPRVWX"
#: A written word's letters, and the word's height over the digits'.
WORD_LETTERS = (2, 7)
WORD_HEIGHT = (0.45, 0.9)

#: BGR colours: paper, ruling, ink.
PAPERS = ((246, 248, 250), (212, 236, 246), (226, 230, 232), (236, 240, 236), (200, 214, 222))
RULINGS = ((222, 186, 150), (190, 190, 190), (214, 170, 120), (170, 180, 200))
INKS = {
    "pen": ((40, 30, 30), (150, 60, 25), (120, 40, 30), (60, 45, 40)),
    "pencil": ((105, 105, 110), (125, 122, 125), (90, 90, 95)),
    "marker": ((30, 30, 30), (130, 50, 20), (40, 40, 160), (40, 110, 30)),
}
BOARDS = ((52, 72, 44), (40, 40, 38), (60, 64, 46))
TABLES = ((40, 70, 110), (60, 60, 60), (120, 120, 115), (25, 35, 50))


@dataclass(frozen=True)
class SynthPhoto:
    """One generated photo and what it says."""

    jpeg: bytes
    text: str
    seed: int
    #: What made this photo hard, for reporting failures by kind.
    tags: tuple[str, ...] = field(default=())
    #: (width, height) of the photo.
    size: tuple[int, int] = (0, 0)
    #: Every digit in reading order: its label and its ink's box (x, y, w, h) in the
    #: photo, after the camera's perspective.
    digits: tuple[tuple[int, tuple[int, int, int, int]], ...] = field(default=())
    #: The box of each written word (``words``), in the photo.
    words: tuple[tuple[int, int, int, int], ...] = field(default=())


@dataclass(frozen=True)
class MnistDigits:
    """MNIST images grouped by label, to draw digits from."""

    by_label: tuple[np.ndarray, ...]

    @classmethod
    def from_arrays(cls, images: np.ndarray, labels: np.ndarray) -> MnistDigits:
        return cls(tuple(images[labels == k] for k in range(10)))

    @classmethod
    def load(cls, path, split: str = "test") -> MnistDigits:
        """The ``test`` (default) or ``train`` images of an ``mnist.npz``."""
        with np.load(path) as data:
            return cls.from_arrays(data[f"x_{split}"], data[f"y_{split}"])

    def sample(self, label: int, rng: np.random.Generator) -> np.ndarray:
        pool = self.by_label[label]
        return pool[rng.integers(len(pool))]


def make_set(count: int, digits: MnistDigits, seed: int = 0) -> list[SynthPhoto]:
    """``count`` photos from consecutive seeds starting at ``seed``."""
    return [make_photo(seed + index, digits) for index in range(count)]


def make_photo(
    seed: int,
    digits: MnistDigits,
    *,
    size: tuple[int, int] | None = None,
    text: str | None = None,
    drawn_styles: bool = True,
    broken_strokes: bool = True,
    words: bool = False,
) -> SynthPhoto:
    """One photo-like JPEG of 1-12 digits in 1-3 lines, fully determined by ``seed``.

    ``size`` (width, height) and ``text`` (lines of digits separated by spaces) fix what
    is otherwise drawn at random, for a benchmark that needs, say, 1280x960 photos of ten
    digits; everything else still comes from ``seed`` as it would without them.
    ``drawn_styles=False`` and ``broken_strokes=False`` leave out this module's drawn
    European glyphs and its stroke breaks (training photos do: see the module's notes).
    ``words=True`` writes a line of printed words above or below the number, as a label
    on a form or a note would be, with letters like no digit (``UNLIKE_DIGITS``); they
    come from a random stream of their own, so the rest of the photo is the same.
    """
    rng = np.random.default_rng(seed)
    tags: list[str] = []
    drawn_size = PHOTO_SIZES[rng.integers(len(PHOTO_SIZES))]
    width, height = size if size is not None else drawn_size
    scene = rng.choice(["plain", "ruled", "squared", "chalk"], p=[0.35, 0.25, 0.25, 0.15])
    tags.append(str(scene))
    drawn_lines = _choose_text(rng)
    lines = text.split() if text is not None else drawn_lines
    separators = scene != "chalk" and rng.random() < 0.25
    tool = (
        "chalk"
        if scene == "chalk"
        else rng.choice(["pen", "pencil", "marker"], p=[0.55, 0.2, 0.25])
    )
    tags.append(str(tool))

    stroke = _stroke_fraction(tool, rng)
    longest_line = max(len(line) for line in lines)
    fit_width = 0.8 * width / (longest_line * 0.8 + 0.3)
    fit_height = 0.75 * height / (len(lines) * 1.6)
    top_size = min(fit_width, fit_height, 0.3 * height)
    digit_height = float(rng.uniform(max(28.0, 0.35 * top_size), max(30.0, top_size)))
    layouts = [
        _compose_line(
            line,
            _Pen(digit_height, stroke, drawn_styles, broken_strokes),
            separators and len(line) >= 3,
            digits,
            rng,
            tags,
        )
        for line in lines
    ]
    # Keep every line inside the middle of the photo, whatever the glyphs' widths.
    widest = max(layout.width for layout in layouts)
    if widest > 0.78 * width:
        factor = 0.78 * width / widest
        layouts = [layout.scaled(factor) for layout in layouts]
        digit_height *= factor

    alpha = np.zeros((height, width), np.float32)
    line_gap = digit_height * rng.uniform(1.6, 2.1)
    ruling = None
    if scene == "ruled":
        ruling = digit_height * rng.uniform(1.1, 1.5)
        line_gap = ruling * round(max(1.0, line_gap / ruling))
    block_height = digit_height + (len(lines) - 1) * line_gap
    low = 0.12 * height
    top = rng.uniform(low, max(low + 1, height - block_height - low))
    baselines = [top + digit_height + k * line_gap for k in range(len(lines))]
    flat_boxes: list[tuple[float, float, float, float]] = []
    for layout, baseline in zip(layouts, baselines, strict=True):
        low_x = 0.1 * width
        left = rng.uniform(low_x, max(low_x + 1, width - layout.width - low_x))
        flat_boxes.extend(_draw_line(alpha, layout, left, baseline, rng))
    placed_texts = [layout.text for layout in layouts]
    word_boxes = (
        _write_words(alpha, (top, top + block_height), digit_height, stroke, seed) if words else []
    )
    if word_boxes:
        tags.append("words")

    if scene == "chalk":
        image = _chalkboard(alpha, rng, tags)
    else:
        image = _paper(alpha, scene, ruling, baselines, digit_height, tool, rng, tags)
    image, camera = _camera(image, rng, tags)
    quality = int(rng.integers(55, 93))
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return SynthPhoto(
        jpeg=buffer.tobytes(),
        text=" ".join(placed_texts),
        seed=seed,
        tags=tuple(dict.fromkeys(tags)),
        size=(width, height),
        digits=tuple(
            (int(label), _photo_box(box, camera, (width, height)))
            for label, box in zip("".join(placed_texts), flat_boxes, strict=True)
        ),
        words=tuple(_photo_box(box, camera, (width, height)) for box in word_boxes),
    )


def _photo_box(box, camera: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box on the flat page -> the box around its corners in the photo."""
    x, y, w, h = box
    corners = np.float32([[[x, y]], [[x + w, y]], [[x + w, y + h]], [[x, y + h]]])
    moved = cv2.perspectiveTransform(corners, camera).reshape(-1, 2)
    x0, y0 = np.floor(moved.min(axis=0))
    x1, y1 = np.ceil(moved.max(axis=0))
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(size[0], int(x1)), min(size[1], int(y1))
    return (x0, y0, max(1, x1 - x0), max(1, y1 - y0))


# ------------------------------------------------------------------------- text


def _choose_text(rng: np.random.Generator) -> list[str]:
    count = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    longest = {1: 12, 2: 6, 3: 4}[count]
    lines = []
    for _ in range(count):
        length = int(rng.integers(1, longest + 1))
        lines.append("".join(str(d) for d in rng.integers(0, 10, size=length)))
    return lines


# ----------------------------------------------------------------------- glyphs


def _stroke_fraction(tool: str, rng: np.random.Generator) -> float:
    """Stroke width over digit height for this writer's tool."""
    low, high = {"pen": (0.05, 0.1), "pencil": (0.035, 0.07), "marker": (0.12, 0.2)}.get(
        tool, (0.07, 0.13)
    )
    return float(rng.uniform(low, high))


def _mnist_glyph(image: np.ndarray, height: float, stroke: float, rng) -> np.ndarray:
    """An MNIST digit scaled to ``height`` with the writer's stroke width (float alpha)."""
    ys, xs = np.nonzero(image > 30)
    crop = image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0
    scale = height / crop.shape[0]
    size = (max(2, round(crop.shape[1] * scale)), max(2, round(height)))
    big = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), max(0.6, 0.02 * height))
    # MNIST's own strokes vary (6-14% of the height); reach the writer's width from
    # the measured one by dilating or eroding.
    mask = (big >= 0.45).astype(np.uint8)
    change = round(stroke * height - stroke_width(mask))
    if change > 0:
        mask = cv2.dilate(mask, _disc(change + 1))
    elif change < -1:
        thinner = cv2.erode(mask, _disc(-change + 1))
        if thinner.sum() > 0.3 * mask.sum():
            mask = thinner
    mask = np.pad(mask, 4)
    return _soften(mask.astype(np.float32), height)


def _styled_glyph(label: int, height: float, stroke: float, rng) -> np.ndarray:
    """Draw a European-style 1, 4, 7 or 9 as pen strokes with a writer's jitter."""
    scale = 4  # draw large, then shrink: smooth anti-aliased strokes
    h = height * scale
    w = h * 0.62
    thickness = max(1, round(stroke * h))
    pad = thickness + 4
    canvas = np.zeros((round(h + 2 * pad), round(w + 2 * pad)), np.uint8)
    shear = rng.uniform(-0.25, 0.1)

    def pt(x: float, y: float) -> tuple[int, int]:
        jx, jy = rng.normal(0, 0.025, 2)
        xx = (x + jx) * w + shear * (1 - y) * h * 0.3
        return (round(pad + xx), round(pad + (y + jy) * h))

    strokes = _STYLE_STROKES[label](rng)
    for polyline in strokes:
        points = np.array([pt(x, y) for x, y in polyline], np.int32)
        cv2.polylines(canvas, [points], False, 255, thickness, cv2.LINE_AA)
    small = cv2.resize(
        canvas,
        (max(2, round(canvas.shape[1] / scale)), max(2, round(canvas.shape[0] / scale))),
        interpolation=cv2.INTER_AREA,
    )
    return small.astype(np.float32) / 255.0


def _arc(cx, cy, rx, ry, start, end, steps=14):
    return [(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in np.linspace(start, end, steps)]


def _seven(rng):
    strokes = [[(0.05, 0.1), (0.08, 0.04), (0.95, 0.03), (0.35, 1.0)]]
    y = rng.uniform(0.45, 0.55)
    strokes.append([(0.3, y + 0.02), (0.95, y - 0.03)])  # the cross bar
    return strokes


def _one(rng):
    flag_end = (rng.uniform(0.05, 0.25), rng.uniform(0.3, 0.5))
    strokes = [[flag_end, (0.6, 0.0), (0.55, 1.0)]]
    if rng.random() < 0.3:
        strokes.append([(0.25, 1.0), (0.85, 0.99)])
    return strokes


def _four(rng):
    return [
        [(0.45, 0.0), (0.05, 0.62), (0.95, 0.62)],
        [(0.72, 0.2), (0.7, 1.0)],
    ]


def _nine(rng):
    loop = _arc(0.48, 0.27, 0.4, 0.26, -0.2, 2 * math.pi - 0.2)
    return [[*loop, (0.86, 0.3), (0.8, 1.0)]]


_STYLE_STROKES = {1: _one, 4: _four, 7: _seven, 9: _nine}


def _soften(mask: np.ndarray, height: float) -> np.ndarray:
    return cv2.GaussianBlur(mask, (0, 0), max(0.5, 0.012 * height))


def _disc(size: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (max(1, size), max(1, size)))


def _break_strokes(glyph: np.ndarray, stroke_px: float, rng) -> np.ndarray:
    """Gaps in the stroke, as a pencil skipping or a pen running dry leaves them."""
    ys, xs = np.nonzero(glyph > 0.5)
    if len(ys) == 0:
        return glyph
    out = glyph.copy()
    for _ in range(int(rng.integers(1, 3))):
        k = rng.integers(len(ys))
        radius = max(1, round(stroke_px * rng.uniform(0.6, 1.0)))
        cv2.circle(out, (int(xs[k]), int(ys[k])), radius, 0.0, -1)
    return out


# ------------------------------------------------------------------------ lines


@dataclass
class _LineLayout:
    """The glyphs of one line, the gaps after them and the separators in those gaps."""

    text: str
    glyphs: list[np.ndarray]
    gaps: list[float]
    #: gap index (after that many digits) -> "." or ","; "end" -> ",-" after the last.
    marks: dict
    digit_height: float
    stroke: float

    @property
    def width(self) -> float:
        end = 0.8 * self.digit_height if "end" in self.marks else 0.0
        return sum(g.shape[1] for g in self.glyphs) + sum(self.gaps) + end

    def scaled(self, factor: float) -> _LineLayout:
        glyphs = [
            cv2.resize(
                g,
                (max(2, round(g.shape[1] * factor)), max(2, round(g.shape[0] * factor))),
                interpolation=cv2.INTER_AREA,
            )
            for g in self.glyphs
        ]
        gaps = [gap * factor for gap in self.gaps]
        return _LineLayout(
            self.text, glyphs, gaps, self.marks, self.digit_height * factor, self.stroke
        )


@dataclass(frozen=True)
class _Pen:
    """How the writer of one photo writes."""

    digit_height: float
    stroke: float
    drawn_styles: bool
    broken_strokes: bool


def _compose_line(text, pen: _Pen, amount, digits, rng, tags) -> _LineLayout:
    """Choose the glyphs (MNIST or a drawn style), the gaps and the separators of a line."""
    digit_height, stroke = pen.digit_height, pen.stroke
    glyphs = []
    for char in text:
        label = int(char)
        size = digit_height * rng.uniform(0.88, 1.08)
        styled = label in STYLE_LABELS and rng.random() < STYLE_PROBABILITY
        if styled and pen.drawn_styles:
            glyph = _styled_glyph(label, size, stroke, rng)
            tags.append(f"style{label}")
        else:
            glyph = _mnist_glyph(digits.sample(label, rng), size, stroke, rng)
        if rng.random() < BROKEN_PROBABILITY and pen.broken_strokes:
            glyph = _break_strokes(glyph, stroke * size, rng)
            tags.append("broken")
        glyphs.append(glyph)
    marks = _separator_slots(len(text), rng) if amount else {}
    if marks:
        tags.append("separators")
    gaps = []
    for index in range(len(text) - 1):
        if rng.random() < TOUCHING_PROBABILITY and index + 1 not in marks:
            gaps.append(-rng.uniform(0.03, 0.12) * digit_height)  # touching neighbours
            tags.append("touching")
        else:
            gaps.append(rng.uniform(0.08, 0.4) * digit_height)
        if index + 1 in marks:
            gaps[-1] += digit_height * 0.35
    return _LineLayout(text, glyphs, gaps, marks, digit_height, stroke)


def _draw_line(alpha, layout: _LineLayout, left: float, baseline: float, rng) -> list:
    """Paint a composed line into ``alpha``, slightly tilted and wavy as handwriting is.

    Returns each glyph's ink box (x, y, w, h) on the page.
    """
    tilt = rng.uniform(-0.04, 0.04)
    x = left
    boxes = []
    for index, glyph in enumerate(layout.glyphs):
        y_jitter = rng.normal(0, 0.03) * layout.digit_height + tilt * (x - left)
        y = baseline + y_jitter - glyph.shape[0] + 4
        _stamp(alpha, glyph, x, y)
        ink_x, ink_y, ink_w, ink_h = cv2.boundingRect((glyph > 0.5).astype(np.uint8))
        boxes.append((round(x) + ink_x, round(y) + ink_y, ink_w, ink_h))
        x += glyph.shape[1]
        if index < len(layout.gaps):
            mark = layout.marks.get(index + 1)
            if mark:
                mark_x = x + layout.gaps[index] * 0.3
                _draw_mark(alpha, mark, mark_x, baseline + tilt * (x - left), layout, rng)
            x += layout.gaps[index]
    if "end" in layout.marks:
        mark_x = x + 0.1 * layout.digit_height
        _draw_mark(alpha, ",-", mark_x, baseline + tilt * (x - left), layout, rng)
    return boxes


def _write_words(
    alpha: np.ndarray, block: tuple[float, float], digit_height: float, stroke: float, seed: int
) -> list[tuple[int, int, int, int]]:
    """Print one to three words in a free row above or below ``block`` (the number's
    top and bottom); returns each word's ink box on the page (none if no row is free)."""
    rng = np.random.default_rng([seed, 1])
    height, width = alpha.shape
    size = digit_height * rng.uniform(*WORD_HEIGHT)
    scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, max(8, round(size)))
    thickness = max(1, round(stroke * size * rng.uniform(0.8, 1.3)))
    above = block[0] - 0.6 * digit_height
    below = block[1] + 0.6 * digit_height + size
    rows = [row for row in (above, below) if 0.05 * height + size < row < 0.95 * height]
    if not rows:
        return []
    baseline = round(rows[int(rng.integers(len(rows)))])
    font = cv2.FONT_HERSHEY_SIMPLEX | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
    x = float(rng.uniform(0.08, 0.3) * width)
    boxes = []
    for _ in range(int(rng.integers(1, 4))):
        length = int(rng.integers(WORD_LETTERS[0], WORD_LETTERS[1] + 1))
        word = "".join(rng.choice(list(UNLIKE_DIGITS), length))
        (text_width, _), _ = cv2.getTextSize(word, font, scale, thickness)
        if x + text_width > 0.92 * width:
            break
        canvas = np.zeros(alpha.shape, np.uint8)
        cv2.putText(canvas, word, (round(x), baseline), font, scale, 255, thickness, cv2.LINE_AA)
        box = cv2.boundingRect(canvas)
        if box[2] and box[3]:
            np.maximum(alpha, canvas.astype(np.float32) / 255.0, out=alpha)
            boxes.append(box)
        x += text_width + size * rng.uniform(0.6, 1.2)
    return boxes


def _separator_slots(length: int, rng) -> dict:
    """Where to put thousands dots, a decimal comma and a trailing ',-'."""
    slots: dict = {}
    style = rng.choice(["thousands", "decimal", "dash_end"])
    if style == "decimal" and length >= 3:
        slots[length - 2] = ","
        for position in range(length - 5, 0, -3):
            slots[position] = "."
    else:
        for position in range(length - 3, 0, -3):
            slots[position] = "."
        if style == "dash_end":
            slots["end"] = ",-"
    return slots


def _draw_mark(alpha, mark, x, baseline, layout: _LineLayout, rng) -> None:
    """A dot, a comma or a ',-' drawn with the writer's pen at the baseline."""
    digit_height = layout.digit_height
    thickness = max(2, round(layout.stroke * digit_height))
    radius = max(1, round(thickness * rng.uniform(0.55, 0.8)))
    canvas = np.zeros_like(alpha)
    dot = (round(x), round(baseline - radius - 1))
    if mark in (".", ","):
        cv2.circle(canvas, dot, radius, 1.0, -1, cv2.LINE_AA)
        if mark == ",":
            tail = (round(x - 0.06 * digit_height), round(baseline + 0.16 * digit_height))
            cv2.line(canvas, dot, tail, 1.0, thickness, cv2.LINE_AA)
    elif mark == ",-":
        _draw_mark(alpha, ",", x, baseline, layout, rng)
        start = (round(x + 0.15 * digit_height), round(baseline - 0.45 * digit_height))
        end = (
            round(x + rng.uniform(0.45, 0.65) * digit_height),
            start[1] + int(rng.integers(-3, 4)),
        )
        cv2.line(canvas, start, end, 1.0, thickness, cv2.LINE_AA)
    np.maximum(alpha, canvas, out=alpha)


def _stamp(alpha: np.ndarray, glyph: np.ndarray, x: float, y: float) -> None:
    """Paint a glyph's alpha onto the page (ink over ink stays ink)."""
    h, w = glyph.shape
    x0, y0 = round(x), round(y)
    ax0, ay0 = max(0, x0), max(0, y0)
    ax1, ay1 = min(alpha.shape[1], x0 + w), min(alpha.shape[0], y0 + h)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    region = alpha[ay0:ay1, ax0:ax1]
    np.maximum(region, glyph[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0], out=region)


# ------------------------------------------------------------------------ media


def _paper(alpha, scene, ruling, baselines, digit_height, tool, rng, tags) -> np.ndarray:
    """Ink on (ruled or squared) paper under uneven light, as uint8 BGR."""
    height, width = alpha.shape
    paper = np.array(PAPERS[rng.integers(len(PAPERS))], np.float32)
    line_alpha = np.zeros((height, width), np.float32)
    thickness = max(1, round(rng.uniform(0.0015, 0.003) * max(width, height)))
    strength = rng.uniform(0.35, 0.8)
    if scene == "ruled" and ruling:
        offset = baselines[0] % ruling + rng.uniform(-0.08, 0.08) * digit_height
        for y in np.arange(offset, height, ruling):
            cv2.line(line_alpha, (0, round(y)), (width, round(y)), 1.0, thickness, cv2.LINE_AA)
        if rng.random() < 0.4:  # the margin
            x = round(rng.uniform(0.04, 0.12) * width)
            cv2.line(line_alpha, (x, 0), (x, height), 1.0, thickness, cv2.LINE_AA)
    elif scene == "squared":
        step = digit_height * rng.uniform(0.5, 0.75)
        ox, oy = rng.uniform(0, step, 2)
        for y in np.arange(oy, height, step):
            cv2.line(line_alpha, (0, round(y)), (width, round(y)), 1.0, thickness, cv2.LINE_AA)
        for x in np.arange(ox, width, step):
            cv2.line(line_alpha, (round(x), 0), (round(x), height), 1.0, thickness, cv2.LINE_AA)
    ruling_colour = np.array(RULINGS[rng.integers(len(RULINGS))], np.float32)
    inks = INKS[tool]
    ink = np.array(inks[rng.integers(len(inks))], np.float32)
    if tool == "pencil":
        alpha = alpha * (rng.uniform(0.55, 0.9) * (0.75 + 0.25 * _grain(rng, (height, width))))
    else:
        alpha = alpha * rng.uniform(0.85, 1.0)
    light = _lighting(rng, (height, width), tags, texture=0.03)
    line_alpha *= strength
    return _compose(paper, [(line_alpha, ruling_colour), (alpha, ink)], light)


def _chalkboard(alpha, rng, tags) -> np.ndarray:
    """Chalk on a board with wiped-chalk clouds under uneven light, as uint8 BGR."""
    height, width = alpha.shape
    board = np.array(BOARDS[rng.integers(len(BOARDS))], np.float32)
    chalk = np.array((225, 230, 232), np.float32)
    alpha = alpha * (rng.uniform(0.6, 0.95) * (0.55 + 0.45 * _grain(rng, (height, width))))
    smudge = _smooth_field(rng, (max(8, width // 8), max(8, height // 8)), 0.6)
    smudge = cv2.resize(np.clip(smudge - 1.0, 0, None) * 0.25, (width, height))
    light = _lighting(rng, (height, width), tags, texture=0.0)
    return _compose(board, [(smudge, chalk), (alpha, chalk)], light)


def _compose(base: np.ndarray, layers, light: np.ndarray) -> np.ndarray:
    """Paint colour layers over a base colour by their alphas, light it, one channel at
    a time (whole-image float arrays are the slow part of making a photo)."""
    channels = []
    for c in range(3):
        channel = np.full(light.shape, base[c], np.float32)
        for layer_alpha, colour in layers:
            # channel += (colour - channel) * alpha
            delta = np.subtract(colour[c], channel)
            delta *= layer_alpha
            channel += delta
        channel *= light
        channels.append(channel)
    merged = cv2.merge(channels)
    return np.clip(merged, 0, 255, out=merged).astype(np.uint8)


def _smooth_field(rng, shape_wh, amplitude) -> np.ndarray:
    """A gently varying field around 1.0 of size ``shape_wh`` (paper texture, smudges)."""
    coarse = rng.standard_normal((6, 8), dtype=np.float32)
    field = cv2.resize(coarse, shape_wh, interpolation=cv2.INTER_CUBIC)
    return 1.0 + amplitude * field


def _grain(rng, shape) -> np.ndarray:
    noise = rng.random(shape, dtype=np.float32)
    return cv2.blur(noise, (3, 3)) * 1.6 - 0.3


def _camera(image: np.ndarray, rng, tags: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Table, perspective, blur, noise: the phone's share of the damage (uint8 BGR).

    Returns the photo and the perspective matrix from the page to it.
    """
    height, width = image.shape[:2]
    table = np.array(TABLES[rng.integers(len(TABLES))], np.float64)
    src = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    if rng.random() < 0.3:
        tags.append("page_edge")
        margin = rng.uniform(0.02, 0.08, (4, 2)) * [width, height]
        sign = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])
        dst = src + sign * margin
    else:
        jitter = rng.uniform(-0.04, 0.04, (4, 2)) * [width, height]
        outward = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * 0.04 * [width, height]
        dst = src + jitter + outward
    angle = math.radians(rng.uniform(-4, 4))
    centre = np.array([width / 2, height / 2])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    dst = ((dst - centre) @ rotation.T + centre).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    image = cv2.warpPerspective(
        image,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=tuple(float(v) for v in table),
    )
    sigma = rng.uniform(0.0, 1.6) * max(width, height) / 1280
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
        if sigma > 1.1:
            tags.append("blur")
    noise = rng.standard_normal((height, width), dtype=np.float32)
    noise *= rng.uniform(1.5, 6.0)
    noisy = image.astype(np.float32)
    noisy += noise[..., None]
    return np.clip(noisy, 0, 255, out=noisy).astype(np.uint8), matrix


def _lighting(rng, shape, tags: list[str], texture: float) -> np.ndarray:
    """Uneven light: a gradient across the page, a vignette, maybe a hand's shadow.

    Light varies slowly, so it is computed on a small grid and scaled up.
    """
    height, width = shape
    small = (max(8, width // 8), max(8, height // 8))
    yy, xx = np.mgrid[0 : small[1], 0 : small[0]].astype(np.float32)
    xx /= small[0]
    yy /= small[1]
    direction = rng.uniform(0, 2 * math.pi)
    ramp = (xx - 0.5) * math.cos(direction) + (yy - 0.5) * math.sin(direction)
    light = 1.0 + rng.uniform(0.0, 0.5) * ramp
    radius = ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 2
    light *= 1.0 - rng.uniform(0.0, 0.25) * radius
    if texture:
        light *= _smooth_field(rng, small, texture)
    if rng.random() < 0.35:
        tags.append("shadow")
        shadow = np.zeros((small[1], small[0]), np.float32)
        corner = rng.integers(4)
        points = np.array(
            [
                [0, 0],
                [rng.uniform(0.3, 0.9), 0],
                [rng.uniform(0.1, 0.6), rng.uniform(0.4, 1.0)],
                [0, rng.uniform(0.4, 1.0)],
            ],
            np.float32,
        )
        if corner & 1:
            points[:, 0] = 1 - points[:, 0]
        if corner & 2:
            points[:, 1] = 1 - points[:, 1]
        points *= np.float32(small)
        cv2.fillPoly(shadow, [np.round(points * 8).astype(np.int32)], 1.0, cv2.LINE_AA, 3)
        blur = rng.uniform(0.01, 0.05) * max(small) + 0.5
        shadow = cv2.GaussianBlur(shadow, (0, 0), blur)
        light *= 1.0 - rng.uniform(0.25, 0.55) * shadow
    light = np.clip(light, 0.2, 1.3) * rng.uniform(0.7, 1.05)
    return cv2.resize(light, (width, height), interpolation=cv2.INTER_LINEAR)
