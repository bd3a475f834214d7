"""training.letter_output: a "printed letters" output that leaves the digits as they were."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from training.letter_output import (  # noqa: E402
    features_and_logits,
    train_letter_column,
    with_letter_output,
)
from training.model import build_model  # noqa: E402
from training.photo_crops import LETTER, NOT_A_DIGIT  # noqa: E402


@pytest.fixture(scope="module")
def eleven():
    """An eleven-output network with weights of its own (trained or not, all the same)."""
    keras.utils.set_random_seed(3)
    return build_model(classes=NOT_A_DIGIT + 1)


def test_features_and_logits_are_the_last_layer_s(eleven, mnist_test) -> None:
    images = mnist_test[0][:16]
    features, logits = features_and_logits(eleven, images)
    assert features.shape == (16, eleven.get_layer("probs").input.shape[-1])
    probs = np.asarray(eleven.predict((images / 255.0)[..., None], verbose=0))
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax, probs, rtol=1e-4, atol=1e-6)


def test_the_new_output_leaves_the_old_ones_ratios(eleven, mnist_test) -> None:
    column = np.linspace(-1.0, 1.0, eleven.get_layer("probs").input.shape[-1])
    extended = with_letter_output(eleven, column, 0.5)
    assert extended.output_shape == (None, LETTER + 1)
    x = (mnist_test[0][:32] / 255.0)[..., None]
    before = np.asarray(eleven.predict(x, verbose=0))
    after = np.asarray(extended.predict(x, verbose=0))
    # Each old output's share among the old ones is the same: what the recognizer reads.
    np.testing.assert_allclose(
        after[:, :LETTER] / after[:, :LETTER].sum(axis=1, keepdims=True), before, rtol=1e-4
    )
    assert (after[:, LETTER] > 0).all()
    with pytest.raises(ValueError, match="11 outputs"):
        with_letter_output(build_model(), column, 0.0)


def test_the_column_learns_letters_from_features() -> None:
    """Features where letters differ from digits in one direction: the fitted column
    calls letters letters and digits digits, with the other logits held fixed."""
    rng = np.random.default_rng(0)
    count = 6000
    labels = np.where(rng.random(count) < 0.5, LETTER, rng.integers(0, LETTER, count))
    features = rng.normal(0, 1, (count, 8)).astype(np.float32)
    features[:, 0] += np.where(labels == LETTER, 3.0, -1.0)
    logits = np.zeros((count, LETTER), np.float32)
    column, bias = train_letter_column(features, logits, labels)
    new = features @ column + bias
    # The letters' share against the ten digits, as the recognizer reads it.
    share = 1.0 / (1.0 + np.exp(np.log(np.exp(logits[:, :10]).sum(axis=1)) - new))
    letters = labels == LETTER
    assert (share[letters] > 0.5).mean() > 0.9
    assert (share[~letters] < 0.5).mean() > 0.9
    assert column[0] > 0.5 * np.abs(column[1:]).max()
