"""Synthetic photos say where their digits are; the recognizer's crops of them get labels."""

from __future__ import annotations

import numpy as np
import pytest

from training import photo_crops as photo_crops_module
from training.photo_crops import (
    MATCH_IOU,
    NOT_A_DIGIT,
    crop_label,
    crops_of_photo,
    iou,
    photo_crops,
)
from training.synthetic_photos import MnistDigits, make_photo


@pytest.fixture(scope="module")
def digits(mnist_test) -> MnistDigits:
    images, labels = mnist_test
    return MnistDigits.from_arrays(images, labels)


def test_iou_of_boxes() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_crop_labels() -> None:
    digits = ((4, (100, 50, 40, 60)), (7, (150, 52, 40, 60)))
    assert crop_label((102, 50, 38, 60), digits) == 4  # the digit, give or take
    assert crop_label((100, 50, 90, 62), digits) == NOT_A_DIGIT  # both digits in one
    assert crop_label((300, 50, 10, 10), digits) == NOT_A_DIGIT  # a mark off the digits
    assert crop_label((100, 50, 12, 60), digits) == NOT_A_DIGIT  # a sliver of the 4
    assert crop_label((100, 50, 20, 60), digits) is None  # half of the 4: unclear
    assert crop_label((100, 50, 28, 60), digits) == 4  # most of the 4
    assert crop_label((0, 0, 5, 5), ()) == NOT_A_DIGIT


def test_photo_knows_where_its_digits_are(digits: MnistDigits) -> None:
    photo = make_photo(7, digits)
    width, height = photo.size
    assert "".join(str(label) for label, _ in photo.digits) == photo.text.replace(" ", "")
    for _, (x, y, w, h) in photo.digits:
        assert x >= 0 and x + w <= width and y >= 0 and y + h <= height
        assert w > 5 and h > 15
    # Reading order: within a line, left to right.
    lines = photo.text.split(" ")
    first_line = photo.digits[: len(lines[0])]
    assert [box[0] for _, box in first_line] == sorted(box[0] for _, box in first_line)


def test_training_photos_leave_out_the_tests_glyphs_and_breaks(digits: MnistDigits) -> None:
    tagged = [make_photo(seed, digits).tags for seed in range(40)]
    assert any(tag.startswith("style") for tags in tagged for tag in tags)
    assert any("broken" in tags for tags in tagged)
    for seed in range(40):
        tags = make_photo(seed, digits, drawn_styles=False, broken_strokes=False).tags
        assert not any(tag.startswith("style") or tag == "broken" for tag in tags)


def test_default_photos_unchanged_by_the_options(digits: MnistDigits) -> None:
    assert make_photo(3, digits).jpeg == make_photo(3, digits, drawn_styles=True).jpeg


def test_crops_of_a_photo_are_its_digits(digits: MnistDigits, classifier) -> None:
    photo = make_photo(11, digits, drawn_styles=False, broken_strokes=False)
    crops = crops_of_photo(photo.jpeg, photo.digits)
    wanted = [label for label, _ in photo.digits]
    assert crops.images.shape[1:] == (28, 28) and crops.images.dtype == np.uint8
    assert len(crops.labels) >= len(wanted)
    assert set(crops.labels.tolist()) <= set(wanted)
    # The labels are right: the shipped network agrees with nearly all of them.
    agree = classifier.predict(crops.images).argmax(axis=1) == crops.labels
    assert agree.mean() >= 0.9


def test_a_crop_off_every_digit_gets_no_label(digits: MnistDigits) -> None:
    photo = make_photo(11, digits, drawn_styles=False, broken_strokes=False)
    # Shift every digit's box by its own width: no crop matches any more.
    moved = tuple((label, (x + 2 * w, y, w, h)) for label, (x, y, w, h) in photo.digits)
    assert len(crops_of_photo(photo.jpeg, moved).labels) == 0
    assert MATCH_IOU >= 0.5


def test_photo_crops_are_reproducible_in_processes(digits: MnistDigits) -> None:
    one = photo_crops(4, digits, seed=2, workers=1, not_digits=True)
    two = photo_crops(4, digits, seed=2, workers=2, not_digits=True)
    assert len(one.labels) >= 4
    assert (one.labels == NOT_A_DIGIT).any() and (one.labels < NOT_A_DIGIT).any()
    np.testing.assert_array_equal(one.labels, two.labels)
    np.testing.assert_array_equal(one.images, two.images)


def test_photo_crops_report_progress_without_changing_the_crops(
    digits: MnistDigits, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = photo_crops(6, digits, seed=3, workers=1, not_digits=True)  # one chunk
    monkeypatch.setattr(photo_crops_module, "CHUNK", 2)  # three chunks of two photos
    for workers in (1, 2):
        calls: list[tuple[int, int]] = []
        crops = photo_crops(
            6,
            digits,
            seed=3,
            workers=workers,
            not_digits=True,
            progress=lambda done, total, calls=calls: calls.append((done, total)),
        )
        assert calls == [(2, 6), (4, 6), (6, 6)], workers
        np.testing.assert_array_equal(crops.labels, whole.labels)
        np.testing.assert_array_equal(crops.images, whole.images)
    assert len(whole.labels) >= 6
