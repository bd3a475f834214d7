"""rejection.digit_lines: which line readings a photo reports."""

from __future__ import annotations

import numpy as np
import pytest

from recognizer.rejection import (
    CLEAR_LINE_CONFIDENCE,
    CLEAR_LINE_DIGITS,
    LETTERS_ABOVE,
    MANY_UNLIKE,
    NO_WRITING_BELOW,
    PRINT_LINE_SHARE,
    PRINT_MIN_HEIGHT,
    UNLIKE_BELOW,
    UNLIKE_SHARE,
    LineReading,
    digit_lines,
    print_share,
)


def reading(
    likeness: list[float],
    confidence: float = 0.99,
    start: int = 0,
    height: float = 40.0,
    set_apart: bool = False,
) -> LineReading:
    count = len(likeness)
    return LineReading(
        tuple(range(start, start + count)),
        np.array(likeness, np.float32),
        np.full(count, confidence, np.float32),
        height,
        set_apart,
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


def test_each_size_of_writing_is_judged_on_its_own() -> None:
    """Printed words around a number written far larger: the words' crops are a page of
    print, the number's are a number (together, the number would be lost with them)."""
    unlike = UNLIKE_BELOW / 2
    words = [
        reading([unlike, 0.9, unlike, 0.95, unlike], height=20),
        reading([unlike, unlike, 0.99, unlike], start=5, height=20),
    ]
    number = reading([0.99, 0.8], confidence=0.8, start=9, height=90, set_apart=True)
    assert not number.is_clear
    assert digit_lines([*words, number]) == [number]
    # Read at one height, the number is one more line of the page of print.
    assert digit_lines([*words, reading([0.99, 0.8], confidence=0.8, start=9, height=20)]) == []


def test_writing_set_apart_by_its_size_must_look_like_digits() -> None:
    """The edge of a highlight twice the digits' height is one unlike crop: no count of
    unlike crops is needed to drop it, while in the number's own writing it would be one
    smudged digit among clean ones."""
    number = reading([0.99] * 4)
    blot = reading([NO_WRITING_BELOW * 2], start=4, height=90, set_apart=True)
    assert blot.is_writing
    assert digit_lines([number, blot]) == [number]
    smudge = reading([NO_WRITING_BELOW * 2], start=4)
    assert digit_lines([number, smudge]) == [number, smudge]


def lettered(likeness: list[float], letters: list[float], start: int = 0) -> LineReading:
    base = reading(likeness, start=start)
    return LineReading(
        base.crops, base.digit_like, base.confidence, letter_like=np.array(letters, np.float32)
    )


def test_a_line_mostly_of_letters_is_print() -> None:
    """A label beside a number: the network's "printed letters" output calls most of its
    crops letters (however digit-like they look), and the line is no number. One crop
    taken for a letter in a number's line leaves the line as it is."""
    label = lettered([0.99, 0.9, 0.95], [LETTERS_ABOVE + 0.3, LETTERS_ABOVE, 0.1])
    number = lettered([0.99] * 4, [0.01, LETTERS_ABOVE + 0.1, 0.0, 0.0], start=3)
    assert not label.is_writing and number.is_writing
    assert digit_lines([label, number]) == [number]
    assert not number.is_clear


def test_letters_count_as_unlike_a_digit() -> None:
    """A page of print: lines of half letters each stay writing, but their letters
    together make it no number, and only a clear line is kept."""
    half = [0.9, 0.1, 0.9, 0.1]
    print_lines = [lettered([0.99] * 4, half, start=4 * k) for k in range(3)]
    assert all(line.is_writing for line in print_lines)
    clear = lettered([0.99] * 3, [0.0] * 3, start=20)
    assert digit_lines([*print_lines, clear]) == [clear]
    # Without the letters output, the same crops are a number of confident digits.
    plain = [reading([0.99] * 4, start=4 * k) for k in range(3)]
    assert digit_lines(plain) == plain


def test_print_share_counts_the_tall_pieces_and_needs_two_letters() -> None:
    """Dots, commas and scraps (under half the line's height) say nothing either way,
    and one piece taken for letters is no line of print."""
    letter, digit = LETTERS_ABOVE + 0.1, 0.05
    tall, short = 40.0, PRINT_MIN_HEIGHT * 40.0 - 1
    assert print_share([letter, letter, digit], [tall, tall, tall], 40.0) == pytest.approx(2 / 3)
    assert print_share([letter, letter, digit, digit], [tall, short, tall, tall], 40.0) == 0.0
    assert print_share([letter, digit, digit, digit, digit], [tall] * 5, 40.0) == 0.0
    assert print_share([letter, letter, digit, digit], [tall, tall, short, short], 40.0) == 1.0
    assert print_share([], [], 40.0) == 0.0


def test_a_line_whose_pieces_are_mostly_letters_is_print() -> None:
    """A label, "Gas total:", read as "06": the lattice skipped the letters, and the two
    crops it chose look like digits. All the line's pieces say it is print."""
    chosen = LineReading(
        (0, 1), np.array([0.97, 0.9], np.float32), np.array([0.98, 0.95], np.float32)
    )
    label = LineReading(
        chosen.crops,
        chosen.digit_like,
        chosen.confidence,
        letter_like=np.array([0.1, 0.2], np.float32),
        print_share=PRINT_LINE_SHARE,
    )
    number = lettered([0.99] * 4, [0.0] * 4, start=2)
    assert chosen.is_writing and not label.is_writing
    assert digit_lines([label, number]) == [number]
    mixed = LineReading(
        label.crops,
        label.digit_like,
        label.confidence,
        letter_like=label.letter_like,
        print_share=PRINT_LINE_SHARE - 0.1,
    )
    assert digit_lines([mixed, number]) == [mixed, number]
