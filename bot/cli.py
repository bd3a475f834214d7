"""The ``digitbot`` command line: ``run``, ``predict``, ``train`` and ``evaluate``.

Each sub-command lives in the module that owns its job; this file only parses arguments,
so that ``digitbot --help`` stays fast (TensorFlow is imported only by what needs it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# TensorFlow's C++ start-up chatter says nothing a user can act on.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digitbot",
        description="Read handwritten digits from photos: a Telegram bot and its tools.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="start the Telegram bot (needs TELEGRAM_BOT_TOKEN)")
    run.set_defaults(handler="bot.app:run_command")

    predict = commands.add_parser("predict", help="read the digits in image files")
    predict.add_argument("files", nargs="+", type=Path, metavar="FILE")
    predict.add_argument("--json", action="store_true", help="print one JSON object per file")
    predict.add_argument(
        "--annotate",
        type=Path,
        metavar="OUT.png",
        help="write the photo with a box and label on each digit",
    )
    predict.add_argument(
        "--plot",
        type=Path,
        metavar="OUT.png",
        help="write each digit's 28x28 input and its probabilities",
    )
    predict.add_argument("--model", type=Path, help="model file (default: MODEL_PATH or shipped)")
    predict.set_defaults(handler="bot.predict_command:predict_command")

    train = commands.add_parser("train", help="train a new model on MNIST (+ user samples)")
    train.add_argument("--epochs", type=int, default=None, help="epochs (default 18)")
    train.add_argument("--data", type=Path, help="MNIST .npz or IDX folder (default MNIST_PATH)")
    train.add_argument("--out", type=Path, default=Path("artifacts/train"), help="output folder")
    train.add_argument("--seed", type=int, default=1)
    train.add_argument("--limit", type=int, help="train on the first N MNIST images only")
    train.add_argument("--samples", type=Path, help="folder of user samples to mix in")
    train.add_argument(
        "--synthetic",
        type=int,
        metavar="N",
        help="drawn European-style digits to add to training (default 10000, scaled down "
        "with --limit; 0 disables)",
    )
    train.add_argument(
        "--photos",
        type=int,
        metavar="N",
        help="synthetic photos whose recognizer crops (digits and not-digits) join training "
        "(default 5000, scaled down with --limit; 0 disables and keeps ten outputs)",
    )
    train.add_argument(
        "--init",
        type=Path,
        metavar="MODEL.keras",
        help="start from this model's weights (fine-tuning: a few --epochs suffice)",
    )
    train.add_argument("--version", help="model version (default: a UTC timestamp)")
    train.add_argument(
        "--progress-file",
        type=Path,
        help="append JSON lines: data preparation, every epoch, the end (/train reads them)",
    )
    train.set_defaults(handler="bot.training_commands:train_command")

    evaluate = commands.add_parser("evaluate", help="metrics and plots of a model on MNIST test")
    evaluate.add_argument("--model", type=Path, help="model file (default: the shipped model)")
    evaluate.add_argument("--data", type=Path, help="MNIST .npz or IDX folder (default MNIST_PATH)")
    evaluate.add_argument("--out", type=Path, default=Path("artifacts/evaluate"))
    evaluate.set_defaults(handler="bot.training_commands:evaluate_command")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module_name, func_name = args.handler.split(":")
    module = __import__(module_name, fromlist=[func_name])
    return int(getattr(module, func_name)(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
