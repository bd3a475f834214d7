"""Evaluate a model file on the MNIST test set: metrics JSON and pictures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recognizer.classifier import Classifier

from .data import load_mnist
from .metrics import classification_metrics
from .plots import plot_confusion, plot_history, plot_misclassified

BATCH = 1000


@dataclass(frozen=True)
class Evaluation:
    metrics: dict
    files: dict[str, Path]


def predict_all(classifier: Classifier, images: np.ndarray) -> np.ndarray:
    """Probabilities for any number of crops, in batches of ``BATCH``."""
    return np.concatenate(
        [classifier.predict(images[i : i + BATCH]) for i in range(0, len(images), BATCH)]
    )


def evaluate(model_path: Path | None, data: Path | None, out_dir: Path) -> Evaluation:
    """Score the model the bot would run (LiteRT or Keras) exactly as the bot runs it."""
    classifier = Classifier.load(model_path)
    mnist = load_mnist(data)
    predicted = predict_all(classifier, mnist.x_test).argmax(axis=1)
    metrics = classification_metrics(mnist.y_test, predicted)
    metrics["model"] = str(classifier.path)
    metrics["model_version"] = classifier.info.version

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "metrics": out_dir / "metrics.json",
        "confusion": plot_confusion(metrics["confusion_matrix"], out_dir / "confusion.png"),
        "misclassified": plot_misclassified(
            mnist.x_test, mnist.y_test, predicted, out_dir / "misclassified.png"
        ),
    }
    history = classifier.info.card.get("history")
    if history:
        files["history"] = plot_history(history, out_dir / "history.png")
    files["metrics"].write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return Evaluation(metrics, files)
