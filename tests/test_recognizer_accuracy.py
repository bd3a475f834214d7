"""Accuracy on realistic photo-like images: the figures issue 4 sets targets for.

Two sets:

* 200 photos from ``training.synthetic_photos`` (seeds 0-199): MNIST *test* digits and
  drawn European styles (never used in training), on plain, ruled and squared paper and
  chalkboards, with perspective, shadows, blur, noise, JPEG, separators, touching and
  broken digits.
* The hand-drawn images in ``tests/handdrawn`` (drawn stroke by stroke, no MNIST).

How the figures are computed:

* **String accuracy**: the share of photos whose ``Recognition.text`` equals the
  expected text exactly (lines included).
* **Digit accuracy**: 1 - (edit distance between the read digits and the expected
  digits, summed over photos) / (number of expected digits). Each photo's digits are
  compared in reading order with line breaks removed; a wrong digit, a missed digit and
  an extra digit (a dot read as a 1) each cost one edit. Aligning this way means one
  missed digit costs one digit, not every digit after it.

Targets (issue 4): at least 98% of digits and 95% of strings read right.
"""

from __future__ import annotations

import collections
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from recognizer import recognize
from training.synthetic_photos import MnistDigits, make_set

# bench/ holds scripts run from the checkout (``python -m bench``), not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.scale_robustness import cropped, rescaled

SYNTH_COUNT = 200
SYNTH_SEED = 0
HANDDRAWN = Path(__file__).resolve().parent / "handdrawn"

DIGIT_TARGET = 0.98
STRING_TARGET = 0.95


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions cost one each."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


@dataclass
class Score:
    photos: int = 0
    exact: int = 0
    digits: int = 0
    edits: int = 0

    def add(self, expected: str, read: str) -> None:
        self.photos += 1
        self.exact += read == expected
        wanted, got = expected.replace(" ", ""), read.replace(" ", "")
        self.digits += len(wanted)
        self.edits += edit_distance(got, wanted)

    @property
    def digit_accuracy(self) -> float:
        return max(0.0, 1.0 - self.edits / max(1, self.digits))

    @property
    def string_accuracy(self) -> float:
        return self.exact / max(1, self.photos)


@dataclass
class Report:
    total: Score
    by_tag: dict[str, Score]
    failures: list[tuple[int, str, str, tuple[str, ...]]]

    def text(self) -> str:
        lines = [
            f"{self.total.photos} photos, {self.total.digits} digits: "
            f"digit accuracy {self.total.digit_accuracy:.2%}, "
            f"string accuracy {self.total.string_accuracy:.2%}",
            "by condition (strings right / photos):",
        ]
        for tag, score in sorted(self.by_tag.items()):
            lines.append(
                f"  {tag:11s} {score.exact:4d}/{score.photos:<4d} {score.string_accuracy:7.1%}"
                f"   digits {score.digit_accuracy:7.2%}"
            )
        lines.append("failures (seed: expected -> read):")
        lines.extend(
            f"  {seed}: {want} -> {got}  {tags}" for seed, want, got, tags in self.failures
        )
        return "\n".join(lines)


@pytest.fixture(scope="module")
def synth_photos(mnist_path) -> list:
    return make_set(SYNTH_COUNT, MnistDigits.load(mnist_path), seed=SYNTH_SEED)


@pytest.fixture(scope="module")
def synth_report(synth_photos, classifier) -> Report:
    photos = synth_photos
    total = Score()
    by_tag: dict[str, Score] = collections.defaultdict(Score)
    failures = []
    for photo in photos:
        read = recognize(photo.jpeg, classifier).text
        total.add(photo.text, read)
        for tag in photo.tags:
            by_tag[tag].add(photo.text, read)
        if read != photo.text:
            failures.append((photo.seed, photo.text, read, photo.tags))
    report = Report(total, dict(by_tag), failures)
    print("\nrecognizer accuracy on the synthetic photo set\n" + report.text())
    return report


