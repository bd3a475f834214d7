"""The annotated photo and the confidence plot: PNG bytes whose pixels say the right thing.

The recognitions are built by hand (MNIST test digits as crops, chosen probabilities), so
these tests check the drawing alone, whatever the pipeline does.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from matplotlib.colors import to_rgb

from recognizer import rendering
from recognizer.rendering import (
    CERTAIN_COLOUR,
    MAX_SIDE_PX,
    PLOT,
    RUNNER_UP_COLOUR,
    UNCERTAIN_COLOUR,
    digit_label,
    render_annotated,
    render_confidence_plot,
)
from recognizer.types import Box, Digit, Recognition

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_digit(
    label: int,
    confidence: float,
    box: Box,
    crop: np.ndarray,
    runner_up: int | None = None,
    line: int = 0,
) -> Digit:
    """A digit with the given top probability; the rest goes to runner_up (or spread)."""
    probs = np.full(10, 0.0)
    probs[label] = confidence
    rest = 1.0 - confidence
    if runner_up is not None:
        probs[runner_up] = rest * 0.9
        others = [k for k in range(10) if k not in (label, runner_up)]
        probs[others] = rest * 0.1 / len(others)
    else:
        others = [k for k in range(10) if k != label]
        probs[others] = rest / len(others)
    return Digit(label, tuple(float(p) for p in probs), box, line, crop)


def decode(png: bytes) -> np.ndarray:
    """PNG bytes -> RGB array (and proof that they are a PNG)."""
    assert png.startswith(PNG_SIGNATURE)
    bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rgb(colour: str) -> np.ndarray:
    return np.array([round(c * 255) for c in to_rgb(colour)])


def near(pixel: np.ndarray, colour: str, tolerance: int = 40) -> bool:
    return bool(np.abs(pixel.astype(int) - rgb(colour)).max() <= tolerance)


@pytest.fixture
def crops(mnist_test) -> list[np.ndarray]:
    x_test, _ = mnist_test
    return [x_test[i] for i in range(20)]


@pytest.fixture
def paper() -> np.ndarray:
    """A 1280x960 light-grey BGR 'photo' with a red mark in one corner."""
    photo = np.full((960, 1280, 3), 225, np.uint8)
    photo[0:40, 0:40] = (0, 0, 255)  # red in BGR
    return photo


def row_recognition(crops, preview, scale, n=10, uncertain_at=(3,)) -> Recognition:
    """n digits in a row, 110 px apart in the original photo; some uncertain."""
    digits = []
    for i in range(n):
        box = Box(80 + i * 110, 400, 90, 120)
        if i in uncertain_at:
            digits.append(make_digit(i % 10, 0.55, box, crops[i], runner_up=(i + 1) % 10))
        else:
            digits.append(make_digit(i % 10, 0.98, box, crops[i]))
    return Recognition(tuple(digits), (1280, 960), preview, scale)


# --- digit_label -----------------------------------------------------------------------------


def test_label_of_a_confident_digit_is_digit_and_percent(crops):
    assert digit_label(make_digit(7, 0.98, Box(0, 0, 5, 5), crops[0])) == "7 98%"


def test_label_never_rounds_up_to_a_certain_100_percent(crops):
    assert digit_label(make_digit(3, 0.9996, Box(0, 0, 5, 5), crops[0])) == "3 99%"
    assert digit_label(make_digit(3, 0.57, Box(0, 0, 5, 5), crops[0], runner_up=8)) == (
        "3? 57% or 8"
    )


def test_label_of_an_uncertain_digit_names_the_runner_up(crops):
    digit = make_digit(1, 0.55, Box(0, 0, 5, 5), crops[0], runner_up=7)
    assert digit_label(digit) == "1? 55% or 7"


# --- render_annotated ------------------------------------------------------------------------


def test_annotated_photo_is_a_png_downscaled_to_the_phone_size(crops, paper):
    preview = cv2.resize(paper, (960, 720), interpolation=cv2.INTER_AREA)
    image = decode(render_annotated(row_recognition(crops, preview, 0.75)))
    assert image.shape == (MAX_SIDE_PX * 3 // 4, MAX_SIDE_PX, 3)


def test_small_preview_is_not_enlarged(crops, paper):
    preview = cv2.resize(paper, (320, 240), interpolation=cv2.INTER_AREA)
    image = decode(render_annotated(row_recognition(crops, preview, 0.25, n=2)))
    assert image.shape == (240, 320, 3)


def test_boxes_are_drawn_where_the_digits_are_in_their_colour(crops, paper):
    preview = cv2.resize(paper, (960, 720), interpolation=cv2.INTER_AREA)
    recognition = row_recognition(crops, preview, 0.75)
    image = decode(render_annotated(recognition))
    to_output = MAX_SIDE_PX / 1280  # original photo -> rendered picture
    for digit in recognition.digits:
        x = round(digit.box.x * to_output)
        y = round((digit.box.y + digit.box.h / 2) * to_output)  # middle of the left edge
        expected = UNCERTAIN_COLOUR if digit.uncertain else CERTAIN_COLOUR
        edge = image[y, x - 2 : x + 3]  # the line is ~2.5 px wide, anti-aliased
        assert any(near(pixel, expected) for pixel in edge), (digit.label, edge)
        # Inside the box the photo shows through, untouched.
        inside = image[y, x + round(digit.box.w * to_output / 2)]
        assert np.abs(inside.astype(int) - 225).max() <= 3


def test_photo_colours_are_kept_and_bgr_is_shown_as_rgb(crops, paper):
    image = decode(render_annotated(row_recognition(crops, paper, 1.0, n=1)))
    assert near(image[5, 5], "#FF0000", tolerance=10)


@pytest.mark.parametrize("channels", [None, 1, 4])
def test_grey_and_bgra_previews_are_drawn(crops, paper, channels):
    grey = cv2.cvtColor(paper, cv2.COLOR_BGR2GRAY)
    preview = {
        None: grey,
        1: grey[:, :, None],
        4: cv2.cvtColor(paper, cv2.COLOR_BGR2BGRA),
    }[channels]
    image = decode(render_annotated(row_recognition(crops, preview, 1.0, n=3)))
    assert image.shape == (600, 800, 3)


def test_no_digits_gives_the_photo_unchanged(paper):
    preview = cv2.resize(paper, (800, 600), interpolation=cv2.INTER_AREA)
    image = decode(render_annotated(Recognition((), (1280, 960), preview, 800 / 1280)))
    expected = cv2.cvtColor(preview, cv2.COLOR_BGR2RGB)
    assert np.array_equal(image, expected)


def test_annotating_without_a_preview_is_a_value_error(crops):
    with pytest.raises(ValueError, match="no preview"):
        render_annotated(row_recognition(crops, None, 1.0, n=1))


@pytest.mark.parametrize(
    "preview",
    [np.zeros((10, 10), np.float32), np.zeros((10, 10, 2), np.uint8), np.zeros((0, 5), np.uint8)],
)
def test_an_unusable_preview_is_a_value_error(crops, preview):
    with pytest.raises(ValueError):
        render_annotated(row_recognition(crops, preview, 1.0, n=1))


def place_all(boxes, labels) -> list:
    placed: list[rendering._Rect] = []
    for box, label in zip(boxes, labels, strict=True):
        placed.append(rendering._place_label(box, label, 20, 800, 600, placed))
    return placed


def hidden_area(rects) -> float:
    return sum(a.overlap(b) for i, a in enumerate(rects) for b in rects[i + 1 :])


def test_labels_of_close_digits_alternate_and_do_not_hide_each_other():
    # Boxes 60 px apart; a "5 98%" label in 20-px text is ~80 px wide: on one row
    # every label would cover its neighbour's.
    boxes = [rendering._Rect(40 + i * 60, 200, 50, 70) for i in range(10)]
    placed = place_all(boxes, [f"{i} 98%" for i in range(10)])
    assert hidden_area(placed) == 0
    assert {rect.y < 200 for rect in placed} == {True, False}  # both above and below
    for box, rect in zip(boxes, placed, strict=True):  # each label next to its box
        assert box.x <= rect.x <= box.x + box.w
        assert rect.y + rect.h <= box.y or rect.y >= box.y + box.h


def test_long_uncertain_labels_do_not_hide_their_neighbours():
    boxes = [rendering._Rect(40 + i * 90, 200, 80, 70) for i in range(3)]
    placed = place_all(boxes, ["1? 55% or 7", "4 98%", "2? 60% or 3"])
    naive = [rendering._Rect(b.x, b.y - 28, p.w, p.h) for b, p in zip(boxes, placed, strict=True)]
    assert hidden_area(naive) > 0
    assert hidden_area(placed) == 0


def test_a_label_stays_inside_the_picture(crops):
    box = rendering._Rect(790, 0, 10, 600)  # at the right edge, as tall as the picture
    rect = rendering._place_label(box, "8 99%", 20, 800, 600, [])
    assert rect.x >= 0 and rect.x + rect.w <= 800
    assert rect.y >= 0 and rect.y + rect.h <= 600


# --- render_confidence_plot ------------------------------------------------------------------


def plot_rows_top() -> int:
    return PLOT.title_px + PLOT.ticks_px


def test_plot_shows_each_crop_the_network_saw(crops):
    recognition = row_recognition(crops, None, 1.0, n=4)
    image = decode(render_confidence_plot(recognition))
    assert image.shape[1] == PLOT.width
    for row, digit in enumerate(recognition.digits):
        top = PLOT.crop_top(plot_rows_top(), row)
        left = PLOT.crop_left_px
        shown = image[top : top + PLOT.crop_px, left : left + PLOT.crop_px, 0]
        zoomed = np.kron(digit.crop, np.ones((PLOT.crop_zoom, PLOT.crop_zoom), np.uint8))
        assert np.array_equal(shown, zoomed)


def bar_pixel(image: np.ndarray, row: int, k: int) -> np.ndarray:
    """A pixel near the bottom of bar k in a row (every bar of >= 5% reaches it)."""
    top = PLOT.crop_top(plot_rows_top(), row)
    y = top + PLOT.crop_px - 2
    return image[y, round(PLOT.slot_centre(k))]


def test_plot_highlights_the_top_bar_and_marks_an_uncertain_runner_up(crops):
    recognition = row_recognition(crops, None, 1.0, n=5, uncertain_at=(3,))
    image = decode(render_confidence_plot(recognition))
    for row, digit in enumerate(recognition.digits):
        if digit.uncertain:
            assert near(bar_pixel(image, row, digit.label), UNCERTAIN_COLOUR)
            assert near(bar_pixel(image, row, digit.runner_up), RUNNER_UP_COLOUR)
        else:
            assert near(bar_pixel(image, row, digit.label), CERTAIN_COLOUR)


def test_bar_heights_follow_the_probabilities(crops):
    digit = make_digit(2, 0.5, Box(0, 0, 9, 9), crops[0], runner_up=8)  # 8 gets 0.45
    image = decode(render_confidence_plot(Recognition((digit,), (10, 10))))
    top = PLOT.crop_top(plot_rows_top(), 0)

    def bar_height(k: int) -> int:
        column = image[top : top + PLOT.crop_px, round(PLOT.slot_centre(k))]
        return int(sum(not near(p, rendering.SLOT_COLOUR, tolerance=8) for p in column))

    assert bar_height(2) == pytest.approx(0.5 * PLOT.crop_px, abs=2)
    assert bar_height(8) == pytest.approx(0.45 * PLOT.crop_px, abs=2)
    assert bar_height(0) <= 1


def footer_has_ink(image: np.ndarray) -> bool:
    footer = image[-PLOT.footer_px :]
    return bool((footer < 128).any())


def test_plot_stops_after_max_digits_and_says_how_many_more(crops):
    twelve = decode(render_confidence_plot(row_recognition(crops, None, 1.0, n=12)))
    fifteen = decode(render_confidence_plot(row_recognition(crops, None, 1.0, n=15)))
    assert fifteen.shape[0] == twelve.shape[0] + PLOT.footer_px
    assert footer_has_ink(fifteen)  # "+3 more digits"
    three = decode(render_confidence_plot(row_recognition(crops, None, 1.0, n=15), max_digits=3))
    assert three.shape[0] < twelve.shape[0]


def test_plot_of_a_truncated_recognition_has_a_note(crops):
    digits = row_recognition(crops, None, 1.0, n=2).digits
    plain = decode(render_confidence_plot(Recognition(digits, (1280, 960))))
    truncated = decode(render_confidence_plot(Recognition(digits, (1280, 960), truncated=True)))
    assert truncated.shape[0] == plain.shape[0] + PLOT.footer_px
    assert footer_has_ink(truncated)


def test_plot_of_no_digits_is_a_small_picture_that_says_so():
    image = decode(render_confidence_plot(Recognition((), (640, 480))))
    assert image.shape[0] < 100
    assert (image < 128).any()  # the words "No digits found"


def test_plot_rejects_a_bad_crop_and_a_bad_max(crops):
    bad = make_digit(1, 0.9, Box(0, 0, 9, 9), np.zeros((20, 20), np.uint8))
    with pytest.raises(ValueError, match="28x28"):
        render_confidence_plot(Recognition((bad,), (10, 10)))
    with pytest.raises(ValueError, match="max_digits"):
        render_confidence_plot(row_recognition(crops, None, 1.0, n=1), max_digits=0)


# --- both ------------------------------------------------------------------------------------


def test_rendering_in_threads_gives_the_same_pictures(crops, paper):
    preview = cv2.resize(paper, (960, 720), interpolation=cv2.INTER_AREA)
    recognitions = [row_recognition(crops, preview, 0.75, n=n) for n in (1, 5, 10, 14)]
    expected = [(render_annotated(r), render_confidence_plot(r)) for r in recognitions]
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            results[worker] = [
                (render_annotated(r), render_confidence_plot(r)) for r in recognitions
            ]
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for worker in range(4):
        assert results[worker] == expected
