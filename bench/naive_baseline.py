"""The naive way many MNIST demos read a photo, kept as the yardstick for the recognizer.

The recipe, as in countless tutorials: open the photo, make it grey, invert it (MNIST
is white ink on black), resize the whole photo to 28x28, scale to [0, 1] and call
Keras ``model.predict`` on it. It reads exactly one digit per photo, whatever the photo
holds, and it pays ``predict``'s per-call overhead every time.

It runs the ``.keras`` twin of the recognizer's model (same weights, same training), so
that the comparison is about the approach, not about the network.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def keras_path_for(model_path: Path) -> Path:
    """The ``.keras`` file exported beside a ``.tflite`` model (same stem)."""
    return model_path.with_suffix(".keras")


def load_keras_model(path: Path, *, threads: int = 1):
    """Load a ``.keras`` model with TensorFlow limited to ``threads`` CPU threads.

    The thread limits must be set before TensorFlow runs its first operation, so call
    this before anything else in the process touches TensorFlow.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already initialised: the limits cannot change now
        pass
    import keras

    if not path.is_file():
        raise FileNotFoundError(f"Keras model not found: {path}")
    return keras.saving.load_model(path, compile=False, safe_mode=True)


def naive_input(photo: bytes) -> np.ndarray:
    """A photo -> the (1, 28, 28, 1) float32 batch the naive approach feeds the model."""
    with Image.open(io.BytesIO(photo)) as image:
        grey = ImageOps.invert(image.convert("L"))
        small = grey.resize((28, 28))
    return (np.asarray(small, dtype=np.float32) / 255.0)[None, :, :, None]


def naive_read(photo: bytes, model) -> tuple[int, np.ndarray]:
    """The one digit the naive approach reads in a photo, and its ten probabilities
    (a model's eleventh output, "not one digit", is not a reading a demo would give)."""
    probs = np.asarray(model.predict(naive_input(photo), verbose=0))[0][:10]
    return int(np.argmax(probs)), probs


def keras_predict(model, crops: np.ndarray) -> np.ndarray:
    """Keras ``predict`` on (N, 28, 28) uint8 crops (ink = 255), as the demos call it."""
    batch = (crops.astype(np.float32) / 255.0)[..., None]
    return np.asarray(model.predict(batch, verbose=0))