def test_edit_distance_counts_each_slip_once() -> None:
    assert edit_distance("4711", "4711") == 0
    assert edit_distance("4711", "4771") == 1  # a wrong digit
    assert edit_distance("471", "4711") == 1  # a missed digit
    assert edit_distance("41711", "4711") == 1  # an extra digit
    assert edit_distance("", "123") == 3


@pytest.mark.slow
def test_synthetic_set_is_read_well_enough_to_guard_regressions(synth_report: Report) -> None:
    """A floor below the figures measured (digits 98.4%, strings 93.0% with
    models/digitbot-v2; 97.2% and 89.0% before the segmentation fixes of session 4):
    a change that breaks reading fails here."""
    assert synth_report.total.digit_accuracy >= 0.97
    assert synth_report.total.string_accuracy >= 0.90


@pytest.mark.slow
def test_synthetic_set_meets_the_digit_target(synth_report: Report) -> None:
    """98.4-98.5% of digits with models/digitbot-v2 since session 6 (97.9% before: the
    squared-paper photo then read as rows of 1s; since session 7 the dots left where
    its grid lines crossed are known as scraps of the lines)."""
    assert synth_report.total.digit_accuracy >= DIGIT_TARGET


@pytest.mark.slow
@pytest.mark.xfail(
    reason=(
        "issue 4 target not met yet: with models/digitbot-v2 the set reads 93.0% of "
        "strings. Main failure modes: one MNIST test digit misread in a photo (10 of the "
        "14 failing strings, mostly near-ties), digits lost or added where digits touch, "
        "small pencil digits on squared paper whose grid reaches the ink only at the "
        "page's darker edges"
    ),
    strict=False,
)
def test_synthetic_set_meets_the_string_target(synth_report: Report) -> None:
    assert synth_report.total.string_accuracy >= STRING_TARGET


@pytest.mark.slow
def test_the_set_at_six_tenths_of_its_size_is_read_nearly_as_well(synth_photos, classifier):
    """People's photos come in any size. At 0.6x (480-960 px, re-encoded as JPEG) the set
    reads 91.0% of strings and 96.8% of digits since session 7 (88.5% of strings before
    photos under 1280 px were worked on enlarged; ``python -m bench scale`` has every
    size)."""
    score = Score()
    for photo in synth_photos:
        score.add(photo.text, recognize(rescaled(photo.jpeg, 0.6), classifier).text)
    print(f"\nat 0.6x: digits {score.digit_accuracy:.2%}, strings {score.string_accuracy:.2%}")
    assert score.digit_accuracy >= 0.96
    assert score.string_accuracy >= 0.895


@pytest.mark.slow
def test_the_set_cropped_to_its_digits_is_read_nearly_as_well(synth_photos, classifier):
    """People crop a photo to the number before sending it, and then the digits fill the
    frame. Cropped to its digits (half a digit's height around them) the set reads 90.0%
    of strings and 98.1% of digits since session 8 (87.5% of strings in session 7, when
    a marker's strokes filling the frame in uneven light could read hollow)."""
    score = Score()
    for photo in synth_photos:
        score.add(photo.text, recognize(cropped(photo), classifier).text)
    print(f"\ncropped: digits {score.digit_accuracy:.2%}, strings {score.string_accuracy:.2%}")
    assert score.digit_accuracy >= 0.97
    assert score.string_accuracy >= 0.89


def test_hand_drawn_images(classifier) -> None:
    labels = json.loads((HANDDRAWN / "labels.json").read_text(encoding="utf-8"))
    assert len(labels) >= 8
    score = Score()
    misread = []
    for name, expected in labels.items():
        read = recognize(HANDDRAWN / name, classifier).text
        score.add(expected, read)
        if read != expected:
            misread.append(f"{name}: {expected} -> {read}")
    print(
        f"\nhand-drawn: digit accuracy {score.digit_accuracy:.2%}, "
        f"string accuracy {score.string_accuracy:.2%}",
        *misread,
        sep="\n",
    )
    assert score.digit_accuracy >= DIGIT_TARGET, misread
    assert score.string_accuracy >= STRING_TARGET, misread
