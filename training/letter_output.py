"""A "printed letters" output for a trained digit model that changes nothing it says of
digits: ``python -m training.letter_output --init models/digitbot-v2.keras ...``.

The network has never seen a letter: to it an l, an i or the stem of an h is a 1 and an
o a 0, so printed labels beside a number and pages of print come back as digits
(``bench.no_number``). Retraining the whole network on letters changes how it reads digits
too (three such models each read 7-21 fewer of the 1,226 tuning photos; see the
README's "Training"). Instead, a twelfth output (``photo_crops.LETTER``) is added and only
its own weights learn: one column of the last layer, on the network's frozen features of
the recognizer's crops of photos with printed words beside their numbers
(``training.photo_crops`` with ``letters``), with MNIST digits as more examples of what
is no letter. Softmax outputs keep their ratios whatever another output's value, so the
ten digit probabilities and "one whole digit" come out as before
(``recognizer.classifier``); only ``recognizer.rejection`` reads the new output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recognizer.classifier import DIGITS, scores_from_outputs

from .photo_crops import LETTER, NOT_A_DIGIT, photo_crops

#: The layer whose input are the features, and whose weights gain the new column.
LAST_LAYER = "probs"
#: MNIST training digits added as examples of what is no letter.
MNIST_DIGITS = 20_000
#: Training of the one column: passes over the crops, batch size, learning rate.
EPOCHS = 30
BATCH_SIZE = 256
LEARNING_RATE = 3e-3
#: Held out of the crops to measure the new output on.
HELD_OUT = 0.2


@dataclass(frozen=True)
class LetterFigures:
    """How the new output does on held-out crops: letters called letters, and digits
    (photo crops, MNIST test digits) called letters, at a probability of 0.5."""

    letters_found: float
    photo_digits_called_letters: float
    mnist_digits_called_letters: float


def features_and_logits(model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The last layer's input and its logits (before the softmax) for uint8 crops."""
    import keras

    features = keras.Model(model.inputs, model.get_layer(LAST_LAYER).input)
    x = (images.astype(np.float32) / 255.0)[..., None]
    found = np.asarray(features.predict(x, batch_size=1024, verbose=0), np.float64)
    kernel, bias = model.get_layer(LAST_LAYER).get_weights()
    return found.astype(np.float32), (found @ kernel + bias).astype(np.float32)


def train_letter_column(
    features: np.ndarray, logits: np.ndarray, labels: np.ndarray, seed: int = 1
) -> tuple[np.ndarray, float]:
    """The new output's kernel column and bias: a softmax over the model's own logits
    (held fixed) and the new one, fitted to ``labels`` (the model's classes, or
    ``LETTER``) by cross-entropy."""
    import keras

    keras.utils.set_random_seed(seed)
    feature_input = keras.Input((features.shape[1],), name="features")
    fixed_input = keras.Input((logits.shape[1],), name="fixed_logits")
    column = keras.layers.Dense(1, name="letters")
    joined = keras.layers.Concatenate()([fixed_input, column(feature_input)])
    probs = keras.layers.Softmax()(joined)
    trainer = keras.Model([feature_input, fixed_input], probs)
    trainer.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy"
    )
    trainer.fit(
        [features, logits],
        labels.astype(np.int32),
        batch_size=BATCH_SIZE,
        epochs=EPOCHS,
        shuffle=True,
        verbose=0,
    )
    kernel, bias = column.get_weights()
    return kernel[:, 0], float(bias[0])


def with_letter_output(model, column: np.ndarray, bias: float):
    """``model``'s network with the new output: the same layers and weights, and one
    more column in the last layer."""
    from .model import build_model

    classes = model.get_layer(LAST_LAYER).get_weights()[1].shape[0]
    if classes != LETTER:
        raise ValueError(f"expected a model with {LETTER} outputs, not {classes}")
    extended = build_model(classes=LETTER + 1)
    for layer in extended.layers:
        if not layer.weights:
            continue
        weights = model.get_layer(layer.name).get_weights()
        if layer.name == LAST_LAYER:
            weights = [np.column_stack([weights[0], column]), np.append(weights[1], bias)]
        layer.set_weights(weights)
    return extended


def letter_figures(
    model, crops_images: np.ndarray, crops_labels: np.ndarray, mnist_images: np.ndarray
) -> LetterFigures:
    """``LetterFigures`` of a model with the new output."""

    def called_letters(images: np.ndarray) -> float:
        x = (images.astype(np.float32) / 255.0)[..., None]
        raw = np.asarray(model.predict(x, batch_size=1024, verbose=0))
        return float((scores_from_outputs(raw).letter_like >= 0.5).mean())

    return LetterFigures(
        letters_found=called_letters(crops_images[crops_labels == LETTER]),
        photo_digits_called_letters=called_letters(crops_images[crops_labels < DIGITS]),
        mnist_digits_called_letters=called_letters(mnist_images),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.letter_output", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--init", type=Path, required=True, help="an 11-output .keras model")
    parser.add_argument("--data", type=Path, help="MNIST .npz (default: MNIST_PATH)")
    parser.add_argument("--photos", type=int, default=4000, help="synthetic photos for crops")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--version", required=True, help="the new model's version, e.g. v3")
    parser.add_argument("--out", type=Path, required=True, help="directory for the files")
    args = parser.parse_args(argv)
    return run(args.init, args.data, args.photos, args.seed, args.version, args.out)


def run(init: Path, data: Path | None, photos: int, seed: int, version: str, out: Path) -> int:
    import json
    import time

    import keras

    from .data import load_mnist
    from .export import export_model
    from .synthetic_photos import MnistDigits

    started = time.monotonic()
    model = keras.saving.load_model(init, compile=False)
    mnist = load_mnist(data)
    crops = photo_crops(
        photos,
        MnistDigits.from_arrays(mnist.x_train, mnist.y_train),
        seed=seed,
        not_digits=True,
        letters=True,
    )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(crops.labels))
    held = order[: round(HELD_OUT * len(order))]
    kept = order[len(held) :]
    extra = rng.choice(len(mnist.x_train), MNIST_DIGITS, replace=False)
    images = np.concatenate([crops.images[kept], mnist.x_train[extra]])
    labels = np.concatenate([crops.labels[kept], mnist.y_train[extra]])
    features, logits = features_and_logits(model, images)
    column, bias = train_letter_column(features, logits, labels, seed)
    extended = with_letter_output(model, column, bias)
    figures = letter_figures(extended, crops.images[held], crops.labels[held], mnist.x_test)
    print(json.dumps(figures.__dict__, indent=1))
    out.mkdir(parents=True, exist_ok=True)
    counts = np.bincount(crops.labels, minlength=LETTER + 1)
    export_model(
        extended,
        out,
        version=version,
        card_fields={
            "data": {
                "source": Path(mnist.source).name,
                "sha256": mnist.checksum,
                "letter_output_from": str(init),
                "photo_digit_crops": int(counts[:DIGITS].sum()),
                "photo_not_digit_crops": int(counts[NOT_A_DIGIT]),
                "photo_letter_crops": int(counts[LETTER]),
                "mnist_digits": MNIST_DIGITS,
            },
            "outputs": LETTER + 1,
            "training": {
                "method": "letters output added (python -m training.letter_output)",
                "init": str(init),
                "photos": photos,
                "seed": seed,
                "epochs": EPOCHS,
                "wall_seconds": round(time.monotonic() - started, 1),
            },
            "letter_output": figures.__dict__,
        },
        history={},
        test_set=(mnist.x_test, mnist.y_test),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
