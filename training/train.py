"""Train the CNN on MNIST (plus drawn European-style digits, the recognizer's own crops of
synthetic photos, and user samples), export it.

The 10,000 MNIST test images are touched once, after training, for the report; early
stopping, checkpoint choice and everything else use the validation split only. The
synthetic digits (``training.handwriting``) and the photo crops (``training.photo_crops``,
cut from photos of the training split's own digits) join the training split only, so
validation and test stay pure MNIST and stay comparable with earlier models.

Photo crops include cuts that are not one digit (two touching digits, half a digit, a
separator): with them the network gets an eleventh output, "not one digit", which the
recognizer uses to choose where one digit ends and the next begins.

A run may start from an earlier model's weights (``init``): fine-tuning the shipped model
on the new data takes a few epochs instead of a full run.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple, Self

import numpy as np

from .data import DataError, Mnist, load_mnist, split_validation
from .handwriting import synthetic_digits
from .photo_crops import NOT_A_DIGIT, PhotoProgress, photo_crops
from .samples import load_samples
from .synthetic_photos import MnistDigits

#: Defaults for a full run: about 20 minutes on a quiet 2-core machine.
EPOCHS = 18
BATCH_SIZE = 128
PEAK_LEARNING_RATE = 3e-3
#: Starting from trained weights (``init``), a gentler peak keeps what they know.
FINE_TUNE_LEARNING_RATE = 5e-4
VALIDATION_SIZE = 5000
#: User samples are few next to 55,000 MNIST digits: repeat them so that they matter.
SAMPLE_REPEAT = 20
#: Stroke-drawn digits in the styles MNIST lacks (flag 1s, crossed 7s, open 4s...) added
#: to the training split: about 18% on top of 55,000 MNIST images, enough for the styles
#: to be learnt without drowning MNIST's own variety. A ``limit`` scales it down alike.
SYNTHETIC_DIGITS = 10_000
#: Synthetic photos whose recognizer crops join the training split: about 37,000 crops
#: of digits and 9,000 that are not one digit; making them takes about 8 minutes on
#: two cores. A ``limit`` scales it down alike.
PHOTOS = 5_000
#: Data preparation is reported at most about this often (a share of the stage's work),
#: plus once at its end: a few edits of the admin's status message, not hundreds.
PREPARATION_REPORT_STEP = 0.05
#: The preparation stage that takes minutes: making and segmenting the synthetic photos.
PHOTO_CROPS_STAGE = "photo crops"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = EPOCHS
    batch_size: int = BATCH_SIZE
    seed: int = 1
    #: Use only the first N training images (quick runs and tests); None = all.
    limit: int | None = None
    data: Path | None = None
    samples_dir: Path | None = None
    out_dir: Path = Path("artifacts/train")
    version: str | None = None
    validation_size: int = VALIDATION_SIZE
    #: Synthetic European-style digits added to the training split (0 = none).
    synthetic: int = SYNTHETIC_DIGITS
    #: Synthetic photos whose crops join the training split (0 = none: ten outputs).
    photos: int = PHOTOS
    #: A ``.keras`` model whose weights the run starts from (None: fresh weights).
    init: Path | None = None
    verbose: int = 1


_FIELD_TYPES: dict[str, Callable[[Any], Any]] = {"int": int, "float": float, "str": str}


class _ProgressLine:
    """A report that travels as one JSON line of the progress file."""

    @classmethod
    def from_event(cls, event: dict) -> Self:
        """Read back one line: each field converted to its declared type, so a line a
        trainer of another version wrote raises KeyError, TypeError or ValueError rather
        than passing a string on as a number."""
        return cls(**{f.name: _FIELD_TYPES[str(f.type)](event[f.name]) for f in fields(cls)})


@dataclass(frozen=True)
class EpochReport(_ProgressLine):
    """What the progress callback receives after every epoch (JSON-ready)."""

    epoch: int
    epochs: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    eta_seconds: float


@dataclass(frozen=True)
class PreparationReport(_ProgressLine):
    """What the preparation callback receives while the training data is being made
    (JSON-ready): the photo crops take minutes before the first epoch even starts."""

    #: Which stage (``PHOTO_CROPS_STAGE``); the admin's wording lives in bot/replies.py.
    stage: str
    done: int
    total: int
    seconds: float
    eta_seconds: float


@dataclass
class TrainResult:
    keras_path: Path
    tflite_path: Path
    card_path: Path
    card: dict = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)


ProgressCallback = Callable[[EpochReport], None]
PreparationCallback = Callable[[PreparationReport], None]


def _schedule(epochs: int, steps_per_epoch: int, peak: float = PEAK_LEARNING_RATE):
    import keras

    total = max(1, epochs * steps_per_epoch)
    warmup = max(1, min(total // 10, 2 * steps_per_epoch))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / 10,
        decay_steps=total - warmup,
        warmup_target=peak,
        warmup_steps=warmup,
        alpha=0.01,
    )


def _make_progress_callback(progress: ProgressCallback | None, epochs: int):
    import keras

    class _Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            elapsed = time.monotonic() - self.start
            done = epoch + 1
            report = EpochReport(
                epoch=done,
                epochs=epochs,
                loss=float(logs.get("loss", math.nan)),
                accuracy=float(logs.get("accuracy", math.nan)),
                val_loss=float(logs.get("val_loss", math.nan)),
                val_accuracy=float(logs.get("val_accuracy", math.nan)),
                seconds=elapsed,
                eta_seconds=elapsed / done * (epochs - done),
            )
            if progress is not None:
                progress(report)

    return _Progress()


def _preparation_progress(
    stage: str, preparing: PreparationCallback | None
) -> PhotoProgress | None:
    """A ``progress(done, total)`` for one stage that passes on ``PreparationReport``s
    about every ``PREPARATION_REPORT_STEP`` of the work and at its end, with an ETA from
    the time the stage has taken so far (its clock starts now)."""
    if preparing is None:
        return None
    start = time.monotonic()
    reported = 0

    def progress(done: int, total: int) -> None:
        nonlocal reported
        step = max(1, math.ceil(total * PREPARATION_REPORT_STEP))
        if done < total and done - reported < step:
            return
        reported = done
        elapsed = time.monotonic() - start
        eta = elapsed / done * (total - done) if done > 0 else 0.0
        preparing(PreparationReport(stage, done, total, elapsed, eta))

    return progress


def _scaled(count: int, config: TrainConfig, mnist_train_size: int) -> int:
    """``count`` scaled down by ``limit``: a quick run on a tenth of MNIST gets a tenth of
    the extras, so the mix stays the same and the run stays quick."""
    if count <= 0:
        return 0
    if config.limit is None or config.limit >= mnist_train_size:
        return count
    return round(count * config.limit / max(1, mnist_train_size))


def synthetic_count(config: TrainConfig, mnist_train_size: int) -> int:
    """How many synthetic digits a run adds: ``config.synthetic``, scaled down by ``limit``."""
    return _scaled(config.synthetic, config, mnist_train_size)


def photo_count(config: TrainConfig, mnist_train_size: int) -> int:
    """How many synthetic photos a run cuts crops from: ``config.photos``, scaled alike."""
    return _scaled(config.photos, config, mnist_train_size)


class PreparedData(NamedTuple):
    """Training and validation arrays, float32 (N, 28, 28, 1) in [0, 1], and the counts
    of what was mixed into the training split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    user_samples: int
    synthetic_digits: int = 0
    photo_digit_crops: int = 0
    photo_other_crops: int = 0

    @property
    def classes(self) -> int:
        """10, or 11 when "not one digit" crops are in the training split."""
        return NOT_A_DIGIT + 1 if self.photo_other_crops else NOT_A_DIGIT


