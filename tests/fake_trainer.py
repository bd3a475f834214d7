"""A stand-in for ``digitbot train`` that the training job tests run as a real process.

It speaks the same protocol (JSON lines in --progress-file, exit code) and "produces" a
model by copying a real model file with a model card claiming the accuracy it is told
to, in well under a second instead of minutes of TensorFlow. How it behaves is chosen
with --behaviour:

  ok       preparing lines (half the photo crops, then all), epoch lines, then a done
           line and exit 0
  error    an error line and exit 1 (what a missing MNIST file gives)
  crash    exit 3 after one epoch, no done line (a trainer that died)
  hang     preparing and epoch lines, then sleep until killed (for cancel and shutdown)
  corrupt  like ok, but the model file written is truncated garbage
  env      like ok, and writes env.json with the names of its environment variables
  garbled  like ok, but two malformed preparing lines come first
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path


def append(path: Path, record: dict) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


#: Photos the stand-in pretends to cut digits out of before its first epoch.
PHOTOS = 200


def preparing(done: int, total: int) -> dict:
    """The fields of a "preparing" line of the photo crop stage (``training.train``'s
    ``PHOTO_CROPS_STAGE``; not imported, to keep this stand-in quick to start)."""
    return {
        "stage": "photo crops",
        "done": done,
        "total": total,
        "seconds": done * 0.01,
        "eta_seconds": (total - done) * 0.01,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--progress-file", type=Path, required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--model", type=Path, required=True, help="a real .tflite to copy")
    parser.add_argument("--accuracy", type=float, default=0.99)
    parser.add_argument("--behaviour", default="ok")
    parser.add_argument("--epoch-seconds", type=float, default=0.05)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.behaviour == "env":
        (args.out / "env.json").write_text(json.dumps(sorted(os.environ)), encoding="utf-8")
    if args.behaviour == "error":
        append(args.progress_file, {"event": "error", "message": "MNIST not found at /nowhere"})
        return 1
    if args.behaviour == "garbled":
        append(args.progress_file, {"event": "preparing", "stage": "photo crops"})
        append(args.progress_file, {"event": "preparing", **preparing(1, 2), "done": "half"})
    for done in (PHOTOS // 2, PHOTOS):
        time.sleep(args.epoch_seconds)
        append(args.progress_file, {"event": "preparing", **preparing(done, PHOTOS)})
    history: dict[str, list[float]] = {
        "accuracy": [],
        "loss": [],
        "val_accuracy": [],
        "val_loss": [],
    }
    for epoch in range(1, args.epochs + 1):
        time.sleep(args.epoch_seconds)
        values = {"loss": 1 / epoch, "accuracy": 1 - 0.1 / epoch}
        values |= {"val_loss": 1.1 / epoch, "val_accuracy": 1 - 0.12 / epoch}
        for key, value in values.items():
            history[key].append(value)
        append(
            args.progress_file,
            {
                "event": "epoch",
                "epoch": epoch,
                "epochs": args.epochs,
                **values,
                "seconds": epoch * args.epoch_seconds,
                "eta_seconds": (args.epochs - epoch) * args.epoch_seconds,
            },
        )
        if args.behaviour == "crash":
            return 3
    if args.behaviour == "hang":
        time.sleep(3600)
        return 0
    stem = f"digitbot-{args.version}"
    tflite = args.out / f"{stem}.tflite"
    if args.behaviour == "corrupt":
        tflite.write_bytes(args.model.read_bytes()[:1000])
    else:
        shutil.copyfile(args.model, tflite)
    matrix = [[100 if i == j else 0 for j in range(10)] for i in range(10)]
    card = {
        "version": args.version,
        "created": "2026-01-01T00:00:00+00:00",
        "test_metrics": {
            "accuracy": args.accuracy,
            "errors": round((1 - args.accuracy) * 10000),
            "count": 10000,
            "macro": {"precision": args.accuracy, "recall": args.accuracy, "f1": args.accuracy},
            "confusion_matrix": matrix,
        },
        "history": history,
    }
    card_path = tflite.with_suffix(".json")
    card_path.write_text(json.dumps(card), encoding="utf-8")
    (args.out / "history.json").write_text(json.dumps(history), encoding="utf-8")
    append(
        args.progress_file,
        {
            "event": "done",
            "tflite": str(tflite),
            "keras": str(args.out / f"{stem}.keras"),
            "card": str(card_path),
            "test_accuracy": args.accuracy,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
