"""What the accuracy benchmarks read: the model to test and MNIST, each from the option
given, the environment or the default, with an error a person can act on."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any


def model_path(given: Path | None) -> Path:
    """``--model``, else ``MODEL_PATH``, else the shipped model."""
    from recognizer.classifier import shipped_model_path

    return given or Path(os.environ.get("MODEL_PATH") or shipped_model_path())


def load_mnist_and_classifier(
    benchmark: str, mnist: Path | None, model: Path
) -> tuple[Any, Any] | None:
    """MNIST (``training.data.Mnist``) and the ``Classifier`` of ``model``; None, once the
    reason is printed, when either cannot be loaded."""
    from recognizer.classifier import Classifier
    from recognizer.types import ModelLoadError
    from training.data import DataError, load_mnist

    try:
        return load_mnist(mnist), Classifier.load(model)
    except (DataError, ModelLoadError, OSError, ValueError) as exc:
        print(f"{benchmark} bench: {exc}", file=sys.stderr)
        return None
