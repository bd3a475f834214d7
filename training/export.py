"""Export a trained model: ``.keras``, LiteRT ``.tflite`` and the JSON model card beside them."""

from __future__ import annotations

import datetime as dt
import json
import platform
import tempfile
from pathlib import Path

import numpy as np

from recognizer.classifier import Classifier, model_card_path

from .train import TrainResult


def new_version() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")


def export_tflite(model, path: Path) -> None:
    """Write a LiteRT model with a dynamic batch dimension and int8 weights.

    Dynamic-range quantization (``Optimize.DEFAULT``: weights stored as int8,
    activations computed in float) lets XNNPACK run the convolutions in int8: on one
    core the classifier reads 2-3 times as many digits per second, for about one MNIST
    test digit in 10,000 read differently. The ``.keras`` twin keeps float weights.
    """
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "model.tflite"
        model.export(
            str(target),
            format="litert",
            verbose=False,
            optimizations=[tf.lite.Optimize.DEFAULT],
        )
        path.write_bytes(target.read_bytes())


def litert_test_metrics(tflite_path: Path, images: np.ndarray, labels: np.ndarray) -> dict:
    """Test metrics of the exported LiteRT file, read the way the bot reads digits: the
    card reports the model that is served, not its float twin."""
    from .evaluate import predict_all
    from .metrics import classification_metrics

    probs = predict_all(Classifier.load(tflite_path), images)
    return classification_metrics(labels, probs.argmax(axis=1))


def export_model(
    model,
    out_dir: Path,
    *,
    version: str | None,
    card_fields: dict,
    history: dict,
    test_set: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrainResult:
    """Write the model files and their card; with ``test_set`` (uint8 images, labels),
    the card's ``test_metrics`` are the exported LiteRT model's."""
    version = version or new_version()
    stem = f"digitbot-{version}"
    keras_path = out_dir / f"{stem}.keras"
    tflite_path = out_dir / f"{stem}.tflite"
    model.save(keras_path)
    export_tflite(model, tflite_path)
    if test_set is not None:
        card_fields = {**card_fields, "test_metrics": litert_test_metrics(tflite_path, *test_set)}
    card = {
        "name": "digitbot CNN",
        "version": version,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "architecture": model.name,
        "parameters": int(model.count_params()),
        "files": {
            keras_path.name: keras_path.stat().st_size,
            tflite_path.name: tflite_path.stat().st_size,
        },
        "input": "28x28 grey, ink = 1.0, float32 in [0, 1], MNIST-style centring",
        "litert": "int8 weights (dynamic-range quantization), float activations",
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        **card_fields,
        "history": history,
    }
    # One card for both files: they share a stem, and the classifier looks for the card
    # beside whichever of them it loads.
    card_path = model_card_path(tflite_path)
    card_path.write_text(json.dumps(card, indent=2, default=_json_default), encoding="utf-8")
    return TrainResult(keras_path, tflite_path, card_path, card=card, history=history)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value)}")
