"""Which line readings are digits at all: the rest of a photo is not reported.

The lattice reads every line as well as it can, and the network's eleventh output says
how likely each chosen crop is to be one whole digit (``Scores.digit_like``). Two kinds
of photo need more than that crop by crop:

- a scrap of the page's edge or a smudge makes a line of its own whose every crop the
  network calls "not one digit": the line is dropped;
- a photo of something else (gravel, fabric, noise, a page of print) gives dozens of
  crops that look a little like digits each. Taken one by one, some pass; taken
  together, so many crops of so little likeness are no handwritten number. Such a photo
  keeps only the lines that are clearly digits (a number written on it, if any), and
  anything else in it is left unread rather than reported as a long string of guesses.

Writing of each size is judged on its own. ``segmentation`` reads rows of writing far
taller than the photo's digit height at their own height (a number written large beside
printed labels, which outnumber it and set the photo's digit height): the share of
unlike crops is taken within each size, so the labels can be a page of print while the
number beside them stays a number. Such a row was set apart on its size alone, and the
network must confirm it: its writing needs no count of unlike crops to be no number,
only the share (the edge of a highlight twice the digits' height is one unlike crop).

With a model that has the "printed letters" output (``training.letter_output``), a crop
it calls letters counts as unlike a digit too, and a line of more letters than not (a
label beside a number, a line of print) is no number at all: the network reads an l, an
i or an h's stem as a confident 1, so digit-likeness alone lets print through.

A line's reading may hold only a few of its crops, though: the lattice skips the letters
the network calls no digit, and keeps what reads as one ("Gas total:" read as "06", its
o a 0 and its a a 6). So a line is also judged by all it holds, chosen or not: when at
least half of its smallest crops (each piece on its own, ``LineLattice.smallest_crops``,
of at least half the line's height: dots, commas and scraps say nothing) are letters,
and at least two, the line is print (``print_share``). A number's pieces are digits: one
of them taken for letters changes nothing, and a lone digit is never judged this way.

The limits were set on the 1,226 tuning photos (generator, validation digits, at four
sizes and cropped): none of them has more than 3 crops below ``UNLIKE_BELOW``, and
``MANY_UNLIKE`` is twice that, so a number with a few smudged digits stays a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A line whose every digit the network calls "not one digit" (``digit_like`` below
#: this) is no writing, but a scrap of the page's edge or a smudge: it is dropped.
NO_WRITING_BELOW = 0.1
#: A crop the network gives less than this chance of being one whole digit is unlike one.
UNLIKE_BELOW = 0.7
#: A photo with at least this many unlike crops, making up at least ``UNLIKE_SHARE`` of
#: all it read, is no photo of a number: only its clear lines are kept.
MANY_UNLIKE = 6
UNLIKE_SHARE = 0.3
#: A clear line: at least this many digits, each like a digit and read at least this
#: surely.
CLEAR_LINE_DIGITS = 3
CLEAR_LINE_CONFIDENCE = 0.9
#: A crop the network (with a "printed letters" output) gives at least this chance of
#: being letters is no digit: it counts as unlike one, and a line of more letters than
#: not is print, not a number.
LETTERS_ABOVE = 0.8
#: A line is print when at least this share of its smallest crops are letters...
PRINT_LINE_SHARE = 0.5
#: ...and at least this many...
PRINT_MIN_LETTERS = 2
#: ...counting the crops at least this fraction of the line's digit height tall.
PRINT_MIN_HEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class LineReading:
    """The digits chosen on one line: their crops' indices, and what the network said."""

    crops: tuple[int, ...]
    #: Each crop's chance of being one whole digit (``Scores.digit_like``).
    digit_like: np.ndarray
    #: Each crop's top digit probability.
    confidence: np.ndarray
    #: The digit height the line was segmented at: lines of one height are writing of
    #: one size.
    digit_height: float = 0.0
    #: Whether the line was read at a height of its own, not the photo's.
    set_apart: bool = False
    #: Each crop's chance of being printed letters rather than a digit
    #: (``Scores.letter_like``), or None when the model has no such output.
    letter_like: np.ndarray | None = None
    #: The share of all the line's pieces, chosen or not, that are letters
    #: (``print_share``): 0 without the "printed letters" output.
    print_share: float = 0.0

    @property
    def letters(self) -> np.ndarray:
        """Which crops the network calls printed letters."""
        if self.letter_like is None:
            return np.zeros(len(self.crops), bool)
        return self.letter_like >= LETTERS_ABOVE

    @property
    def unlike(self) -> np.ndarray:
        """Which crops are unlike one whole digit, or letters."""
        return (self.digit_like < UNLIKE_BELOW) | self.letters

    @property
    def is_writing(self) -> bool:
        """Some crop of the line is like a digit (a line of none is a scrap or smudge),
        and neither most of them nor half of the line's pieces are letters (a line of
        print, a label)."""
        return (
            bool(len(self.crops))
            and float(self.digit_like.max()) >= NO_WRITING_BELOW
            and np.count_nonzero(self.letters) <= len(self.crops) // 2
            and self.print_share < PRINT_LINE_SHARE
        )

    @property
    def is_clear(self) -> bool:
        return (
            len(self.crops) >= CLEAR_LINE_DIGITS
            and not self.unlike.any()
            and float(self.confidence.min()) >= CLEAR_LINE_CONFIDENCE
        )


def print_share(letter_like: np.ndarray, heights: np.ndarray, digit_height: float) -> float:
    """The share of a line's smallest crops (their ``Scores.letter_like`` and heights)
    that are letters, among those at least ``PRINT_MIN_HEIGHT`` of the line's digit
    height tall; 0 when fewer than ``PRINT_MIN_LETTERS`` are."""
    tall = np.asarray(heights, np.float64) >= PRINT_MIN_HEIGHT * digit_height
    letters = np.asarray(letter_like)[tall] >= LETTERS_ABOVE
    if np.count_nonzero(letters) < PRINT_MIN_LETTERS:
        return 0.0
    return float(np.mean(letters))


def digit_lines(readings: list[LineReading]) -> list[LineReading]:
    """The readings to report, in their order (see the module's docstring)."""
    # Scraps and smudges count too: a photo of texture is full of them.
    unlike = [reading.unlike for reading in readings]
    many = sum(int(np.count_nonzero(flags)) for flags in unlike) >= MANY_UNLIKE
    kept = []
    for height in {reading.digit_height for reading in readings}:
        group = [k for k, reading in enumerate(readings) if reading.digit_height == height]
        flags = np.concatenate([unlike[k] for k in group])
        unlike_share = np.count_nonzero(flags) >= UNLIKE_SHARE * len(flags)
        no_number = unlike_share and (many or readings[group[0]].set_apart)
        kept.extend(
            k for k in group if readings[k].is_writing and (readings[k].is_clear or not no_number)
        )
    return [readings[k] for k in sorted(kept)]
