"""rejection.digit_lines: which line readings a photo reports."""

from __future__ import annotations

import numpy as np
import pytest

from recognizer.rejection import (
    CLEAR_LINE_CONFIDENCE,
    CLEAR_LINE_DIGITS,
    MANY_UNLIKE,
    NO_WRITING_BELOW,
    UNLIKE_BELOW,
    UNLIKE_SHARE,
    LineReading,
    digit_lines,
)


def reading(likeness: list[float], confidence: float = 0.99, start: int = 0) -> LineReading:
    count = len(likeness)
    return LineReading(
        tuple(range(start, start + count)),
        np.array(likeness, np.float32),
        np.full(count, confidence, np.float32),
    )


def test_a_number_with_a_few_smudged_digits_is_kept_whole() -> None:
    lines = [reading([0.99, 0.3, 0.98, 0.4]), reading([0.5, 1.0, 0.97], start=4)]
    assert digit_lines(lines) == lines


def test_a_line_of_scraps_is_dropped() -> None:
    scrap = reading([NO_WRITING_BELOW / 2] * 3)
    number = reading([0.99, 0.98], start=3)
    assert digit_lines([scrap, number]) == [number]
    assert digit_lines([scrap]) == []
    assert digit_lines([reading([])]) == []


def test_one_digit_like_crop_keeps_a_line() -> None:
    line = reading([NO_WRITING_BELOW / 2, NO_WRITING_BELOW])
    assert digit_lines([line]) == [line]


def test_a_photo_of_texture_keeps_only_its_clear_lines() -> None:
    texture = [reading([0.4, 0.9, 0.2, 0.6]), reading([0.3, 0.5, 0.95, 0.1], start=4)]
    number = reading([0.99] * CLEAR_LINE_DIGITS, start=8)
    short = reading([0.99] * (CLEAR_LINE_DIGITS - 1), start=20)
    unsure = reading([0.99] * 4, confidence=CLEAR_LINE_CONFIDENCE - 0.05, start=30)
    assert digit_lines([*texture, number, short, unsure]) == [number]
    assert digit_lines(texture) == []


def test_texture_is_told_by_count_and_share_together() -> None:
    unlike = UNLIKE_BELOW / 2
    # One fewer unlike crop than the limit: a number with that many smudges stays.
    few = [reading([unlike] * (MANY_UNLIKE - 1))]
    assert digit_lines(few) == few
    many = [reading([unlike] * MANY_UNLIKE)]
    assert digit_lines(many) == []
    # As many unlike crops among far more digits read well: a long, mostly clean page.
    clean = round(MANY_UNLIKE / UNLIKE_SHARE) + 1
    page = [reading([unlike] * MANY_UNLIKE), reading([0.99] * clean, start=MANY_UNLIKE)]
    assert digit_lines(page) == page


def test_scraps_count_towards_texture() -> None:
    scraps = [reading([0.05] * MANY_UNLIKE, start=10)]
    digits = [reading([0.99, 0.98])]
    assert digit_lines(scraps + digits) == []
    assert digit_lines(digits) == digits


@pytest.mark.parametrize("likeness", [[0.99, 0.98, 0.97], [1.0, UNLIKE_BELOW + 0.01, 1.0]])
def test_clear_lines(likeness: list[float]) -> None:
    assert reading(likeness).is_clear
    assert not reading(likeness, confidence=0.5).is_clear
