"""The model that ships: its real figures on the MNIST test set, and its card."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recognizer.classifier import Classifier, read_model_info, shipped_model_path
from training.evaluate import predict_all

#: The issue's bar for one model on the 10,000 MNIST test images.
MIN_TEST_ACCURACY = 0.9965


@pytest.fixture(scope="module")
def shipped_probs(mnist_test) -> np.ndarray:
    x, _ = mnist_test
    return predict_all(Classifier.load(shipped_model_path()), x)


def test_shipped_model_accuracy(shipped_probs: np.ndarray, mnist_test) -> None:
    _, y = mnist_test
    accuracy = float((shipped_probs.argmax(axis=1) == y).mean())
    print(f"shipped model MNIST test accuracy: {accuracy:.4%}")
    assert accuracy >= MIN_TEST_ACCURACY


def test_fast_model_agrees_with_keras_model(shipped_probs: np.ndarray, mnist_test) -> None:
    x, _ = mnist_test
    keras_model = Classifier.load(shipped_model_path().with_suffix(".keras"))
    slow = predict_all(keras_model, x)
    assert (slow.argmax(axis=1) == shipped_probs.argmax(axis=1)).all()
    np.testing.assert_allclose(slow, shipped_probs, atol=1e-4)


def test_model_card_matches_reality(shipped_probs: np.ndarray, mnist_test, mnist_path) -> None:
    _, y = mnist_test
    info = read_model_info(shipped_model_path())
    card = info.card
    assert info.version == "v1"
    assert info.test_accuracy == pytest.approx(
        float((shipped_probs.argmax(1) == y).mean()), abs=1e-4
    )
    from training.data import file_sha256

    assert card["data"]["sha256"] == file_sha256(mnist_path)
    assert card["training"]["wall_seconds"] <= 30 * 60
    for name, size in card["files"].items():
        assert size <= 5 * 1024 * 1024, name
        assert (shipped_model_path().parent / name).stat().st_size == size
    assert len(json.dumps(card["test_metrics"]["confusion_matrix"])) > 0
