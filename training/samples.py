"""User-contributed samples: 28x28 crops the bot stored when a user confirmed or fixed a reading.

Layout (written by the bot, read here): ``<samples_dir>/<label>/<user_id>-<id>.png``,
8-bit grey PNG, ink = 255, already normalized MNIST-style by the recognizer. The label is
the folder name, so a sample is one file and deleting a user's samples is a glob.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def sample_file(samples_dir: Path, label: int, user_id: int, sample_id: str) -> Path:
    if not 0 <= label <= 9:
        raise ValueError(f"label must be 0-9, got {label}")
    if not sample_id.isalnum():
        raise ValueError("sample id must be alphanumeric")
    return samples_dir / str(label) / f"{int(user_id)}-{sample_id}.png"


def save_sample(
    samples_dir: Path, label: int, user_id: int, sample_id: str, crop: np.ndarray
) -> Path:
    if crop.shape != (28, 28) or crop.dtype != np.uint8:
        raise ValueError(f"a sample is a 28x28 uint8 crop, got {crop.shape} {crop.dtype}")
    path = sample_file(samples_dir, label, user_id, sample_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, png = cv2.imencode(".png", crop)
    if not ok:
        raise ValueError("could not encode sample as PNG")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(png.tobytes())
    tmp.replace(path)
    return path


def delete_user_samples(samples_dir: Path, user_id: int) -> int:
    """Delete every sample of one user; returns how many files went."""
    removed = 0
    for path in samples_dir.glob(f"[0-9]/{int(user_id)}-*.png"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def load_samples(samples_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """All readable samples as (N, 28, 28) uint8 and (N,) uint8; unreadable files are skipped."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    if samples_dir is not None and samples_dir.is_dir():
        for label in range(10):
            for path in sorted((samples_dir / str(label)).glob("*.png")):
                image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                if image is not None and image.shape == (28, 28):
                    images.append(image)
                    labels.append(label)
    if not images:
        return np.zeros((0, 28, 28), np.uint8), np.zeros((0,), np.uint8)
    return np.stack(images), np.asarray(labels, dtype=np.uint8)
