"""Result types and errors of the recognizer.

They are plain dataclasses so that the bot, the CLI and the tests can read a result
without knowing how it was computed, and so that a result can be turned into JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: A digit whose top probability is below this is flagged uncertain and shown with its
#: runner-up. 0.80 keeps the flag rare on clean handwriting (under 1% of MNIST test
#: digits) while catching most crops that are not digits at all.
UNCERTAIN_BELOW = 0.80


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in the pixel coordinates of the original (oriented) photo."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class Digit:
    """One digit read from a photo."""

    label: int
    probs: tuple[float, ...]
    box: Box
    line: int
    #: The 28x28 uint8 image (ink = 255) that the network saw; kept for the confidence
    #: plot and for training samples when a user confirms or corrects the reading.
    crop: np.ndarray = field(repr=False, compare=False)

    @property
    def confidence(self) -> float:
        return float(self.probs[self.label])

    @property
    def runner_up(self) -> int:
        order = np.argsort(self.probs)[::-1]
        return int(order[1])

    @property
    def uncertain(self) -> bool:
        return self.confidence < UNCERTAIN_BELOW

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "uncertain": self.uncertain,
            "runner_up": self.runner_up,
            "probs": [round(p, 4) for p in self.probs],
            "box": asdict(self.box),
            "line": self.line,
        }


@dataclass(frozen=True, slots=True)
class Recognition:
    """Everything read from one photo; no digits is a valid answer, not an error."""

    digits: tuple[Digit, ...]
    #: Size (width, height) of the oriented photo the boxes refer to.
    image_size: tuple[int, int]
    #: The photo as decoded, oriented and worked on (grey or BGR uint8, at most
    #: ``image_io.WORK_MAX_SIDE`` on its longest side), so that rendering does not have
    #: to decode it again.
    preview: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: Scale from original-photo coordinates to ``preview`` coordinates.
    preview_scale: float = 1.0
    #: True when the photo held more digit candidates than the cap and only the first
    #: ones were read.
    truncated: bool = False

    @property
    def text(self) -> str:
        """Digits in reading order; lines separated by a single space."""
        lines: dict[int, list[str]] = {}
        for digit in self.digits:
            lines.setdefault(digit.line, []).append(str(digit.label))
        return " ".join("".join(lines[k]) for k in sorted(lines))

    @property
    def lowest_confidence(self) -> float | None:
        return min((d.confidence for d in self.digits), default=None)

    @property
    def uncertain(self) -> tuple[Digit, ...]:
        return tuple(d for d in self.digits if d.uncertain)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "digits": [d.to_dict() for d in self.digits],
            "lowest_confidence": (
                None if self.lowest_confidence is None else round(self.lowest_confidence, 4)
            ),
            "image_size": list(self.image_size),
            "truncated": self.truncated,
        }


class RecognitionError(Exception):
    """Bad input; ``user_message`` is safe and friendly to show to the person who sent it."""

    user_message = "Sorry, I could not read that image."

    def __init__(self, detail: str = "", user_message: str | None = None) -> None:
        super().__init__(detail or self.user_message)
        if user_message is not None:
            self.user_message = user_message


class NotAnImageError(RecognitionError):
    user_message = (
        "That file is not an image I can read. Please send a photo (JPEG, PNG, WebP, BMP or TIFF)."
    )


class CorruptImageError(RecognitionError):
    user_message = "That image seems to be damaged or incomplete. Could you send it again?"


class ImageTooLargeError(RecognitionError):
    user_message = "That image is too large for me. Please send a smaller photo."


class ImageTooSmallError(RecognitionError):
    user_message = "That image is too small to hold readable digits. Please send a larger photo."


class ModelLoadError(Exception):
    """A model file is missing, truncated or not a digitbot model (an operator problem)."""
