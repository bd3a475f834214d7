"""Helpers shared by the bot's unit tests (not a test module)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from recognizer.classifier import Classifier, model_card_path, shipped_model_path
from recognizer.types import Box, Digit, Recognition


def model_for_tests() -> Path:
    """The model the tests use: $DIGITBOT_TEST_MODEL, else the shipped one (as conftest)."""
    value = os.environ.get("DIGITBOT_TEST_MODEL")
    return Path(value) if value else shipped_model_path()


def loader_for_tests(path: Path | None) -> Classifier:
    """Classifier.load, with the test model standing in for the shipped one."""
    return Classifier.load(path if path is not None else model_for_tests())


def copy_model(dst_dir: Path, version: str, *, test_accuracy: float | None = 0.99) -> Path:
    """A real model file under a new name, with a model card of our choosing."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    target = dst_dir / f"digitbot-{version}.tflite"
    shutil.copyfile(model_for_tests(), target)
    card: dict = {"version": version, "created": "2026-01-02T03:04:05+00:00"}
    if test_accuracy is not None:
        card["test_metrics"] = {"accuracy": test_accuracy}
    model_card_path(target).write_text(json.dumps(card), encoding="utf-8")
    return target


def truncated_model(dst_dir: Path, version: str) -> Path:
    """A model file cut short, as a crash mid-copy leaves it."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    target = dst_dir / f"digitbot-{version}.tflite"
    target.write_bytes(model_for_tests().read_bytes()[:2048])
    return target


def make_recognition(
    labels: Sequence[int], confidences: Sequence[float] | None = None, *, lines=None
) -> Recognition:
    """A Recognition with these labels (confidences default to 0.99), crops filled per digit."""
    confidences = list(confidences) if confidences is not None else [0.99] * len(labels)
    digits = []
    for i, (label, confidence) in enumerate(zip(labels, confidences, strict=True)):
        probs = np.full(10, (1 - confidence) / 9)
        probs[label] = confidence
        runner = (label + 1) % 10
        probs[runner] += 0.0001  # a definite runner-up
        probs[(label + 2) % 10] -= 0.0001
        crop = np.full((28, 28), (i * 10 + label) % 256, dtype=np.uint8)
        digits.append(
            Digit(
                label=label,
                probs=tuple(float(p) for p in probs),
                box=Box(10 + 30 * i, 10, 20, 28),
                line=lines[i] if lines is not None else 0,
                crop=crop,
            )
        )
    return Recognition(digits=tuple(digits), image_size=(400, 100))


FAKE_TRAINER = Path(__file__).with_name("fake_trainer.py")


def stand_in_trainer(
    model: Path, *, accuracy: float, behaviour: str = "ok", epoch_seconds: float = 0.05
) -> Callable[..., list[str]]:
    """A ``train_command`` running tests/fake_trainer.py instead of ``digitbot train``:
    the same progress file and outputs in seconds, its model a copy of ``model``."""

    def command(request) -> list[str]:
        return [
            sys.executable,
            str(FAKE_TRAINER),
            "--epochs",
            str(request.epochs),
            "--out",
            str(request.out_dir),
            "--progress-file",
            str(request.progress_file),
            "--version",
            request.version,
            "--model",
            str(model),
            "--accuracy",
            str(accuracy),
            "--behaviour",
            behaviour,
            "--epoch-seconds",
            str(epoch_seconds),
        ]

    return command
