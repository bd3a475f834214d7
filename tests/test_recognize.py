"""recognize(): from a photo to digits, end to end, on composed MNIST test digits."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

import recognizer
from recognizer import (
    UNCERTAIN_BELOW,
    NotAnImageError,
    Recognition,
    RecognitionError,
    recognize,
)
from recognizer import pipeline as pipeline_module
from recognizer.classifier import Scores
from recognizer.image_io import WORK_MAX_SIDE
from recognizer.normalization import normalize
from recognizer.second_look import REREAD_BELOW
from recognizer.segmentation import MAX_CANDIDATES, segment
from recognizer.styles import apply_style_priors, top_width
from training.photo_crops import iou


@pytest.fixture(scope="module")
def clear_digits(mnist_test, classifier) -> dict[int, np.ndarray]:
    """For each label, MNIST test digits the classifier reads with no doubt at all.

    These tests are about finding, ordering and mapping digits, not about hard
    handwriting (the accuracy test covers that), so they use unambiguous samples.
    """
    images, labels = mnist_test
    probs = classifier.predict(images[:2000])
    chosen: dict[int, list[np.ndarray]] = {label: [] for label in range(10)}
    for image, label, row in zip(images[:2000], labels[:2000], probs, strict=True):
        if row[label] > 0.999 and len(chosen[int(label)]) < 5:
            chosen[int(label)].append(image)
    return {label: np.stack(samples) for label, samples in chosen.items()}


def compose(
    lines: list[str],
    digits: dict[int, np.ndarray],
    height: int = 90,
    canvas: tuple[int, int] = (1000, 700),
    chalk: bool = False,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Paste digits (dark ink on paper) line by line; returns the page and digit boxes."""
    width, page_height = canvas
    ink = np.zeros((page_height, width), np.uint8)
    boxes = []
    y = 80
    for text in lines:
        x = 80
        for index, char in enumerate(text):
            image = digits[int(char)][index % len(digits[int(char)])]
            ys, xs = np.nonzero(image > 40)
            crop = image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
            scale = height / crop.shape[0]
            glyph = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            h, w = glyph.shape
            region = ink[y : y + h, x : x + w]
            np.maximum(region, glyph, out=region)
            boxes.append((x, y, w, h))
            x += w + height // 3
        y += int(height * 1.8)
    if chalk:
        return (40 + ink.astype(np.float32) * 0.7).astype(np.uint8), boxes
    return (235 - ink.astype(np.float32) * 0.85).astype(np.uint8), boxes


def png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def overlap(a: tuple[int, int, int, int], box) -> float:
    """Intersection over union of (x, y, w, h) and a recognizer Box."""
    return iou(a, (box.x, box.y, box.w, box.h))


def test_reads_a_string_with_boxes_and_crops(clear_digits, classifier) -> None:
    page, boxes = compose(["4711"], clear_digits)
    result = recognize(png(page), classifier)
    assert isinstance(result, Recognition)
    assert result.text == "4711"
    assert result.image_size == (1000, 700)
    assert not result.truncated
    for digit, expected in zip(result.digits, boxes, strict=True):
        assert overlap(expected, digit.box) > 0.7
        assert digit.crop.shape == (28, 28) and digit.crop.dtype == np.uint8
        assert len(digit.probs) == 10 and abs(sum(digit.probs) - 1) < 1e-3
        assert digit.line == 0
        assert digit.uncertain == (digit.confidence < UNCERTAIN_BELOW)
    assert result.lowest_confidence is not None and result.lowest_confidence > 0.9


def test_all_ten_digits_in_two_lines(clear_digits, classifier) -> None:
    page, _ = compose(["01234", "56789"], clear_digits)
    result = recognize(page, classifier)  # an array works as well as bytes
    assert result.text == "01234 56789"
    assert [d.line for d in result.digits] == [0] * 5 + [1] * 5


def test_chalk_on_a_board(clear_digits, classifier) -> None:
    page, _ = compose(["2024"], clear_digits, chalk=True)
    assert recognize(png(page), classifier).text == "2024"


