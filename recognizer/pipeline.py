"""``recognize``: a photo in, every digit with its confidence out.

decode (``image_io``) -> find candidate digits (``segmentation``) -> 28x28 crops
(``normalization``) -> one ``Classifier.predict`` call for all of them -> the European-1
prior (``styles``) -> the best reading of each line (``lattice.choose_segments``) -> the
lines that are digits at all, judged by their readings and all their pieces
(``rejection``) -> a second look at the unsure digits of those readings
(``second_look``) -> ``Recognition`` with boxes mapped back to the original photo and
the image worked on, for the renderer. ``Digit.probs`` are the network's softmax, with
the one documented adjustment of ``styles``, averaged over the second look's variants for
a digit read below ``second_look.REREAD_BELOW``.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import numpy as np

from .classifier import Classifier
from .image_io import ImageSource, LoadedImage, load_image
from .lattice import Crop, choose_segments
from .normalization import normalize_batch
from .rejection import LineReading, digit_lines, print_share
from .second_look import REREAD_BELOW, reread
from .segmentation import MAX_CANDIDATES, segment
from .styles import apply_style_priors
from .types import Box, Digit, Recognition

_default_lock = threading.Lock()
_default_classifiers: dict[str, Classifier] = {}


def default_classifier() -> Classifier:
    """The classifier of ``MODEL_PATH`` (or the shipped model), loaded once and cached."""
    path = os.environ.get("MODEL_PATH") or ""
    with _default_lock:
        classifier = _default_classifiers.get(path)
        if classifier is None:
            classifier = Classifier.load(Path(path) if path else None)
            _default_classifiers[path] = classifier
        return classifier


def recognize(image: ImageSource, classifier: Classifier | None = None) -> Recognition:
    """Read every handwritten digit in ``image`` (bytes, a path or an array).

    Lines are read top to bottom, digits left to right. Raises a ``RecognitionError``
    subclass for input that is not a usable image; a photo without anything digit-like
    gives a ``Recognition`` with no digits.
    """
    loaded = load_image(image)
    segmentation = segment(loaded.image)
    digits: list[Digit] = []
    crops = segmentation.crops
    if crops:
        inputs = normalize_batch([crop.mask for crop in crops])
        model = classifier if classifier is not None else default_classifier()
        scores = model.score(inputs)
        probs = apply_style_priors(inputs, scores.probs)
        top = probs.max(axis=1)
        readings: list[LineReading] = []
        offset = 0
        for lattice in segmentation.lines:
            count = len(lattice.crops)
            digit_like = scores.digit_like[offset : offset + count]
            path = choose_segments(lattice, probs[offset : offset + count], digit_like)
            indices = offset + np.asarray(path, dtype=np.intp)
            letter_like, printed = None, 0.0
            if scores.letter_like is not None:
                letter_like = scores.letter_like[indices]
                smallest = lattice.smallest_crops
                printed = print_share(
                    scores.letter_like[offset + np.asarray(smallest, dtype=np.intp)],
                    np.array([lattice.crops[k].h for k in smallest], np.float64),
                    lattice.digit_height,
                )
            readings.append(
                LineReading(
                    tuple(indices.tolist()),
                    scores.digit_like[indices],
                    top[indices],
                    lattice.digit_height,
                    set_apart=lattice.digit_height != segmentation.digit_height,
                    letter_like=letter_like,
                    print_share=printed,
                )
            )
            offset += count
        # (line number, index into ``crops``) per digit reported.
        chosen = [
            (line_number, index)
            for line_number, reading in enumerate(digit_lines(readings))
            for index in reading.crops
        ]
        unsure = [index for _, index in chosen if top[index] < REREAD_BELOW]
        probs[unsure] = reread(
            [crops[index].mask for index in unsure], model, [inputs[index] for index in unsure]
        )
        for line_number, index in chosen:
            row = probs[index]
            digits.append(
                Digit(
                    label=int(np.argmax(row)),
                    probs=tuple(float(p) for p in row),
                    box=box_in_photo(crops[index], loaded, segmentation.scale),
                    line=line_number,
                    crop=inputs[index],
                )
            )
    truncated = segmentation.truncated or len(digits) > MAX_CANDIDATES
    return Recognition(
        digits=tuple(digits[:MAX_CANDIDATES]),
        image_size=loaded.original_size,
        # The image worked on, as it is: the renderer shrinks it to what it draws.
        preview=loaded.image,
        preview_scale=loaded.scale,
        truncated=truncated,
    )


def box_in_photo(crop: Crop, loaded: LoadedImage, segmentation_scale: float) -> Box:
    """Map a crop's box from the segmentation's pixels to the original photo."""
    width, height = loaded.original_size
    scale = loaded.scale * segmentation_scale
    left = min(max(math.floor(crop.x / scale), 0), width - 1)
    top = min(max(math.floor(crop.y / scale), 0), height - 1)
    right = min(max(math.ceil((crop.x + crop.w) / scale), left + 1), width)
    bottom = min(max(math.ceil((crop.y + crop.h) / scale), top + 1), height)
    return Box(left, top, right - left, bottom - top)