def prepare_data(
    config: TrainConfig, mnist: Mnist, preparing: PreparationCallback | None = None
) -> PreparedData:
    """Training/validation arrays with the extras mixed into the training split only:
    synthetic digits (``synthetic_count``), crops of synthetic photos of the training
    split's digits (``photo_count``) and user samples. ``preparing`` hears how far the
    photo crops are, which take minutes on a full run."""
    x_train, y_train = mnist.x_train, mnist.y_train
    if config.limit is not None:
        x_train, y_train = x_train[: config.limit], y_train[: config.limit]
    val_size = min(config.validation_size, max(1, len(x_train) // 10))
    x_tr, y_tr, x_val, y_val = split_validation(x_train, y_train, val_size, config.seed)
    parts_x, parts_y = [x_tr], [y_tr]
    n_synthetic = synthetic_count(config, len(mnist.x_train))
    if n_synthetic:
        x_syn, y_syn = synthetic_digits(n_synthetic, seed=config.seed)
        parts_x.append(x_syn)
        parts_y.append(y_syn)
    n_photos = photo_count(config, len(mnist.x_train))
    crops = photo_crops(
        n_photos,
        MnistDigits.from_arrays(x_tr, y_tr),
        seed=config.seed,
        not_digits=True,
        progress=_preparation_progress(PHOTO_CROPS_STAGE, preparing),
    )
    parts_x.append(crops.images)
    parts_y.append(crops.labels)
    x_s, y_s = load_samples(config.samples_dir)
    if len(x_s):
        parts_x.append(np.repeat(x_s, SAMPLE_REPEAT, axis=0))
        parts_y.append(np.repeat(y_s, SAMPLE_REPEAT, axis=0))

    def to_float(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / 255.0)[..., None]

    others = int((crops.labels == NOT_A_DIGIT).sum())
    return PreparedData(
        to_float(np.concatenate(parts_x)),
        np.concatenate(parts_y).astype(np.int32),
        to_float(x_val),
        y_val.astype(np.int32),
        len(x_s),
        n_synthetic,
        len(crops.labels) - others,
        others,
    )


def initial_model(config: TrainConfig, classes: int):
    """Fresh weights, or ``config.init``'s; a ten-output model given an eleventh output
    (its ten kept as they are, the new one starting near zero) when ``classes`` is 11,
    and a model's outputs after ``classes`` (the "printed letters" one) left out."""
    import keras

    from .model import build_model

    model = build_model(classes=classes)
    if config.init is None:
        return model
    try:
        start = keras.saving.load_model(config.init, compile=False)
    except Exception as exc:  # any library's own error means the file is unusable
        raise DataError(f"cannot start from {config.init}: {exc}") from exc
    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            weights = start.get_layer(layer.name).get_weights()
        except ValueError as exc:
            raise DataError(f"{config.init} is not a digitbot model: {exc}") from exc
        if layer.name == "probs" and weights[0].shape[1] > classes:
            # A model with the "printed letters" output (``training.letter_output``):
            # that output is added after training, not trained with the rest.
            weights = [weights[0][:, :classes], weights[1][:classes]]
        if layer.name == "probs" and weights[0].shape[1] < classes:
            kernel, bias = layer.get_weights()
            kept = weights[0].shape[1]
            kernel[:, :kept], bias[:kept] = weights
            kernel[:, kept:] *= 0.1
            bias[kept:] = 0.0
            weights = [kernel, bias]
        if [w.shape for w in weights] != [w.shape for w in layer.get_weights()]:
            raise DataError(f"{config.init}: layer {layer.name} does not fit this network")
        layer.set_weights(weights)
    return model


def train(
    config: TrainConfig,
    progress: ProgressCallback | None = None,
    preparing: PreparationCallback | None = None,
) -> TrainResult:
    """Prepare the data, train, restore the best-validation weights, evaluate on test
    once, export. ``progress`` hears of every epoch, ``preparing`` of the data
    preparation before them (see ``prepare_data``)."""
    import keras

    from .augment import PhotoAugment
    from .export import export_model

    keras.utils.set_random_seed(config.seed)
    mnist = load_mnist(config.data)
    data = prepare_data(config, mnist, preparing)
    x_tr, y_tr, x_val, y_val = data.x_train, data.y_train, data.x_val, data.y_val

    core = initial_model(config, data.classes)
    trainer = keras.Sequential(
        [keras.Input(core.input_shape[1:]), PhotoAugment(seed=config.seed, name="augment"), core],
        name="trainer",
    )
    steps = math.ceil(len(x_tr) / config.batch_size)
    trainer.compile(
        optimizer=keras.optimizers.Adam(
            _schedule(
                config.epochs,
                steps,
                PEAK_LEARNING_RATE if config.init is None else FINE_TUNE_LEARNING_RATE,
            )
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "checkpoint.weights.h5"
    callbacks = [
        keras.callbacks.ModelCheckpoint(
            checkpoint, monitor="val_accuracy", save_best_only=True, save_weights_only=True
        ),
        _make_progress_callback(progress, config.epochs),
    ]
    started = time.monotonic()
    history = trainer.fit(
        x_tr,
        y_tr,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_data=(x_val, y_val),
        callbacks=callbacks,
        verbose=config.verbose,
        shuffle=True,
    )
    train_seconds = time.monotonic() - started
    if checkpoint.exists():
        trainer.load_weights(checkpoint)
        checkpoint.unlink()
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    (out / "history.json").write_text(json.dumps(hist, indent=1), encoding="utf-8")

    card_fields = {
        "data": {
            "source": Path(mnist.source).name,
            "sha256": mnist.checksum,
            "train_images": int(
                len(x_tr)
                - data.user_samples * SAMPLE_REPEAT
                - data.synthetic_digits
                - data.photo_digit_crops
                - data.photo_other_crops
            ),
            "validation_images": len(x_val),
            "synthetic_digits": data.synthetic_digits,
            "photo_digit_crops": data.photo_digit_crops,
            "photo_not_digit_crops": data.photo_other_crops,
            "user_samples": data.user_samples,
        },
        "outputs": data.classes,
        "training": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
            "epochs_run": len(hist.get("loss", [])),
            "wall_seconds": round(train_seconds, 1),
            "best_val_accuracy": max(hist.get("val_accuracy", [math.nan])),
        },
    }
    # The test metrics are measured on the exported LiteRT file: the model the bot serves.
    return export_model(
        core,
        out,
        version=config.version,
        card_fields=card_fields,
        history=hist,
        test_set=(mnist.x_test, mnist.y_test),
    )
