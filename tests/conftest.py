"""Fixtures shared by every test module: MNIST and the shipped classifier."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent
pytest_plugins = ["fakes.fixtures"]  # the fake Bot API server and the bot runners


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """The MNIST file CI and developers point MNIST_PATH at; the tests need it."""
    value = os.environ.get("MNIST_PATH")
    path = Path(value) if value else REPO.parent / "shared" / "data" / "mnist.npz"
    if not path.is_file():
        pytest.fail(f"MNIST not found at {path}: set MNIST_PATH to a copy of mnist.npz")
    return path


@pytest.fixture(scope="session")
def mnist_test(mnist_path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(mnist_path) as data:
        return data["x_test"], data["y_test"]


@pytest.fixture(scope="session")
def classifier():
    """The classifier the bot uses by default (the shipped LiteRT model)."""
    from recognizer.classifier import Classifier

    return Classifier.load(os.environ.get("DIGITBOT_TEST_MODEL") or None)
