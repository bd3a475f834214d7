"""Train the CNN on MNIST (plus drawn European-style digits and user samples), export it.

The 10,000 MNIST test images are touched once, after training, for the report; early
stopping, checkpoint choice and everything else use the validation split only. The
synthetic digits (``training.handwriting``) join the training split only, so validation
and test stay pure MNIST and stay comparable with earlier models.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .data import Mnist, load_mnist, split_validation
from .handwriting import synthetic_digits
from .samples import load_samples

#: Defaults for a full run: about 20 minutes on a quiet 2-core machine.
EPOCHS = 18
BATCH_SIZE = 128
PEAK_LEARNING_RATE = 3e-3
VALIDATION_SIZE = 5000
#: User samples are few next to 55,000 MNIST digits: repeat them so that they matter.
SAMPLE_REPEAT = 20
#: Stroke-drawn digits in the styles MNIST lacks (flag 1s, crossed 7s, open 4s...) added
#: to the training split: about 18% on top of 55,000 MNIST images, enough for the styles
#: to be learnt without drowning MNIST's own variety. A ``limit`` scales it down alike.
SYNTHETIC_DIGITS = 10_000


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
    verbose: int = 1


@dataclass(frozen=True)
class EpochReport:
    """What the progress callback receives after every epoch (JSON-ready)."""

    epoch: int
    epochs: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    eta_seconds: float

    @classmethod
    def from_event(cls, event: dict) -> EpochReport:
        """Read back one ``{"event": "epoch", ...}`` line of a progress file."""
        return cls(
            epoch=int(event["epoch"]),
            epochs=int(event["epochs"]),
            loss=float(event["loss"]),
            accuracy=float(event["accuracy"]),
            val_loss=float(event["val_loss"]),
            val_accuracy=float(event["val_accuracy"]),
            seconds=float(event["seconds"]),
            eta_seconds=float(event["eta_seconds"]),
        )


@dataclass
class TrainResult:
    keras_path: Path
    tflite_path: Path
    card_path: Path
    card: dict = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)


ProgressCallback = Callable[[EpochReport], None]


def _schedule(epochs: int, steps_per_epoch: int):
    import keras

    total = max(1, epochs * steps_per_epoch)
    warmup = max(1, min(total // 10, 2 * steps_per_epoch))
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=PEAK_LEARNING_RATE / 10,
        decay_steps=total - warmup,
        warmup_target=PEAK_LEARNING_RATE,
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


def synthetic_count(config: TrainConfig, mnist_train_size: int) -> int:
    """How many synthetic digits a run adds: ``config.synthetic``, scaled down by ``limit``.

    A quick run on a tenth of MNIST gets a tenth of the synthetic digits, so the mix stays
    the same and the run stays quick.
    """
    if config.synthetic <= 0:
        return 0
    if config.limit is None or config.limit >= mnist_train_size:
        return config.synthetic
    return round(config.synthetic * config.limit / max(1, mnist_train_size))


def prepare_data(config: TrainConfig, mnist: Mnist):
    """Training/validation arrays as float32 (N, 28, 28, 1) in [0, 1], extras mixed in.

    Synthetic digits (``synthetic_count``) and user samples join the training split only.
    """
    x_train, y_train = mnist.x_train, mnist.y_train
    if config.limit is not None:
        x_train, y_train = x_train[: config.limit], y_train[: config.limit]
    val_size = min(config.validation_size, max(1, len(x_train) // 10))
    x_tr, y_tr, x_val, y_val = split_validation(x_train, y_train, val_size, config.seed)
    n_synthetic = synthetic_count(config, len(mnist.x_train))
    if n_synthetic:
        x_syn, y_syn = synthetic_digits(n_synthetic, seed=config.seed)
        x_tr = np.concatenate([x_tr, x_syn])
        y_tr = np.concatenate([y_tr, y_syn])
    x_s, y_s = load_samples(config.samples_dir)
    if len(x_s):
        x_tr = np.concatenate([x_tr, np.repeat(x_s, SAMPLE_REPEAT, axis=0)])
        y_tr = np.concatenate([y_tr, np.repeat(y_s, SAMPLE_REPEAT, axis=0)])

    def to_float(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / 255.0)[..., None]

    return to_float(x_tr), y_tr.astype(np.int32), to_float(x_val), y_val.astype(np.int32), len(x_s)


def train(config: TrainConfig, progress: ProgressCallback | None = None) -> TrainResult:
    """Train, restore the best-validation weights, evaluate on test once, export."""
    import keras

    from .augment import PhotoAugment
    from .export import export_model
    from .metrics import classification_metrics
    from .model import build_model

    keras.utils.set_random_seed(config.seed)
    mnist = load_mnist(config.data)
    x_tr, y_tr, x_val, y_val, n_samples = prepare_data(config, mnist)
    n_synthetic = synthetic_count(config, len(mnist.x_train))

    core = build_model()
    trainer = keras.Sequential(
        [keras.Input(core.input_shape[1:]), PhotoAugment(seed=config.seed, name="augment"), core],
        name="trainer",
    )
    steps = math.ceil(len(x_tr) / config.batch_size)
    trainer.compile(
        optimizer=keras.optimizers.Adam(_schedule(config.epochs, steps)),
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

    x_test = (mnist.x_test.astype(np.float32) / 255.0)[..., None]
    probs = np.asarray(core.predict(x_test, batch_size=1000, verbose=0))
    test_metrics = classification_metrics(mnist.y_test, probs.argmax(axis=1))

    card_fields = {
        "data": {
            "source": Path(mnist.source).name,
            "sha256": mnist.checksum,
            "train_images": int(len(x_tr) - n_samples * SAMPLE_REPEAT - n_synthetic),
            "validation_images": len(x_val),
            "synthetic_digits": int(n_synthetic),
            "user_samples": int(n_samples),
        },
        "training": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
            "epochs_run": len(hist.get("loss", [])),
            "wall_seconds": round(train_seconds, 1),
            "best_val_accuracy": max(hist.get("val_accuracy", [math.nan])),
        },
        "test_metrics": test_metrics,
    }
    return export_model(core, out, version=config.version, card_fields=card_fields, history=hist)
