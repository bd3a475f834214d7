"""The second look: unsure digits read again a few ways, the probabilities averaged."""

from __future__ import annotations

import cv2
import numpy as np

from recognizer.classifier import Scores
from recognizer.normalization import normalize
from recognizer.second_look import reread, variants
from recognizer.styles import apply_style_priors


def seven_mask() -> np.ndarray:
    """A 7 drawn with a pen at photo scale (ink = 255)."""
    mask = np.zeros((120, 90), np.uint8)
    cv2.polylines(mask, [np.array([(10, 12), (78, 12), (34, 110)], np.int32)], False, 255, 9)
    return mask


class InkWeightClassifier:
    """A stand-in network whose answer depends on the input: more ink, higher digits.

    Deterministic and sensitive to every variant, so an average can be checked exactly.
    """

    def __init__(self) -> None:
        self.batches: list[int] = []

    def score(self, crops: np.ndarray) -> Scores:
        self.batches.append(len(crops))
        ink = crops.reshape(len(crops), -1).astype(np.float64).mean(axis=1)
        logits = -((np.arange(10)[None, :] - ink[:, None] / 6.0) ** 2)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return Scores(probs.astype(np.float32), np.ones(len(crops), np.float32))


def test_the_variants_start_with_the_crops_own_input_and_each_differs() -> None:
    mask = seven_mask()
    inputs = variants(mask)
    assert len(inputs) == 5  # as it is, turned either way, thicker, thinner
    assert np.array_equal(inputs[0], normalize(mask))
    for other in inputs[1:]:
        assert other.shape == (28, 28)
        assert np.abs(other.astype(int) - inputs[0].astype(int)).sum() > 0


def test_the_crops_own_input_is_used_when_given() -> None:
    mask = seven_mask()
    own = normalize(mask)
    assert all(
        np.array_equal(a, b) for a, b in zip(variants(mask, own), variants(mask), strict=True)
    )
    marked = own.copy()
    marked[0, 0] = 255
    assert variants(mask, marked)[0][0, 0] == 255


def test_a_hairline_is_not_read_with_a_thinner_pen() -> None:
    mask = np.zeros((100, 40), np.uint8)
    cv2.line(mask, (20, 5), (20, 95), 255, 1)
    assert len(variants(mask)) == 4


def test_reread_averages_each_crops_variants_in_one_batch() -> None:
    network = InkWeightClassifier()
    thin_seven, fat_seven = seven_mask(), cv2.dilate(seven_mask(), np.ones((7, 7), np.uint8))
    averaged = reread([thin_seven, fat_seven], network)  # type: ignore[arg-type]
    assert network.batches == [10]
    for row, mask in zip(averaged, (thin_seven, fat_seven), strict=True):
        inputs = np.stack(variants(mask))
        expected = apply_style_priors(inputs, network.score(inputs).probs).mean(axis=0)
        assert np.allclose(row, expected, atol=1e-6)
        assert abs(float(row.sum()) - 1.0) < 1e-5
    assert not np.allclose(averaged[0], averaged[1])


def test_nothing_to_reread_asks_nothing_of_the_network() -> None:
    network = InkWeightClassifier()
    assert reread([], network).shape == (0, 10)  # type: ignore[arg-type]
    assert network.batches == []
