"""The trained CNN behind a fast, thread-safe batch predict.

Keras ``model.predict`` costs about 100 ms per call on this machine whatever the batch
size, which would dominate the reply time, so the bot runs the exported LiteRT
(``.tflite``) model: one interpreter call per photo for all of its digits. A ``.keras``
file still works (for a model that was never exported), through a direct call of the
model rather than ``predict``.

A model may have an eleventh output after the ten digits: "not one digit" (half a digit,
two touching digits, a separator, a stray mark; trained on the recognizer's own wrong
cuts, see ``training.photo_crops``). ``score`` reports it as ``Scores.digit_like``, which
the segmentation uses to choose between cuts; the digit probabilities are then the ten
digit outputs renormalized, so every model answers "which digit" the same way. A twelfth
output, "printed letters" (``training.letter_output``), is reported as
``Scores.letter_like``. Each score is a ratio of softmax outputs, which a further output
leaves as it was: a model given the twelfth output says the same of digits as before.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .types import ModelLoadError

#: The shipped model, relative to the installed ``models`` package.
SHIPPED_MODEL_NAME = "digitbot-v3.tflite"

#: Digit classes; optional outputs after them are "not one digit" and "printed letters".
DIGITS = 10
NOT_ONE_DIGIT = DIGITS
LETTERS = DIGITS + 1

#: Interpreter threads: one per call keeps the bot's worker pool the unit of parallelism.
INTERPRETER_THREADS = 1


def shipped_model_path() -> Path:
    """Where the model that ships with the package lives (installed or in a checkout)."""
    import models  # the data package that holds the shipped model files

    return Path(models.__file__).resolve().parent / SHIPPED_MODEL_NAME


def model_card_path(model_path: Path) -> Path:
    """The JSON model card that sits beside a model file (same stem, ``.json``)."""
    return model_path.with_suffix(".json")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the model card says about a model; empty fields where there is no card."""

    path: Path
    version: str
    test_accuracy: float | None
    created: str | None
    card: dict[str, Any]


def read_model_info(model_path: Path) -> ModelInfo:
    card_file = model_card_path(model_path)
    card: dict[str, Any] = {}
    if card_file.is_file():
        try:
            card = json.loads(card_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            card = {}
    metrics = card.get("test_metrics") or {}
    return ModelInfo(
        path=model_path,
        version=str(card.get("version", model_path.stem)),
        test_accuracy=metrics.get("accuracy"),
        created=card.get("created"),
        card=card,
    )


@dataclass(frozen=True, slots=True)
class Scores:
    """What the network says about a batch of crops."""

    #: (N, 10) float32: which digit, each row summing to one.
    probs: np.ndarray
    #: (N,) float32: the probability that the crop is one whole digit at all (1.0 for a
    #: model without the "not one digit" output).
    digit_like: np.ndarray
    #: (N,) float32: the probability that the crop is printed letters rather than a
    #: digit, or None for a model without the "printed letters" output.
    letter_like: np.ndarray | None = None


class Classifier:
    """Predicts the ten digit probabilities of a batch of 28x28 crops (ink = 255)."""

    def __init__(self, path: Path, runner: _Runner) -> None:
        self.path = path
        self._runner = runner
        self._lock = threading.Lock()
        self.info = read_model_info(path)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Classifier:
        """Load a ``.tflite`` or ``.keras`` model; raise ModelLoadError with the reason."""
        model_path = Path(path) if path is not None else shipped_model_path()
        if not model_path.is_file():
            raise ModelLoadError(f"model file not found: {model_path}")
        suffix = model_path.suffix.lower()
        try:
            if suffix == ".tflite":
                runner: _Runner = _LiteRTRunner(model_path)
            elif suffix == ".keras":
                runner = _KerasRunner(model_path)
            else:
                raise ModelLoadError(
                    f"unsupported model file {model_path.name}: expected .tflite or .keras"
                )
            classifier = cls(model_path, runner)
            # A truncated or foreign file can load and still fail on first use: prove it now.
            probe = classifier.predict(np.zeros((1, 28, 28), dtype=np.uint8))
        except ModelLoadError:
            raise
        except Exception as exc:  # any library's own error means the file is unusable
            raise ModelLoadError(f"cannot load model {model_path}: {exc}") from exc
        if probe.shape != (1, DIGITS) or not np.isfinite(probe).all():
            raise ModelLoadError(f"{model_path} is not a 10-class digit model")
        return classifier

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) float32 for crops (N, 28, 28) uint8; one model call."""
        return self.score(crops).probs

    def score(self, crops: np.ndarray) -> Scores:
        """Digit probabilities and digit-likeness of crops (N, 28, 28) uint8; one call."""
        crops = np.asarray(crops)
        if crops.ndim != 3 or crops.shape[1:] != (28, 28):
            raise ValueError(f"expected crops of shape (N, 28, 28), got {crops.shape}")
        if len(crops) == 0:
            return Scores(np.zeros((0, DIGITS), np.float32), np.zeros(0, np.float32))
        batch = (crops.astype(np.float32) / 255.0)[..., None]
        with self._lock:
            raw = self._runner.run(batch)
        if raw.ndim != 2 or raw.shape[1] not in (DIGITS, DIGITS + 1, DIGITS + 2):
            raise ModelLoadError(f"{self.path} gives {raw.shape[1:]} outputs, not 10 to 12")
        return scores_from_outputs(raw)


def scores_from_outputs(raw: np.ndarray) -> Scores:
    """``Scores`` from a model's softmax outputs (N, 10 to 12): the ten digits, then
    "not one digit" and "printed letters" if the model has them."""
    digits = raw[:, :DIGITS]
    if raw.shape[1] == DIGITS:
        return Scores(digits, np.ones(len(raw), np.float32))
    mass = digits.sum(axis=1, keepdims=True)
    probs = np.divide(digits, mass, out=np.full_like(digits, 1.0 / DIGITS), where=mass > 0)
    if raw.shape[1] == DIGITS + 1:
        return Scores(probs.astype(np.float32), np.clip(1.0 - raw[:, DIGITS], 0.0, 1.0))
    mass = mass[:, 0]
    return Scores(
        probs.astype(np.float32),
        _share(mass, raw[:, NOT_ONE_DIGIT]),
        _share(raw[:, LETTERS], mass),
    )


def _share(part: np.ndarray, other: np.ndarray) -> np.ndarray:
    """``part / (part + other)``: one kind's share of two softmax outputs, whatever the
    other outputs are."""
    total = part + other
    share = np.divide(part, total, out=np.full_like(total, 0.5), where=total > 0)
    return np.clip(share, 0.0, 1.0).astype(np.float32)


class _Runner:
    def run(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class _LiteRTRunner(_Runner):
    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=INTERPRETER_THREADS)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0

    def run(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) != self._batch:
            self._interpreter.resize_tensor_input(self._input, batch.shape, strict=False)
            self._interpreter.allocate_tensors()
            self._batch = len(batch)
        self._interpreter.set_tensor(self._input, batch)
        self._interpreter.invoke()
        return np.array(self._interpreter.get_tensor(self._output), dtype=np.float32)


class _KerasRunner(_Runner):
    def __init__(self, path: Path) -> None:
        import keras

        self._model = keras.saving.load_model(path, compile=False, safe_mode=True)

    def run(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self._model(batch, training=False), dtype=np.float32)
