"""MNIST loading: a Keras-layout ``.npz``, the four IDX ``.gz`` files, or a download.

Every check names the file and what is wrong with it, because a truncated download or a
wrong path is the most common way a training run fails.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Where and how Keras downloads MNIST (``keras.datasets.mnist.load_data``).
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
EXPECTED_COUNTS = {"x_train": 60000, "y_train": 60000, "x_test": 10000, "y_test": 10000}


class DataError(Exception):
    """A data file is missing, truncated or not MNIST; the message says which and why."""


@dataclass(frozen=True)
class Mnist:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    #: SHA-256 of the file(s) the arrays came from, recorded in the model card.
    checksum: str
    source: str


def resolve_mnist_path(path: str | Path | None) -> Path | None:
    """The explicit path, else ``MNIST_PATH``, else None (meaning: download)."""
    if path:
        return Path(path)
    env = os.environ.get("MNIST_PATH")
    return Path(env) if env else None


def load_mnist(path: str | Path | None = None, *, expect_full: bool = True) -> Mnist:
    """Load MNIST from ``path`` (file or IDX folder), ``MNIST_PATH``, or by download."""
    resolved = resolve_mnist_path(path)
    if resolved is None:
        resolved = _download()
    if not resolved.exists():
        raise DataError(f"MNIST not found at {resolved}: no such file or folder")
    if resolved.is_dir():
        arrays, checksum = _load_idx_dir(resolved)
    else:
        arrays, checksum = _load_npz(resolved)
    _validate(arrays, resolved, expect_full=expect_full)
    return Mnist(**arrays, checksum=checksum, source=str(resolved))


def _download() -> Path:
    import keras

    try:
        return Path(
            keras.utils.get_file(
                "mnist.npz", MNIST_URL, file_hash=MNIST_SHA256, cache_subdir="datasets"
            )
        )
    except Exception as exc:
        raise DataError(
            f"MNIST is not available locally and the download failed ({exc}); "
            "set MNIST_PATH or pass --data to a copy of mnist.npz"
        ) from exc


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_npz(path: Path) -> tuple[dict[str, np.ndarray], str]:
    try:
        # Open the file ourselves: np.load leaks its handle when the zip is broken.
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as npz:
            missing = [k for k in EXPECTED_COUNTS if k not in npz.files]
            if missing:
                raise DataError(
                    f"{path} is not a Keras-layout MNIST file: missing arrays {missing} "
                    f"(it has {sorted(npz.files)})"
                )
            arrays = {k: np.asarray(npz[k]) for k in EXPECTED_COUNTS}
    except DataError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, EOFError, ValueError, OSError...
        raise DataError(f"{path} cannot be read as an .npz file ({exc}); is it truncated?") from exc
    return arrays, file_sha256(path)


def _read_idx(path: Path, key: str) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"MNIST IDX file missing: {path}")
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path} is not a readable gzip file ({exc}); is it truncated?") from exc
    images = key.startswith("x_")
    magic, header = (2051, 16) if images else (2049, 8)
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise DataError(f"{path} is not an IDX {'image' if images else 'label'} file")
    count = int.from_bytes(raw[4:8], "big")
    shape: tuple[int, ...] = (count,)
    if images:
        shape = (count, int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big"))
    body = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if body.size != int(np.prod(shape)):
        raise DataError(
            f"{path} is truncated: header promises {int(np.prod(shape))} bytes, has {body.size}"
        )
    return body.reshape(shape)


def _load_idx_dir(folder: Path) -> tuple[dict[str, np.ndarray], str]:
    arrays = {key: _read_idx(folder / name, key) for key, name in IDX_FILES.items()}
    digest = hashlib.sha256()
    for name in IDX_FILES.values():
        digest.update(file_sha256(folder / name).encode())
    return arrays, digest.hexdigest()


def _validate(arrays: dict[str, np.ndarray], path: Path, *, expect_full: bool) -> None:
    for key, count in EXPECTED_COUNTS.items():
        array = arrays[key]
        if array.dtype != np.uint8:
            raise DataError(f"{path}: {key} has dtype {array.dtype}, expected uint8")
        if key.startswith("x_") and array.shape[1:] != (28, 28):
            raise DataError(f"{path}: {key} has shape {array.shape}, expected (N, 28, 28)")
        if key.startswith("y_") and array.ndim != 1:
            raise DataError(f"{path}: {key} has shape {array.shape}, expected (N,)")
        if expect_full and len(array) != count:
            raise DataError(f"{path}: {key} holds {len(array)} items, expected {count}")
    for split in ("train", "test"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise DataError(f"{path}: x_{split} and y_{split} differ in length")
        labels = arrays[f"y_{split}"]
        if labels.size and labels.max() > 9:
            raise DataError(f"{path}: y_{split} holds label {labels.max()}, expected 0-9")


def split_validation(
    x: np.ndarray, y: np.ndarray, size: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded, stratified-enough random hold-out from the training images."""
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:size], order[size:]
    return x[train], y[train], x[val], y[val]
