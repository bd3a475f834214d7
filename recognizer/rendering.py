"""The two pictures the bot sends back: the annotated photo and the confidence plot.

Both are drawn with matplotlib's object-oriented API on a fresh ``Figure`` with its own
Agg canvas per call (never ``pyplot``), so several worker threads can render at once
without sharing pyplot's global state. Both return PNG bytes.

Speed: matplotlib's image pipeline (``imshow``/``figimage``) resamples and masks every
pixel, which costs ~80 ms for one 960-pixel photo on the bot's machine, more than the
whole recognition. So matplotlib draws only the marks (boxes, bars, text) on a canvas
whose pixels map one to one onto the picture, and the pixels themselves (the photo, the
28x28 crops) are put in with NumPy/OpenCV: the annotated photo blends matplotlib's
transparent overlay onto the photo; the confidence plot pastes the crops into its slots.

Phones: Telegram shows a photo about as wide as the screen, so the pictures are at most
``MAX_SIDE_PX`` wide and their text is sized as a fraction of the width (about 1/40),
which stays readable when the picture is shrunk to a phone screen. Colours are from the
Okabe-Ito palette, which colour-blind readers can tell apart.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path
from matplotlib.transforms import Affine2D

from .types import Digit, Recognition

#: Pixels per inch of every figure; sizes below are in pixels and converted with it.
DPI = 100
#: Longest side of the annotated photo and width of the confidence plot (pixels). A
#: Telegram chat bubble on a phone is about this many device pixels wide, and PNG
#: encoding of a photo grows with its area, so larger would be slower and no sharper.
MAX_SIDE_PX = 800
#: Text height as a fraction of the picture's longest side; ~1/40 reads well on a phone.
TEXT_FRACTION = 1 / 40
#: Smallest text drawn (pixels), for small photos.
MIN_TEXT_PX = 14
#: Padding around a label's text, as a fraction of the text height.
LABEL_PAD = 0.2

#: A confident digit (Okabe-Ito blue).
CERTAIN_COLOUR = "#0072B2"
#: An uncertain digit (Okabe-Ito vermillion).
UNCERTAIN_COLOUR = "#D55E00"
#: The runner-up bar of an uncertain digit (Okabe-Ito orange).
RUNNER_UP_COLOUR = "#E69F00"
#: Drawn under each box so that it shows on dark backgrounds too.
HALO_COLOUR = (1.0, 1.0, 1.0, 0.7)
#: The other bars, and the empty part of each bar's slot.
OTHER_BAR_COLOUR = "#999999"
SLOT_COLOUR = "#EEEEEE"

#: With more rows than this the plot repeats the column labels 0-9 below the rows.
TICKS_BELOW_FROM = 6

#: PNG encoding (OpenCV): zlib level 1 and one fixed row filter instead of trying all five
#: per row. On an 800x600 photo this is ~2.5x faster than Pillow's level 1 for a file
#: ~15% larger (the photo: SUB suits its noise; the plot: UP suits its flat colours).
#: Telegram re-encodes photos anyway.
PNG_COMPRESSION = 1
PHOTO_PNG_FILTER = cv2.IMWRITE_PNG_FILTER_SUB
PLOT_PNG_FILTER = cv2.IMWRITE_PNG_FILTER_UP


@dataclass(frozen=True, slots=True)
class _PlotLayout:
    """Pixel geometry of the confidence plot: one row per digit, like a table.

    The columns 0-9 are labelled once above the rows (and again below when there are
    many), so each row needs only its reading as text; text is the slow part of drawing.
    """

    width: int = MAX_SIDE_PX
    title_px: int = 48
    ticks_px: int = 30
    row_px: int = 92
    #: Crops are drawn at an integer zoom so their pixels stay sharp squares.
    crop_zoom: int = 3
    crop_left_px: int = 16
    bars_left_px: int = 120
    slot_px: int = 46
    bar_px: int = 32
    footer_px: int = 40

    @property
    def crop_px(self) -> int:
        return 28 * self.crop_zoom

    @property
    def label_left_px(self) -> int:
        return self.bars_left_px + 10 * self.slot_px + 16

    def slot_centre(self, k: int) -> float:
        return self.bars_left_px + (k + 0.5) * self.slot_px

    def crop_top(self, rows_top: int, row: int) -> int:
        return rows_top + row * self.row_px + (self.row_px - self.crop_px) // 2


PLOT = _PlotLayout()


def render_annotated(recognition: Recognition) -> bytes:
    """The photo with a box and a "7 98%" label on each digit, as PNG bytes.

    Uncertain digits are drawn in another colour with a question mark and their
    runner-up ("1? 55% or 7"). Labels go above their box, or below it, or a little to
    the side, wherever they hide fewest other labels. Raises ValueError when the
    recognition carries no preview (the pipeline always attaches one; a hand-made
    Recognition may not).
    """
    if recognition.preview is None:
        raise ValueError("this Recognition has no preview image to annotate")
    photo, scale = _fit_preview(recognition.preview, recognition.preview_scale)
    height, width = photo.shape[:2]
    text_px = max(MIN_TEXT_PX, round(max(width, height) * TEXT_FRACTION))
    line_px = max(2.0, text_px / 8)

    canvas = _PixelCanvas(width, height, transparent=True)
    placed: list[_Rect] = []
    for digit in recognition.digits:
        colour = _colour(digit)
        box = _scaled_box(digit, scale)
        # A pale halo under each box keeps it visible on a dark board as on white paper.
        for edge, width_px in ((HALO_COLOUR, line_px + 2), (colour, line_px)):
            canvas.add(
                Rectangle(
                    (box.x, box.y),
                    box.w,
                    box.h,
                    fill=False,
                    edgecolor=edge,
                    linewidth=_px_to_pt(width_px),
                )
            )
        label = digit_label(digit)
        rect = _place_label(box, label, text_px, width, height, placed)
        placed.append(rect)
        canvas.text(
            rect.x + LABEL_PAD * text_px,
            rect.y + rect.h / 2,
            label,
            color="white",
            fontsize=_px_to_pt(text_px),
            fontweight="bold",
            va="center",
            ha="left",
            bbox={"boxstyle": "square,pad=0.15", "facecolor": colour, "edgecolor": "none"},
        )
    return _encode_png(_blend(photo, canvas.draw()), PHOTO_PNG_FILTER)


def render_confidence_plot(recognition: Recognition, max_digits: int = 12) -> bytes:
    """Each digit's 28x28 input beside a bar chart of its ten probabilities, as PNG bytes.

    One row per digit in reading order, like a table: the crop the network saw (white
    ink on black, framed in the digit's colour), its ten probabilities as bars under the
    column labels 0-9 (the top bar highlighted; for an uncertain digit the top bar in the
    uncertain colour and the runner-up in orange) and its reading. Past ``max_digits``
    only the first ones are drawn and a footer says how many more there are.

    A recognition without digits gives a small picture that says no digits were found:
    that is a valid answer, not an error, so callers need no special case.
    """
    if max_digits < 1:
        raise ValueError("max_digits must be at least 1")
    layout = PLOT
    width = layout.width
    text_px = round(width * TEXT_FRACTION)
    text_pt = _px_to_pt(text_px)
    small_pt = _px_to_pt(text_px * 0.8)
    digits = recognition.digits[:max_digits]
    if not digits:
        canvas = _PixelCanvas(width, 3 * text_px, transparent=False)
        canvas.text(
            width / 2, 1.5 * text_px, "No digits found", ha="center", va="center", fontsize=text_pt
        )
        return _encode_png(canvas.draw()[:, :, :3], PLOT_PNG_FILTER)

    hidden = len(recognition.digits) - len(digits)
    notes = []
    if hidden:
        notes.append(f"+{hidden} more digit{'s' if hidden != 1 else ''}")
    if recognition.truncated:
        notes.append("the photo held more marks than were read")
    ticks_below = len(digits) > TICKS_BELOW_FROM
    rows_top = layout.title_px + layout.ticks_px
    rows_bottom = rows_top + len(digits) * layout.row_px
    height = rows_bottom + (layout.ticks_px if ticks_below else 0)
    height += layout.footer_px if notes else 0

    canvas = _PixelCanvas(width, height, transparent=False)
    canvas.text(
        width / 2,
        layout.title_px / 2,
        f"Read: {recognition.text}",
        ha="center",
        va="center",
        fontsize=text_pt,
        fontweight="bold",
    )

    # Bars grouped by colour, each group one compound path: a path per bar would cost
    # more than all the rest of the plot.
    slots: list[list[tuple[float, float]]] = []
    bars: dict[str, list[list[tuple[float, float]]]] = {}
    for row, digit in enumerate(digits):
        top = layout.crop_top(rows_top, row)
        bottom = top + layout.crop_px
        for k, p in enumerate(digit.probs):
            left = layout.slot_centre(k) - layout.bar_px / 2
            bar_top = bottom - float(np.clip(p, 0.0, 1.0)) * layout.crop_px
            slots.append(_quad(left, top, layout.bar_px, layout.crop_px))
            bars.setdefault(_bar_colour(digit, k), []).append(
                _quad(left, bar_top, layout.bar_px, bottom - bar_top)
            )
        canvas.text(
            layout.label_left_px,
            (top + bottom) / 2,
            digit_label(digit),
            ha="left",
            va="center",
            fontsize=text_pt,
            fontweight="bold",
            color=_colour(digit),
        )
    canvas.add(_rectangles(slots, SLOT_COLOUR))
    for colour, quads in bars.items():
        canvas.add(_rectangles(quads, colour))
    if notes:
        canvas.text(
            width / 2,
            height - layout.footer_px / 2,
            "; ".join(notes),
            ha="center",
            va="center",
            fontsize=small_pt,
            style="italic",
        )

    picture = canvas.draw()[:, :, :3].copy()
    ticks = _tick_labels(layout)
    picture[layout.title_px : rows_top] = ticks
    if ticks_below:
        picture[rows_bottom : rows_bottom + layout.ticks_px] = ticks
    for row, digit in enumerate(digits):
        _paste_crop(picture, digit, layout, layout.crop_top(rows_top, row))
    return _encode_png(picture, PLOT_PNG_FILTER)


def digit_label(digit: Digit) -> str:
    """The short label drawn on a digit: "7 98%", or "1? 55% or 7" when uncertain.

    The percentage is rounded down, so that a model's 99.7% never shows as a certain 100%.
    """
    # The epsilon keeps 0.57 (56.99999... in floating point) at 57%.
    percent = f"{math.floor(digit.confidence * 100 + 1e-9)}%"
    if digit.uncertain:
        return f"{digit.label}? {percent} or {digit.runner_up}"
    return f"{digit.label} {percent}"


# --- the confidence plot -----------------------------------------------------------------


def _colour(digit: Digit) -> str:
    return UNCERTAIN_COLOUR if digit.uncertain else CERTAIN_COLOUR


def _bar_colour(digit: Digit, k: int) -> str:
    if k == digit.label:
        return _colour(digit)
    if digit.uncertain and k == digit.runner_up:
        return RUNNER_UP_COLOUR
    return OTHER_BAR_COLOUR


def _rectangles(quads: list[list[tuple[float, float]]], colour: str) -> PathPatch:
    """Many filled rectangles as one patch (one compound path)."""
    path = Path.make_compound_path_from_polys(np.asarray(quads, dtype=float))
    return PathPatch(path, facecolor=colour, edgecolor="none")


def _quad(left: float, top: float, w: float, h: float) -> list[tuple[float, float]]:
    return [(left, top), (left + w, top), (left + w, top + h), (left, top + h)]


@functools.cache
def _tick_labels(layout: _PlotLayout) -> np.ndarray:
    """The strip of column labels 0-9 (RGB), drawn once and reused: it never changes.

    Every text costs ~1 ms to draw; these ten would be a sixth of the plot's time. The
    array is read-only, so threads can share it.
    """
    canvas = _PixelCanvas(layout.width, layout.ticks_px, transparent=False)
    for k in range(10):
        canvas.text(
            layout.slot_centre(k),
            layout.ticks_px / 2,
            str(k),
            ha="center",
            va="center",
            fontsize=_px_to_pt(layout.width * TEXT_FRACTION * 0.8),
            color="#444444",
        )
    strip = canvas.draw()[:, :, :3].copy()
    strip.flags.writeable = False
    return strip


def _paste_crop(picture: np.ndarray, digit: Digit, layout: _PlotLayout, top: int) -> None:
    """Put a digit's crop, zoomed with sharp pixels and framed in its colour, in its row."""
    crop = np.asarray(digit.crop)
    if crop.shape != (28, 28):
        raise ValueError(f"a digit's crop must be 28x28, got {crop.shape}")
    side = layout.crop_px
    zoomed = cv2.resize(crop.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)
    left = layout.crop_left_px
    picture[top : top + side, left : left + side] = zoomed[:, :, None]
    rgb = tuple(round(c * 255) for c in to_rgb(_colour(digit)))
    cv2.rectangle(picture, (left - 2, top - 2), (left + side + 1, top + side + 1), rgb, 2)


# --- the annotated photo's labels --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rect:
    """A box or a label's estimated extent in picture pixels (y grows downwards)."""

    x: float
    y: float
    w: float
    h: float

    def overlap(self, other: _Rect) -> float:
        dx = min(self.x + self.w, other.x + other.w) - max(self.x, other.x)
        dy = min(self.y + self.h, other.y + other.h) - max(self.y, other.y)
        return max(dx, 0.0) * max(dy, 0.0)


def _place_label(
    box: _Rect, label: str, text_px: float, width: int, height: int, placed: list[_Rect]
) -> _Rect:
    """Where a box's label goes: above or below the box, flush with its left edge or
    nudged right past a neighbour's label, whichever hides least of the labels already
    placed (ties: above, then the smallest nudge).

    Neighbouring digits on one line are often closer together than a label is wide;
    alternating above and below, and nudging, keeps every label readable.
    """
    # Bold DejaVu Sans digits are ~0.7 em wide, plus the padding on each side.
    label_w = len(label) * text_px * 0.7 + 2 * LABEL_PAD * text_px
    label_h = text_px * (1 + 2 * LABEL_PAD)
    rows = [box.y - label_h - 2, box.y + box.h + 2]
    rows = [y for y in rows if y >= 0 and y + label_h <= height]
    if not rows:  # a box as tall as the picture: the label goes inside its top edge
        rows = [max(box.y, 0.0)]
    # Nudges stay within the box's width so that a label still points at its box.
    xs = [box.x] + [p.x + p.w + 2 for p in placed if box.x < p.x + p.w + 2 <= box.x + box.w]
    candidates = []
    for order, y in enumerate(rows):
        for x in xs:
            x = min(max(x, 0.0), max(width - label_w, 0.0))
            rect = _Rect(x, y, label_w, label_h)
            hidden = sum(rect.overlap(p) for p in placed)
            candidates.append((hidden, order, abs(x - box.x), rect))
    return min(candidates, key=lambda c: c[:3])[3]


def _scaled_box(digit: Digit, scale: float) -> _Rect:
    b = digit.box
    return _Rect(b.x * scale, b.y * scale, b.w * scale, b.h * scale)


def _fit_preview(preview: np.ndarray, preview_scale: float) -> tuple[np.ndarray, float]:
    """The preview as RGB uint8, at most MAX_SIDE_PX on its longest side.

    Returns the image and the scale from original-photo coordinates to its pixels.
    Shrinks before converting to RGB: a grey preview then costs a third of the work.
    """
    image = np.asarray(preview)
    if image.dtype != np.uint8:
        raise ValueError(f"preview must be uint8, got {image.dtype}")
    if image.size == 0:
        raise ValueError("preview is empty")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ValueError(f"preview must be grey, BGR or BGRA, got shape {image.shape}")
    height, width = image.shape[:2]
    shrink = min(1.0, MAX_SIDE_PX / max(height, width))
    if shrink < 1.0:
        size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
        # Area averaging is needed against aliasing only when shrinking a lot; for the
        # usual step from the working image (1280-1600 px) to 800, bilinear looks the
        # same at a quarter of the cost.
        smooth = cv2.INTER_AREA if shrink < 0.5 else cv2.INTER_LINEAR
        image = cv2.resize(image, size, interpolation=smooth)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image, preview_scale * shrink


# --- matplotlib and pixels ---------------------------------------------------------------


class _PixelCanvas:
    """A figure exactly width x height pixels on which artists are placed in pixels.

    y grows downwards as in image coordinates, so boxes from the photo need no
    flipping. Artists go straight onto the figure with a pixel transform: an Axes would
    add ~20 ms of tick and spine set-up that these pictures never show.
    """

    def __init__(self, width: int, height: int, *, transparent: bool) -> None:
        self.width = width
        self.height = height
        self.figure = Figure(
            figsize=(width / DPI, height / DPI),
            dpi=DPI,
            facecolor="none" if transparent else "white",
        )
        self._canvas = FigureCanvasAgg(self.figure)
        # Display coordinates are pixels from the bottom-left corner: flip y.
        self.transform = Affine2D().scale(1, -1).translate(0, height)

    def add(self, artist: Artist) -> None:
        artist.set_transform(self.transform)
        self.figure.add_artist(artist)

    def text(self, x: float, y: float, text: str, **kwargs) -> None:
        self.figure.text(x, y, text, transform=self.transform, **kwargs)

    def draw(self) -> np.ndarray:
        """Render; the pixels as an (H, W, 4) RGBA uint8 array (straight alpha)."""
        self._canvas.draw()
        return np.asarray(self._canvas.buffer_rgba())


def _blend(photo: np.ndarray, overlay: np.ndarray) -> np.ndarray:
    """Alpha-blend an RGBA overlay (straight alpha) onto an RGB photo of the same size.

    Only the band of rows and columns the overlay touches is computed: the marks cover a
    small part of a photo.
    """
    out = photo.copy()
    alpha = overlay[:, :, 3]
    rows = np.flatnonzero(alpha.any(axis=1))
    cols = np.flatnonzero(alpha.any(axis=0))
    if len(rows) == 0:
        return out
    band = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    a = alpha[band][:, :, None].astype(np.uint16)
    mixed = overlay[band][:, :, :3] * a + photo[band] * (255 - a) + 127
    out[band] = (mixed // 255).astype(np.uint8)
    return out


def _encode_png(rgb: np.ndarray, row_filter: int) -> bytes:
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION, cv2.IMWRITE_PNG_FILTER, row_filter]
    ok, encoded = cv2.imencode(".png", bgr, params)
    if not ok:
        raise RuntimeError("OpenCV could not encode the picture as PNG")
    return encoded.tobytes()


def _px_to_pt(px: float) -> float:
    return px * 72 / DPI
