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
    """The LiteRT file holds int8 weights (``training.export.export_tflite``): it reads
    like its float Keras twin, within a few digits in 10,000 and a few percent of
    probability."""
    x, _ = mnist_test
    keras_model = Classifier.load(shipped_model_path().with_suffix(".keras"))
    slow = predict_all(keras_model, x)
    assert (slow.argmax(axis=1) != shipped_probs.argmax(axis=1)).sum() <= 5
    assert np.abs(slow - shipped_probs).max() <= 0.1
    assert np.quantile(np.abs(slow - shipped_probs).max(axis=1), 0.99) <= 0.01


def test_model_card_matches_reality(shipped_probs: np.ndarray, mnist_test, mnist_path) -> None:
    _, y = mnist_test
    info = read_model_info(shipped_model_path())
    card = info.card
    assert info.version == "v3"
    assert card["outputs"] == 12
    assert card["training"]["init"].endswith("digitbot-v2.keras")
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


def test_shipped_model_knows_a_digit_from_two_or_half_of_one(mnist_test) -> None:
    """The "not one digit" output on MNIST *test* digits, which training never saw: two
    neighbours squeezed into one crop and the left half of a digit are mostly not one
    digit; whole digits are."""
    import cv2

    from recognizer.normalization import normalize_batch

    x, _ = mnist_test
    singles = [cv2.threshold(x[i], 127, 255, cv2.THRESH_BINARY)[1] for i in range(400)]
    pairs = [
        np.hstack([a[:, 4:24], b[:, 4:24]])
        for a, b in zip(singles[::2], singles[1::2], strict=True)
    ]
    halves = [single[:, :14] for single in singles[:200]]
    classifier = Classifier.load(shipped_model_path())
    like = {
        name: classifier.score(normalize_batch(group)).digit_like
        for name, group in (("single", singles), ("pair", pairs), ("half", halves))
    }
    print({name: round(float(np.median(values)), 3) for name, values in like.items()})
    assert np.median(like["single"]) >= 0.95
    assert (like["single"] < 0.5).mean() <= 0.05
    assert np.median(like["pair"]) <= 0.6
    assert np.median(like["half"]) <= 0.6


def test_shipped_model_reads_digits_as_the_model_it_grew_from(mnist_test) -> None:
    """v3 is v2 with the "printed letters" output added (``training.letter_output``):
    every digit probability and every "one whole digit" is v2's, down to float rounding."""
    x, _ = mnist_test
    v3 = Classifier.load(shipped_model_path()).score(x[:2000])
    v2 = Classifier.load(shipped_model_path().with_name("digitbot-v2.tflite")).score(x[:2000])
    np.testing.assert_allclose(v3.probs, v2.probs, atol=1e-5)
    np.testing.assert_allclose(v3.digit_like, v2.digit_like, atol=1e-5)
    assert v2.letter_like is None


def test_shipped_model_knows_print_from_handwriting(mnist_test) -> None:
    """Printed words (letters like no digit, in OpenCV's fonts), cut into letters the way
    the segmentation would, are letters; MNIST test digits are not."""
    import cv2

    from recognizer.ink import label_components
    from recognizer.normalization import normalize_batch

    page = np.zeros((120, 1400), np.uint8)
    fonts = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX)
    for k, font in enumerate(fonts):
        cv2.putText(page[40 * k : 40 * k + 40], "Kitchen meter reading", (5, 32), font, 1.1, 255, 2)
    _, labels, stats = label_components(page)
    letters = [
        (labels[y : y + h, x : x + w] == index).astype(np.uint8) * 255
        for index, (x, y, w, h, area) in enumerate(stats)
        if index and h >= 12 and w >= 0.4 * h
    ]
    classifier = Classifier.load(shipped_model_path())
    printed = classifier.score(normalize_batch(letters)).letter_like
    x, _ = mnist_test
    written = classifier.score(x[:1000]).letter_like
    print(f"letters called letters {np.mean(printed >= 0.5):.2f}")
    print(f"digits called letters {np.mean(written >= 0.5):.4f}")
    assert len(letters) >= 30
    assert np.mean(printed >= 0.5) >= 0.6
    assert np.mean(written >= 0.5) <= 0.01
