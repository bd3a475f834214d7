"""Photo -> digits: decode, segment, normalize to MNIST style, classify.

Knows nothing of Telegram or of training. The one entry point is ``recognize``.
"""

from .classifier import Classifier
from .pipeline import recognize
from .types import (
    UNCERTAIN_BELOW,
    Box,
    CorruptImageError,
    Digit,
    ImageTooLargeError,
    ImageTooSmallError,
    ModelLoadError,
    NotAnImageError,
    Recognition,
    RecognitionError,
)

__all__ = [
    "UNCERTAIN_BELOW",
    "Box",
    "Classifier",
    "CorruptImageError",
    "Digit",
    "ImageTooLargeError",
    "ImageTooSmallError",
    "ModelLoadError",
    "NotAnImageError",
    "Recognition",
    "RecognitionError",
    "recognize",
]
