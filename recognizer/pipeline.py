"""``recognize``: a photo in, every digit with its confidence out.

decode (``image_io``) -> find candidates (``segmentation``) -> 28x28 crops
(``normalization``) -> one ``Classifier.predict`` call for all of them -> ``Recognition``
with boxes mapped back to the original photo and a small preview for the renderer.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from .classifier import Classifier
from .image_io import ImageSource, LoadedImage, downscale_to, load_image
from .normalization import normalize_batch
from .segmentation import Candidate, Segmentation, segment
from .types import Box, Digit, Recognition

#: Longest side of ``Recognition.preview``: enough for a phone screen, cheap to draw on.
RENDER_MAX_SIDE = 1024

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
    preview, preview_scale = _preview(loaded)
    candidates = segmentation.candidates
    digits: tuple[Digit, ...] = ()
    if candidates:
        crops = normalize_batch([candidate.mask for candidate in candidates])
        model = classifier if classifier is not None else default_classifier()
        probs = model.predict(crops)
        digits = tuple(
            Digit(
                label=int(np.argmax(row)),
                probs=tuple(float(p) for p in row),
                box=_original_box(candidate, segmentation, loaded),
                line=candidate.line,
                crop=crop,
            )
            for candidate, row, crop in zip(candidates, probs, crops, strict=True)
        )
    return Recognition(
        digits=digits,
        image_size=loaded.original_size,
        preview=preview,
        preview_scale=preview_scale,
        truncated=segmentation.truncated,
    )


def _preview(loaded: LoadedImage) -> tuple[np.ndarray, float]:
    """The working image shrunk for rendering, and its scale from the original photo."""
    preview, _ = downscale_to(loaded.image, RENDER_MAX_SIDE)
    return preview, preview.shape[1] / loaded.original_size[0]


def _original_box(candidate: Candidate, segmentation: Segmentation, loaded: LoadedImage) -> Box:
    """Map a candidate's box from the segmentation frame to the original photo."""
    x0, y0 = float(candidate.x), float(candidate.y)
    x1, y1 = x0 + candidate.w, y0 + candidate.h
    if segmentation.transform is not None:
        inverse = cv2.invertAffineTransform(segmentation.transform)
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]])
        mapped = corners @ inverse.T
        x0, y0 = mapped.min(axis=0)
        x1, y1 = mapped.max(axis=0)
    width, height = loaded.original_size
    scale = loaded.scale
    left = int(np.clip(np.floor(x0 / scale), 0, width - 1))
    top = int(np.clip(np.floor(y0 / scale), 0, height - 1))
    right = int(np.clip(np.ceil(x1 / scale), left + 1, width))
    bottom = int(np.clip(np.ceil(y1 / scale), top + 1, height))
    return Box(left, top, right - left, bottom - top)
