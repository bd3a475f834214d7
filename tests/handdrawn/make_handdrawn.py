"""Draw the hand-drawn test images in this folder (run it to regenerate them).

Not MNIST: every digit is drawn stroke by stroke, the way a drawing program or a pen on
paper draws it, from a small stroke "hand" written for this purpose: European 1s with a
long flag, crossed 7s, open 4s, 9s with a straight tail, a price with separators, chalk,
pencil on ruled paper, a fat marker, squared paper. A jitter on every point keeps two
copies of one digit from being identical. The labels go to ``labels.json``
(file name -> the text ``Recognition.text`` should give: lines separated by a space).

    python tests/handdrawn/make_handdrawn.py
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
SUPERSAMPLE = 4

Stroke = list[tuple[float, float]]


def _arc(cx, cy, rx, ry, start, end, steps=24) -> Stroke:
    return [(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in np.linspace(start, end, steps)]


#: Each glyph: strokes in a box 1 wide (scaled to 0.6 of the height) and 1 tall, y down.
HAND: dict[str, list[Stroke]] = {
    "0": [_arc(0.5, 0.5, 0.45, 0.5, -0.5 * math.pi, 1.55 * math.pi)],
    "1": [[(0.2, 0.32), (0.62, 0.0), (0.62, 1.0)]],  # the European flag
    "1plain": [[(0.55, 0.0), (0.5, 1.0)]],
    "2": [[*_arc(0.5, 0.3, 0.42, 0.28, math.pi, 2.15 * math.pi), (0.05, 1.0), (0.95, 0.98)]],
    "3": [
        _arc(0.45, 0.26, 0.4, 0.24, 1.15 * math.pi, 2.5 * math.pi),
        _arc(0.45, 0.73, 0.47, 0.27, 1.5 * math.pi, 2.9 * math.pi),
    ],
    "4": [[(0.72, 1.0), (0.72, 0.0), (0.05, 0.66), (0.97, 0.66)]],
    "4open": [[(0.38, 0.0), (0.06, 0.62), (0.97, 0.62)], [(0.72, 0.22), (0.72, 1.0)]],
    "5": [
        [(0.92, 0.02), (0.22, 0.02), (0.16, 0.44)],
        _arc(0.47, 0.68, 0.44, 0.3, 1.15 * math.pi, 2.85 * math.pi),
    ],
    "6": [
        [(0.82, 0.02), (0.45, 0.15), (0.18, 0.42), (0.1, 0.68)],
        _arc(0.5, 0.69, 0.4, 0.29, math.pi, 3.0 * math.pi),
    ],
    "7": [[(0.04, 0.04), (0.96, 0.02), (0.36, 1.0)]],
    "7crossed": [[(0.04, 0.04), (0.96, 0.02), (0.36, 1.0)], [(0.3, 0.52), (0.86, 0.5)]],
    "8": [
        _arc(0.5, 0.25, 0.33, 0.24, 0, 2 * math.pi),
        _arc(0.5, 0.73, 0.43, 0.27, 0, 2 * math.pi),
    ],
    "9": [[*_arc(0.47, 0.28, 0.4, 0.27, 0.05, 2 * math.pi + 0.05), (0.86, 1.0)]],  # straight tail
}

#: Separators drawn between digits (not read as digits).
MARKS = {".", ",", "-"}


@dataclass(frozen=True)
class Sheet:
    """One picture: its lines of glyph names, and how it is drawn."""

    name: str
    lines: list[list[str]]
    paper: tuple[int, int, int] = (250, 250, 250)
    ink: tuple[int, int, int] = (25, 25, 25)
    height: int = 120
    thickness: float = 0.09
    ruling: str = ""  # "", "ruled" or "squared"
    jpeg: bool = False
    seed: int = 0

    @property
    def text(self) -> str:
        digits = ["".join(g[0] for g in line if g not in MARKS) for line in self.lines]
        return " ".join(d for d in digits if d)


SHEETS = [
    Sheet("flag_ones_4711.png", [["4", "7crossed", "1", "1"]], seed=1),
    Sheet("crossed_sevens_2017.png", [["2", "0", "1", "7crossed"]], thickness=0.07, seed=2),
    Sheet(
        "price_12500.png",
        [["1", "2", ".", "5", "0", "0", ",", "-"]],
        ink=(140, 60, 20),
        height=100,
        seed=3,
    ),
    Sheet("open_four_nines_4949.png", [["4open", "9", "4open", "9"]], seed=4),
    Sheet("two_lines_365_1024.png", [["3", "6", "5"], ["1", "0", "2", "4open"]], seed=5),
    Sheet(
        "chalk_1979.jpg",
        [["1", "9", "7crossed", "9"]],
        paper=(50, 70, 45),
        ink=(225, 230, 230),
        thickness=0.1,
        jpeg=True,
        seed=6,
    ),
    Sheet(
        "pencil_ruled_3141.jpg",
        [["3", "1", "4", "1"]],
        ink=(120, 118, 120),
        thickness=0.05,
        ruling="ruled",
        jpeg=True,
        seed=7,
    ),
    Sheet("marker_90.png", [["9", "0"]], height=220, thickness=0.18, seed=8),
    Sheet(
        "squared_2718.jpg",
        [["2", "7crossed", "1plain", "8"]],
        ink=(150, 50, 30),
        ruling="squared",
        jpeg=True,
        seed=9,
    ),
    Sheet(
        "phone_0176_5836.png",
        [["0", "1", "7crossed", "6"], ["5", "8", "3", "6"]],
        height=90,
        thickness=0.08,
        seed=10,
    ),
]


def draw(sheet: Sheet) -> np.ndarray:
    """Render one sheet as a BGR image."""
    rng = np.random.default_rng(sheet.seed)
    h = sheet.height
    width = int(max(len(line) for line in sheet.lines) * h * 0.85 + 2 * h)
    height = int(len(sheet.lines) * h * 1.7 + 1.2 * h)
    s = SUPERSAMPLE
    ink = np.zeros((height * s, width * s), np.uint8)
    rulings = np.zeros_like(ink)
    pen = max(1, round(sheet.thickness * h * s))
    for row, line in enumerate(sheet.lines):
        x = 0.8 * h
        baseline = 0.8 * h + row * 1.7 * h + h
        for glyph in line:
            if glyph in MARKS:
                _mark(ink, glyph, x, baseline, h, pen, s)
                x += 0.35 * h
                continue
            slant = rng.uniform(-0.12, 0.02)
            for stroke in HAND[glyph]:
                points = [
                    (
                        (x + (px + rng.normal(0, 0.02)) * 0.6 * h + slant * (1 - py) * h) * s,
                        (baseline - h + (py + rng.normal(0, 0.015)) * h) * s,
                    )
                    for px, py in stroke
                ]
                polyline = np.round(points).astype(np.int32)
                cv2.polylines(ink, [polyline], False, 255, pen, cv2.LINE_AA)
            x += 0.6 * h + rng.uniform(0.2, 0.35) * h
    if sheet.ruling == "ruled":
        for y in np.arange(0.8 * h + h + 4, height, 0.85 * h):
            cv2.line(rulings, (0, int(y * s)), (width * s, int(y * s)), 255, 2 * s)
    elif sheet.ruling == "squared":
        for k in np.arange(0, max(width, height), 0.5 * h):
            cv2.line(rulings, (int(k * s), 0), (int(k * s), height * s), 255, s)
            cv2.line(rulings, (0, int(k * s)), (width * s, int(k * s)), 255, s)
    alpha = cv2.resize(ink, (width, height), interpolation=cv2.INTER_AREA) / 255.0
    lines = cv2.resize(rulings, (width, height), interpolation=cv2.INTER_AREA) / 255.0 * 0.4
    image = np.empty((height, width, 3), np.float64)
    image[:] = sheet.paper
    image = image * (1 - lines[..., None]) + np.array((200, 160, 120)) * lines[..., None]
    image = image * (1 - alpha[..., None]) + np.array(sheet.ink) * alpha[..., None]
    return np.clip(image, 0, 255).astype(np.uint8)


def _mark(ink, mark, x, baseline, h, pen, s) -> None:
    dot = (round((x + 0.1 * h) * s), round((baseline - 0.06 * h) * s))
    if mark in ".,":
        cv2.circle(ink, dot, max(1, pen // 2 + s), 255, -1, cv2.LINE_AA)
    if mark == ",":
        tail = (round((x + 0.02 * h) * s), round((baseline + 0.15 * h) * s))
        cv2.line(ink, dot, tail, 255, pen, cv2.LINE_AA)
    if mark == "-":
        y = round((baseline - 0.45 * h) * s)
        cv2.line(ink, (round(x * s), y), (round((x + 0.3 * h) * s), y), 255, pen, cv2.LINE_AA)


def main() -> None:
    labels = {}
    for sheet in SHEETS:
        image = draw(sheet)
        path = HERE / sheet.name
        params = [cv2.IMWRITE_JPEG_QUALITY, 85] if sheet.jpeg else []
        if not cv2.imwrite(str(path), image, params):
            raise RuntimeError(f"could not write {path}")
        labels[sheet.name] = sheet.text
    (HERE / "labels.json").write_text(json.dumps(labels, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
