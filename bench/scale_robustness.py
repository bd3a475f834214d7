"""Accuracy when the same photos come larger or smaller: ``python -m bench.scale_robustness``.

The accuracy test set (the 200 photos of ``tests/test_recognizer_accuracy.py``) comes in
a few fixed sizes; people's photos come in any, and a phone, a crop or a messenger's
compression changes how many pixels a digit and a ruled line get. Each photo is resized
here (area averaging down, bicubic up), re-encoded as JPEG at quality 92 as a phone
would, and read. Digit and text accuracy per scale show how much the reading depends on
the size of the digits and lines in pixels; at scale 1 the photos are the test's own.
The last row crops each photo to its digits (half a digit's height around them), as a
person sending only the number would: the digits then fill the frame.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from bench import inputs
from bench.measures import Accuracy
from bench.results import report

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS_DIR = REPO / "bench" / "results"
#: The accuracy test's photos: seeds 0-199.
PHOTOS = 200
SEED = 0
#: The scale that stands for "cropped to the digits" (``cropped``).
CROPPED = 0.0
#: Margin around the digits of a cropped photo, in digit heights.
CROP_MARGIN = 0.5
SCALES = (0.5, 0.6, 0.75, 0.9, 1.0, 1.25, CROPPED)
QUICK_PHOTOS = 4
QUICK_SCALES = (0.6, 1.0, CROPPED)
JPEG_QUALITY = 92


def rescaled(jpeg: bytes, scale: float) -> bytes:
    """The photo at ``scale`` times its width and height, re-encoded as JPEG."""
    if scale == 1.0:
        return jpeg
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    method = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
    return _jpeg(cv2.resize(image, size, interpolation=method))


def cropped(photo, margin: float = CROP_MARGIN) -> bytes:
    """The photo cropped to its digits, ``margin`` digit heights around them, as a
    person cropping a photo to the number before sending it would."""
    boxes = np.array([box for _, box in photo.digits])
    margin_px = round(margin * float(np.median(boxes[:, 3])))
    image = cv2.imdecode(np.frombuffer(photo.jpeg, np.uint8), cv2.IMREAD_COLOR)
    height, width = image.shape[:2]
    left = max(0, int(boxes[:, 0].min()) - margin_px)
    top = max(0, int(boxes[:, 1].min()) - margin_px)
    right = min(width, int((boxes[:, 0] + boxes[:, 2]).max()) + margin_px)
    bottom = min(height, int((boxes[:, 1] + boxes[:, 3]).max()) + margin_px)
    return _jpeg(image[top:bottom, left:right])


def _jpeg(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"could not encode a {image.shape[1]}x{image.shape[0]} JPEG")
    return encoded.tobytes()


def read_at_scale(photos: Sequence, classifier, scale: float) -> dict:
    """The accuracy at one scale (0: cropped to the digits, see ``cropped``), the range of
    photo sizes read and the misread photos."""
    from recognizer import recognize

    accuracy = Accuracy()
    longest: list[int] = []
    misread = []
    for photo in photos:
        data = cropped(photo) if scale == CROPPED else rescaled(photo.jpeg, scale)
        with Image.open(io.BytesIO(data)) as header:
            longest.append(max(header.size))
        read = recognize(data, classifier).text
        accuracy.add(photo.text, read)
        if read != photo.text:
            misread.append({"seed": photo.seed, "truth": photo.text, "read": read})
    return {
        "scale": scale,
        "longest_side": [min(longest), max(longest)],
        "accuracy": accuracy.summary(),
        "misread": misread,
    }


def markdown_table(rows: Sequence[dict]) -> str:
    lines = [
        "| scale | longest side (px) | digits read right | texts read exactly |",
        "|---:|---:|---:|---:|",
    ]
    for row in rows:
        low, high = row["longest_side"]
        summary = row["accuracy"]
        scale = "cropped" if row["scale"] == CROPPED else f"{row['scale']:g}"
        lines.append(
            f"| {scale} | {low}-{high} | {summary['digit_accuracy']:.2%} "
            f"| {summary['text_accuracy']:.1%} ({summary['photos']} photos) |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale_robustness", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 4 photos, 2 scales")
    parser.add_argument("--model", type=Path, help="LiteRT model (default: MODEL_PATH or shipped)")
    parser.add_argument("--mnist", type=Path, help="MNIST .npz (default: MNIST_PATH)")
    parser.add_argument("--photos", type=int, help=f"photos (default {PHOTOS})")
    parser.add_argument(
        "--scales",
        type=lambda text: tuple(float(part) for part in text.split(",")),
        help="comma-separated scales, 0 for cropped to the digits (default "
        + ",".join(f"{s:g}" for s in SCALES)
        + ")",
    )
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    count = args.photos or (QUICK_PHOTOS if args.quick else PHOTOS)
    scales = args.scales or (QUICK_SCALES if args.quick else SCALES)
    if count < 1 or any(not 0.05 <= scale <= 4.0 and scale != CROPPED for scale in scales):
        print(
            "scale bench: --photos must be positive, scales within 0.05-4 (0: cropped)",
            file=sys.stderr,
        )
        return 2

    from training.synthetic_photos import MnistDigits, make_set

    model_path = inputs.model_path(args.model)
    loaded = inputs.load_mnist_and_classifier("scale", args.mnist, model_path)
    if loaded is None:
        return 2
    mnist, classifier = loaded
    print(f"making {count} photos (seeds {SEED}-{SEED + count - 1})...", flush=True)
    photos = make_set(count, MnistDigits.from_arrays(mnist.x_test, mnist.y_test), seed=SEED)
    rows = []
    for scale in scales:
        rows.append(read_at_scale(photos, classifier, scale))
        summary = rows[-1]["accuracy"]
        print(
            f"scale {scale:g} (0: cropped): digits {summary['digit_accuracy']:.2%}, "
            f"texts {summary['text_accuracy']:.1%}",
            flush=True,
        )
    results = {
        "benchmark": "scale",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "config": {"photos": count, "seed": SEED, "model": str(model_path)},
        "scales": rows,
    }
    report("Accuracy by photo size", [markdown_table(rows)], results, args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