def test_boxes_refer_to_the_original_photo(clear_digits, classifier) -> None:
    """A 3000x2100 photo is processed small, but boxes come back in its own pixels."""
    page, boxes = compose(["907"], clear_digits, height=270, canvas=(3000, 2100))
    result = recognize(png(page), classifier)
    assert result.text == "907"
    assert result.image_size == (3000, 2100)
    for digit, expected in zip(result.digits, boxes, strict=True):
        assert overlap(expected, digit.box) > 0.7
    assert max(result.preview.shape) <= WORK_MAX_SIDE
    assert result.preview_scale == pytest.approx(result.preview.shape[1] / 3000, rel=1e-3)


def test_exif_rotated_photo_is_read_upright(clear_digits, classifier) -> None:
    page, _ = compose(["365"], clear_digits)
    stored = np.ascontiguousarray(np.rot90(page))  # the camera stored it sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    buffer = io.BytesIO()
    Image.fromarray(stored).save(buffer, "JPEG", quality=92, exif=exif)
    result = recognize(buffer.getvalue(), classifier)
    assert result.text == "365"
    assert result.image_size == (1000, 700)


def test_path_input(tmp_path, clear_digits, classifier) -> None:
    page, _ = compose(["58"], clear_digits)
    path = tmp_path / "note.png"
    path.write_bytes(png(page))
    assert recognize(path, classifier).text == "58"


@pytest.mark.parametrize(
    "image",
    [
        np.full((600, 800), 255, np.uint8),
        np.zeros((600, 800), np.uint8),
        np.random.default_rng(0).normal(200, 4, (600, 800)).clip(0, 255).astype(np.uint8),
    ],
    ids=["white", "black", "blank-noisy-paper"],
)
def test_nothing_digit_like_gives_an_empty_result(image: np.ndarray, classifier) -> None:
    result = recognize(png(image), classifier)
    assert result.digits == ()
    assert result.text == ""
    assert result.lowest_confidence is None


def texture(seed: int, blur: float) -> np.ndarray:
    """A 1280x960 photo of something with no writing on it: gravel, fabric, a wall."""
    rng = np.random.default_rng(seed)
    blobs = rng.uniform(0, 255, (240, 320)).astype(np.float32)
    blobs = cv2.GaussianBlur(cv2.resize(blobs, (1280, 960)), (0, 0), blur)
    return (0.5 * blobs + 100).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize(("seed", "blur"), [(1, 2.0), (2, 4.0), (3, 8.0)])
def test_a_photo_of_texture_reads_no_digits(seed: int, blur: float, classifier) -> None:
    # Dozens of its blobs look a little like digits each; together they are no number.
    result = recognize(png(texture(seed, blur)), classifier)
    assert result.text == ""


