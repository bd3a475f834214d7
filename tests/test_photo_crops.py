"""Synthetic photos say where their digits are; the recognizer's crops of them get labels."""

from __future__ import annotations

import numpy as np
import pytest

from training import photo_crops as photo_crops_module
from training.photo_crops import (
    LETTER,
    MATCH_IOU,
    NOT_A_DIGIT,
    WORDS_EVERY,
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


def test_words_beside_a_number_leave_the_number_as_it_was(digits: MnistDigits) -> None:
    for seed in range(6):
        plain = make_photo(seed, digits)
        labelled = make_photo(seed, digits, words=True)
        assert (labelled.text, labelled.digits, labelled.size) == (
            plain.text,
            plain.digits,
            plain.size,
        )
        assert plain.words == () and "words" not in plain.tags
        if labelled.words:
            assert "words" in labelled.tags and labelled.jpeg != plain.jpeg
            width, height = labelled.size
            for x, y, w, h in labelled.words:
                assert x >= 0 and y >= 0
                assert x + w <= width and y + h <= height
                assert w > h > 5
                # A word is written in a row of its own, clear of every digit.
                assert all(iou((x, y, w, h), box) == 0 for _, box in labelled.digits)
    assert any(make_photo(seed, digits, words=True).words for seed in range(6))


def test_crops_of_words_are_letters(digits: MnistDigits) -> None:
    photo = next(p for seed in range(20) if (p := make_photo(seed, digits, words=True)).words)
    crops = crops_of_photo(photo.jpeg, photo.digits, not_digits=True, words=photo.words)
    plain = make_photo(photo.seed, digits)
    without = crops_of_photo(plain.jpeg, plain.digits, not_digits=True)
    # The words add crops of their letters, whole or in part; the number's stay as they were.
    assert (crops.labels == LETTER).sum() >= 2
    assert (without.labels == LETTER).sum() == 0
    assert sorted(crops.labels[crops.labels < NOT_A_DIGIT]) == sorted(
        without.labels[without.labels < NOT_A_DIGIT]
    )


def test_letters_come_from_every_few_photos_only_when_asked(digits: MnistDigits) -> None:
    photos = 2 * WORDS_EVERY
    with_letters = photo_crops(photos, digits, seed=3, workers=1, letters=True)
    without = photo_crops(photos, digits, seed=3, workers=1)
    assert (with_letters.labels == LETTER).any()
    assert not (without.labels == LETTER).any()
    assert not (without.labels == NOT_A_DIGIT).any()


def test_an_upright_stroke_alone_in_a_word_is_left_out(digits: MnistDigits) -> None:
    # The stroke of an H or an N is drawn as a 1 is: it must not be taught as "not one
    # digit". Here a "word" covering the whole photo stands for the letters around it.
    photo = next(
        p
        for seed in range(40)
        if "1" in (p := make_photo(seed, digits, drawn_styles=False, broken_strokes=False)).text
    )
    width, height = photo.size
    kept = crops_of_photo(photo.jpeg, photo.digits, words=((0, 0, width, height),))
    crops = crops_of_photo(photo.jpeg, photo.digits)
    assert (crops.labels == 1).any() and not (kept.labels == 1).any()
    assert (kept.labels != 1).sum() >= 1


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
