"""Draw the example photo shown in the README: a meter reading and a phone number written
with a pen-like script font on ruled paper, under uneven light, saved as a phone-size JPEG.

    .venv/bin/python docs/make_example_photo.py docs/example-photo.jpg
    .venv/bin/digitbot predict docs/example-photo.jpg \
        --annotate docs/reply-annotated.png --plot docs/reply-plot.png

No MNIST digit is in it (the repository never holds MNIST): the strokes are OpenCV's
Hershey script font, jittered so that no two digits are alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

LINES = ("04711", "0151 2846")
WIDTH, HEIGHT = 1280, 960


def draw(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    light = 225 - 45 * (xx / WIDTH) * (yy / HEIGHT)  # a lamp on the upper left
    page = np.dstack([light * 0.97, light * 0.99, light]).astype(np.float32)
    for y in range(120, HEIGHT, 70):  # pale blue ruling
        cv2.line(page, (0, y), (WIDTH, y), (215, 185, 160), 2)
    ink = (110, 50, 30)
    for row, text in enumerate(LINES):
        x = 110.0
        baseline = 330 + row * 280
        for char in text:
            if char == " ":
                x += 70
                continue
            glyph = np.zeros((260, 200), np.uint8)
            cv2.putText(
                glyph,
                char,
                (25, 210),
                cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
                5.5 + rng.uniform(-0.4, 0.4),
                255,
                int(rng.integers(9, 13)),
                cv2.LINE_AA,
            )
            angle = rng.uniform(-8, 8)
            matrix = cv2.getRotationMatrix2D((100, 130), angle, 1.0)
            matrix[0, 1] += rng.uniform(-0.15, 0.05)  # a little slant
            glyph = cv2.warpAffine(glyph, matrix, (200, 260))
            y0 = int(baseline - 210 + rng.uniform(-12, 12))
            region = page[y0 : y0 + 260, int(x) : int(x) + 200]
            alpha = (glyph[: region.shape[0], : region.shape[1]] / 255.0)[..., None]
            region[:] = region * (1 - alpha) + np.array(ink, np.float32) * alpha
            x += 118 + rng.uniform(-8, 8)
    page = cv2.GaussianBlur(page, (0, 0), 1.1)
    page += rng.normal(0, 4, page.shape).astype(np.float32)
    return np.clip(page, 0, 255).astype(np.uint8)


def main(out: str) -> None:
    path = Path(out)
    cv2.imwrite(str(path), draw(), [cv2.IMWRITE_JPEG_QUALITY, 82])
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/example-photo.jpg")