def test_a_number_written_far_larger_than_printed_words_around_it_is_read(
    clear_digits, classifier
) -> None:
    """A form or a labelled note: the printed words outweigh the number in ink and set
    the photo's digit height; the number, four times as tall, is read at its own. The
    words are read as nothing: the shipped model calls them printed letters (v2, without
    that output, read each "gas" as 925)."""
    image, boxes = compose(["358"], clear_digits, height=200, canvas=(1400, 1000))
    for k, word in enumerate(("meter", "gas", "reading", "water", "kitchen") * 5):
        origin = (100 + 260 * (k % 5), 480 + 95 * (k // 5))
        cv2.putText(image, word, origin, cv2.FONT_HERSHEY_SIMPLEX, 1.5, 40, 3, cv2.LINE_AA)
    assert segment(image).digit_height < 0.5 * min(box[3] for box in boxes)
    result = recognize(png(image), classifier)
    assert result.text == "358"
    assert all(
        overlap(box, digit.box) > 0.7 for box, digit in zip(boxes, result.digits, strict=True)
    )


def test_a_printed_label_above_a_number_is_not_read(clear_digits, classifier) -> None:
    """A label in bold print: the lattice skipped its letters but kept the o and the a
    as the digits 0 and 6 (the code before read "06 4711"); all of the line's pieces,
    chosen or not, say it is print."""
    image, boxes = compose(["", "", "4711"], clear_digits)
    cv2.putText(image, "Gas total:", (80, 140), cv2.FONT_HERSHEY_SIMPLEX, 2.4, 40, 3, cv2.LINE_AA)
    result = recognize(png(image), classifier)
    assert result.text == "4711"
    assert all(
        overlap(box, digit.box) > 0.7 for box, digit in zip(boxes, result.digits, strict=True)
    )


def test_bad_input_raises_a_friendly_error(classifier) -> None:
    with pytest.raises(NotAnImageError) as info:
        recognize(b"definitely not a photo", classifier)
    assert isinstance(info.value, RecognitionError)
    assert info.value.user_message


class CountingClassifier:
    """Wraps a classifier and counts model calls and crops."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls = 0
        self.crops = 0
        self.batches: list[int] = []

    def score(self, crops: np.ndarray):
        self.calls += 1
        self.crops += len(crops)
        self.batches.append(len(crops))
        return self.inner.score(crops)


class UnsureClassifier(CountingClassifier):
    """The real network's answers made unsure: every probability halved towards even."""

    def score(self, crops: np.ndarray):
        scores = super().score(crops)
        return Scores(0.5 * scores.probs + 0.05, scores.digit_like)


def test_one_predict_call_per_photo(clear_digits, classifier) -> None:
    counting = CountingClassifier(classifier)
    page, _ = compose(["8675309", "42"], clear_digits)
    result = recognize(png(page), counting)  # type: ignore[arg-type]
    assert result.text == "8675309 42"
    assert counting.calls == 1
    assert counting.crops >= 9


def test_unsure_digits_get_a_second_look_in_one_more_call(clear_digits, classifier) -> None:
    unsure = UnsureClassifier(classifier)
    page, _ = compose(["8675309"], clear_digits)
    result = recognize(png(page), unsure)  # type: ignore[arg-type]
    assert result.text == "8675309"
    assert unsure.calls == 2
    # Each of the seven digits, read five ways (as it is, turned twice, two pens).
    assert unsure.batches[1] == 7 * 5
    assert all(d.confidence < REREAD_BELOW for d in result.digits)


class NoDigitClassifier(CountingClassifier):
    """The real network, except that it calls every crop it reads as one of ``labels``
    "not one digit"."""

    def __init__(self, inner, labels: set[int]) -> None:
        super().__init__(inner)
        self.labels = labels

    def score(self, crops: np.ndarray):
        scores = super().score(crops)
        scrap = np.isin(scores.probs.argmax(axis=1), list(self.labels))
        return Scores(scores.probs, np.where(scrap, 0.02, scores.digit_like))


def test_a_line_the_network_calls_no_writing_is_dropped(clear_digits, classifier) -> None:
    page, _ = compose(["13", "42"], clear_digits)
    result = recognize(png(page), NoDigitClassifier(classifier, {1, 3}))  # type: ignore[arg-type]
    assert result.text == "42"
    assert [d.line for d in result.digits] == [0, 0]  # the lines are numbered anew
    # One digit the network takes for a digit keeps the line.
    kept = recognize(png(page), NoDigitClassifier(classifier, {1}))  # type: ignore[arg-type]
    assert kept.text == "13 42"


def test_no_model_is_loaded_for_an_empty_photo(monkeypatch) -> None:
    def fail() -> None:
        raise AssertionError("the classifier should not be needed")

    monkeypatch.setattr(pipeline_module, "default_classifier", fail)
    assert recognize(np.full((300, 300), 250, np.uint8)).digits == ()


def test_default_classifier_follows_model_path(monkeypatch, classifier, clear_digits) -> None:
    monkeypatch.setenv("MODEL_PATH", str(classifier.path))
    monkeypatch.setattr(pipeline_module, "_default_classifiers", {})
    page, _ = compose(["13"], clear_digits)
    assert recognize(png(page)).text == "13"
    first = pipeline_module.default_classifier()
    assert pipeline_module.default_classifier() is first
    assert first.path == classifier.path


def test_many_digits_are_capped_and_flagged(clear_digits, classifier) -> None:
    lines = ["0123456789" * 2] * 7  # 140 digits
    page, _ = compose(lines, clear_digits, height=40, canvas=(1600, 1200))
    result = recognize(png(page), classifier)
    assert result.truncated
    assert len(result.digits) == MAX_CANDIDATES


def test_result_is_json_serialisable(clear_digits, classifier) -> None:
    page, _ = compose(["90"], clear_digits)
    data = recognize(png(page), classifier).to_dict()
    text = json.dumps(data)
    assert json.loads(text)["text"] == "90"


def test_package_exports() -> None:
    for name in ("recognize", "Recognition", "Digit", "Box", "Classifier", "UNCERTAIN_BELOW"):
        assert hasattr(recognizer, name)
    assert issubclass(recognizer.NotAnImageError, recognizer.RecognitionError)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    image=arrays(
        np.uint8,
        st.tuples(st.integers(8, 120), st.integers(8, 120)),
        elements=st.integers(0, 255),
    )
)
def test_any_small_image_gives_a_result_or_a_friendly_error(image, classifier) -> None:
    try:
        result = recognize(image, classifier)
    except RecognitionError:
        return
    assert all(0 <= d.label <= 9 for d in result.digits)


def drawn_crop(strokes: list[list[tuple[int, int]]]) -> np.ndarray:
    """A 28x28 MNIST-style crop drawn from pixel polylines."""
    big = np.zeros((112, 112), np.uint8)
    for points in strokes:
        cv2.polylines(big, [np.array(points, np.int32) * 4], False, 255, 9, cv2.LINE_AA)
    return normalize(big)


def test_a_flag_one_is_not_taken_for_a_seven() -> None:
    """The style prior: a 7's probability shrinks when the top of the ink has no bar."""
    flag_one = drawn_crop([[(8, 11), (17, 2), (17, 26)]])
    seven = drawn_crop([[(4, 3), (22, 3), (10, 26)]])
    torn = np.zeros((2, 10), np.float32)
    torn[:, 7], torn[:, 1] = 0.62, 0.38  # the network's doubt between 7 and 1
    adjusted = apply_style_priors(np.stack([flag_one, seven]), torn)
    assert adjusted[0].argmax() == 1
    assert adjusted[1].argmax() == 7
    assert np.allclose(adjusted.sum(axis=1), 1.0)
    assert top_width(seven) > 0.9 > 0.6 > top_width(flag_one)


def test_ten_and_eleven_output_models_answer_alike(mnist_test) -> None:
    """A ten-output model (v1) is one digit by definition; the eleven-output shipped
    model gives ten digit probabilities summing to one and its own digit-likeness."""
    from recognizer.classifier import Classifier, shipped_model_path

    x, _ = mnist_test
    old = Classifier.load(shipped_model_path().with_name("digitbot-v1.tflite")).score(x[:50])
    new = Classifier.load(shipped_model_path()).score(x[:50])
    assert old.probs.shape == new.probs.shape == (50, 10)
    np.testing.assert_array_equal(old.digit_like, np.ones(50, np.float32))
    np.testing.assert_allclose(new.probs.sum(axis=1), 1.0, rtol=1e-5)
    assert new.digit_like.min() >= 0.0 and new.digit_like.max() <= 1.0
    assert (new.probs.argmax(axis=1) == old.probs.argmax(axis=1)).mean() >= 0.98


def test_a_model_with_other_outputs_is_refused(tmp_path) -> None:
    keras = pytest.importorskip("keras")
    from recognizer.classifier import Classifier
    from recognizer.types import ModelLoadError

    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(13, activation="softmax")(keras.layers.Flatten()(inputs))
    path = tmp_path / "thirteen.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ModelLoadError, match="not 10 to 12"):
        Classifier.load(path)


def test_a_letters_output_changes_nothing_said_of_digits(tmp_path, mnist_test) -> None:
    """The twelfth output ("printed letters") is one more softmax output: the ten digit
    probabilities and the digit-likeness are ratios it leaves alone."""
    keras = pytest.importorskip("keras")
    from recognizer.classifier import Classifier

    def model(outputs: int, kernel: np.ndarray, bias: np.ndarray, path) -> Classifier:
        inputs = keras.Input((28, 28, 1))
        dense = keras.layers.Dense(outputs, activation="softmax")
        net = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
        dense.set_weights([kernel, bias])
        net.save(path)
        return Classifier.load(path)

    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(0, 0.05, (784, 12)), rng.normal(0, 1, 12)
    eleven = model(11, kernel[:, :11], bias[:11], tmp_path / "eleven.keras")
    twelve = model(12, kernel, bias, tmp_path / "twelve.keras")
    x, _ = mnist_test
    before, after = eleven.score(x[:64]), twelve.score(x[:64])
    np.testing.assert_allclose(after.probs, before.probs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(after.digit_like, before.digit_like, rtol=1e-4, atol=1e-6)
    assert before.letter_like is None
    assert after.letter_like is not None and after.letter_like.shape == (64,)
    assert 0.0 < after.letter_like.min() <= after.letter_like.max() < 1.0
