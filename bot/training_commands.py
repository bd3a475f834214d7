"""The ``digitbot train`` and ``digitbot evaluate`` sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from recognizer.types import ModelLoadError
from training.data import DataError


def _append_json_line(path: Path | None, record: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def train_command(args: argparse.Namespace) -> int:
    from training.train import (
        EPOCHS,
        PHOTOS,
        SYNTHETIC_DIGITS,
        EpochReport,
        PreparationReport,
        TrainConfig,
        train,
    )

    if args.epochs is not None and args.epochs < 1:
        print("digitbot train: --epochs must be at least 1", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 20:
        print("digitbot train: --limit must be at least 20 images", file=sys.stderr)
        return 2
    for flag, value in (("--synthetic", args.synthetic), ("--photos", args.photos)):
        if value is not None and value < 0:
            print(f"digitbot train: {flag} must be 0 or more", file=sys.stderr)
            return 2
    if args.init is not None and not args.init.is_file():
        print(f"digitbot train: --init {args.init}: no such model file", file=sys.stderr)
        return 2
    config = TrainConfig(
        epochs=args.epochs or EPOCHS,
        seed=args.seed,
        limit=args.limit,
        data=args.data,
        samples_dir=args.samples,
        out_dir=args.out,
        version=args.version,
        synthetic=SYNTHETIC_DIGITS if args.synthetic is None else args.synthetic,
        photos=PHOTOS if args.photos is None else args.photos,
        init=args.init,
    )

    def report(epoch: EpochReport) -> None:
        _append_json_line(args.progress_file, {"event": "epoch", **asdict(epoch)})

    def preparing(preparation: PreparationReport) -> None:
        _append_json_line(args.progress_file, {"event": "preparing", **asdict(preparation)})

    try:
        result = train(config, progress=report, preparing=preparing)
    except DataError as exc:
        _append_json_line(args.progress_file, {"event": "error", "message": str(exc)})
        print(f"digitbot train: {exc}", file=sys.stderr)
        return 1
    accuracy = result.card["test_metrics"]["accuracy"]
    _append_json_line(
        args.progress_file,
        {
            "event": "done",
            "keras": str(result.keras_path),
            "tflite": str(result.tflite_path),
            "card": str(result.card_path),
            "test_accuracy": accuracy,
        },
    )
    wall = result.card["training"]["wall_seconds"]
    print(f"model: {result.tflite_path}")
    print(f"MNIST test accuracy: {accuracy:.2%} ({result.card['test_metrics']['errors']} errors)")
    print(f"training time: {wall / 60:.1f} min")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate

    try:
        evaluation = evaluate(args.model, args.data, args.out)
    except (DataError, ModelLoadError) as exc:
        print(f"digitbot evaluate: {exc}", file=sys.stderr)
        return 1
    m = evaluation.metrics
    print(f"model: {m['model']} (version {m['model_version']})")
    print(f"accuracy: {m['accuracy']:.2%} ({m['errors']} errors of {m['count']})")
    print(
        f"macro precision {m['macro']['precision']:.4f}  recall {m['macro']['recall']:.4f}"
        f"  F1 {m['macro']['f1']:.4f}"
    )
    print("class  precision  recall  F1")
    for label, row in m["per_class"].items():
        print(f"  {label}    {row['precision']:.4f}    {row['recall']:.4f}  {row['f1']:.4f}")
    for name, path in evaluation.files.items():
        print(f"{name}: {path}")
    return 0
