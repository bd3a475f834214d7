"""What the recognizer reports for what is not a number: ``python -m bench.no_number``.

People send the bot photos that hold no number: a page of print, a label, by mistake the
carpet. A reader that answers such a photo with a long string of guessed digits is one
nobody trusts with a meter reading. Three sets of photos, made here:

- ``print``: printed words (OpenCV's font, upright or italic, light to bold, 1-7 lines)
  on unevenly lit paper, blurred, noisy, JPEG-compressed: no digit in them;
- ``texture``: blobs of every size (gravel, fabric, a wall), sharp or blurred;
- ``words``: the accuracy test's photos (MNIST test digits) with one or two printed
  labels added in rows free of digits ("Gas:", "Kitchen key:"), as on a form or a
  note: the number should read as it does without them.

Figures: for ``print`` and ``texture`` how many photos report any digit and how many
digits; for ``words`` the texts read exactly, beside the same photos without the labels.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from bench import inputs
from bench.results import report

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS_DIR = REPO / "bench" / "results"
PHOTOS = 60
QUICK_PHOTOS = 4
#: Seeds of the ``print`` and ``texture`` photos; ``words`` uses the accuracy test's
#: photos (seeds from 0).
SEED = 5_000
WORDS = (
    "gas water meter reading kitchen total date name phone please call note room key code "
    "sum hello shopping milk bread butter apples the quick brown fox"
)
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX)
JPEG_QUALITY = (60, 95)


def print_photo(seed: int) -> bytes:
    """Printed words on paper under uneven light: no digit anywhere."""
    rng = np.random.default_rng(seed)
    width, height = (1280, 960) if rng.random() < 0.6 else (960, 1280)
    paper = int(rng.uniform(170, 240))
    page = np.full((height, width), paper, np.uint8)
    font = int(rng.choice(FONTS)) | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
    scale, thickness = float(rng.uniform(1.0, 3.0)), int(rng.integers(1, 5))
    ink = int(rng.uniform(10, 90))
    step = int(45 * scale * rng.uniform(1.2, 2.0))
    for row in range(int(rng.integers(1, 8))):
        y = int(rng.uniform(60, 200)) + row * step
        if y > height - 20:
            break
        words = " ".join(rng.choice(WORDS.split(), int(rng.integers(1, 5))))
        x = int(rng.uniform(10, 200))
        cv2.putText(page, words.capitalize(), (x, y), font, scale, ink, thickness, cv2.LINE_AA)
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), float(rng.uniform(-5, 5)), 1.0)
    image = cv2.warpAffine(page, turn, (width, height), borderValue=paper).astype(np.float32)
    light = cv2.resize(rng.normal(0, 1, (4, 4)).astype(np.float32), (width, height))
    image = cv2.GaussianBlur(image * (1 + 0.12 * light), (0, 0), float(rng.uniform(0.5, 2.0)))
    return _jpeg(image + rng.normal(0, rng.uniform(2, 8), image.shape), rng)


def texture_photo(seed: int) -> bytes:
    """Blobs of one size, sharp-edged or soft: gravel, fabric, a wall."""
    rng = np.random.default_rng(seed)
    width, height = (1280, 960) if rng.random() < 0.6 else (960, 1280)
    cell = int(rng.choice([2, 4, 8]))
    blobs = rng.uniform(0, 255, (height // cell, width // cell)).astype(np.float32)
    sharp = rng.random() < 0.5
    blobs = cv2.resize(
        blobs, (width, height), interpolation=cv2.INTER_NEAREST if sharp else cv2.INTER_LINEAR
    )
    blur = float(rng.choice([0.0, 1.0, 2.0, 4.0, 8.0]))
    if blur:
        blobs = cv2.GaussianBlur(blobs, (0, 0), blur)
    return _jpeg(0.5 * blobs + 0.5 * rng.uniform(170, 240), rng)


def with_labels(photo, seed: int) -> bytes:
    """``photo`` (a ``SynthPhoto``) with one or two printed labels in rows free of its
    digits, in the darkest ink of the photo."""
    rng = np.random.default_rng(seed)
    image = cv2.imdecode(np.frombuffer(photo.jpeg, np.uint8), cv2.IMREAD_COLOR)
    height, width = image.shape[:2]
    boxes = np.array([box for _, box in photo.digits])
    digit_height = float(np.median(boxes[:, 3]))
    busy = np.zeros(height, bool)
    for _, y, _, h in boxes:
        busy[max(0, y - h // 3) : y + h + h // 3] = True
    scale = max(0.8, digit_height / 40 * rng.uniform(0.5, 1.0))
    thickness = max(1, round(1.5 * scale))
    text_height = round(24 * scale)
    ink = tuple(float(v) for v in np.percentile(image.reshape(-1, 3), 1, axis=0))
    font = int(rng.choice(FONTS))
    placed, y = 0, text_height + 10
    while y < height - 10 and placed < 2:
        if not busy[max(0, y - text_height) : y + text_height // 2].any():
            label = " ".join(rng.choice(WORDS.split(), int(rng.integers(1, 3)))).capitalize() + ":"
            x = int(rng.uniform(0.05, 0.3) * width)
            cv2.putText(image, label, (x, y), font, scale, ink, thickness, cv2.LINE_AA)
            placed += 1
            y += 3 * text_height
        y += 10
    return _jpeg(image, rng)


def _jpeg(image: np.ndarray, rng: np.random.Generator) -> bytes:
    quality = int(rng.integers(*JPEG_QUALITY))
    pixels = np.clip(image, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes()


def reported(photos: Sequence[bytes], classifier) -> dict:
    """How many of ``photos`` (none holds a digit) report digits, and how many in all."""
    from recognizer import recognize

    counts = [len(recognize(data, classifier).digits) for data in photos]
    return {
        "photos": len(counts),
        "photos_with_digits": sum(1 for count in counts if count),
        "digits": sum(counts),
        "most_digits": max(counts, default=0),
    }


def markdown(rows: dict, words: dict) -> str:
    lines = [
        "| photos without a number | photos | report any digit | digits reported | most in one |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['photos']} | {row['photos_with_digits']} | {row['digits']} "
            f"| {row['most_digits']} |"
        )
    lines += [
        "",
        "| numbers with printed labels beside them | photos | texts read exactly |",
        "|---|---:|---:|",
        f"| without the labels | {words['photos']} | {words['plain']} |",
        f"| with the labels | {words['photos']} | {words['labelled']} |",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.no_number", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK_PHOTOS} each")
    parser.add_argument("--model", type=Path, help="LiteRT model (default: MODEL_PATH or shipped)")
    parser.add_argument("--mnist", type=Path, help="MNIST .npz (default: MNIST_PATH)")
    parser.add_argument("--photos", type=int, help=f"photos per set (default {PHOTOS})")
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    count = args.photos or (QUICK_PHOTOS if args.quick else PHOTOS)
    if count < 1:
        print("no-number bench: --photos must be positive", file=sys.stderr)
        return 2

    from recognizer import recognize
    from training.synthetic_photos import MnistDigits, make_set

    model_path = inputs.model_path(args.model)
    loaded = inputs.load_mnist_and_classifier("no-number", args.mnist, model_path)
    if loaded is None:
        return 2
    mnist, classifier = loaded
    seeds = range(SEED, SEED + count)
    rows = {
        "printed words": reported([print_photo(seed) for seed in seeds], classifier),
        "texture": reported([texture_photo(seed) for seed in seeds], classifier),
    }
    photos = make_set(count, MnistDigits.from_arrays(mnist.x_test, mnist.y_test))
    words = {"photos": count, "plain": 0, "labelled": 0, "misread": []}
    for photo in photos:
        words["plain"] += recognize(photo.jpeg, classifier).text == photo.text
        read = recognize(with_labels(photo, photo.seed), classifier).text
        words["labelled"] += read == photo.text
        if read != photo.text:
            words["misread"].append({"seed": photo.seed, "truth": photo.text, "read": read})
    results = {
        "benchmark": "no_number",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "config": {"photos": count, "seed": SEED, "model": str(model_path)},
        "without_a_number": rows,
        "words": words,
    }
    report(
        "Photos without a number, and numbers with words",
        [markdown(rows, words)],
        results,
        args.results_dir,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
