"""A second look at the digits the network was unsure of.

A digit read at, say, 62% is often one the network sits on the fence about because of a
detail of this one drawing: a stroke a pixel too thin, a slant a little past what MNIST
has. Reading the same ink a few more ways (turned a little either way, drawn with a
thicker and a thinner pen) and averaging the probabilities takes the vote of several
near-identical drawings instead of one, which settles such cases more often right than
wrong. Only the digits a reading has chosen, and only those below ``REREAD_BELOW``, are
read again, all in one batch: confident digits, the usual case, cost nothing.
"""

from __future__ import annotations

import cv2
import numpy as np

from .classifier import DIGITS, Classifier
from .normalization import SIZE, normalize
from .styles import apply_style_priors

#: Digits whose top probability is below this are read again.
REREAD_BELOW = 0.95
#: The turns (degrees) each is read at, besides as it is...
TURNS = (-8.0, 8.0)
#: ...and the pen its ink is redrawn with, thicker and thinner, by this many pixels.
PEN_STEP = 3

_PEN = np.ones((PEN_STEP, PEN_STEP), np.uint8)


def variants(mask: np.ndarray, own: np.ndarray | None = None) -> list[np.ndarray]:
    """28x28 inputs of the same ink read other ways (see the module's docstring); the
    first is the crop's own input (``normalize(mask)``, unless already made: ``own``)."""
    own = normalize(mask) if own is None else own
    inputs = [own]
    for angle in TURNS:
        turn = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), angle, 1.0)
        inputs.append(cv2.warpAffine(own, turn, (SIZE, SIZE), flags=cv2.INTER_LINEAR))
    inputs.append(normalize(cv2.dilate(mask, _PEN)))
    thinner = cv2.erode(mask, _PEN, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    if cv2.countNonZero(thinner):  # a hairline would vanish: read it as it is
        inputs.append(normalize(thinner))
    return inputs


def reread(
    masks: list[np.ndarray], classifier: Classifier, inputs: list[np.ndarray] | None = None
) -> np.ndarray:
    """(N, 10) probabilities of each crop's ink, averaged over its variants (with the
    European-1 prior of ``styles`` applied to each, as to every reading). ``inputs``:
    the crops' own 28x28 inputs, when the caller has them already."""
    if not masks:
        return np.zeros((0, DIGITS), np.float32)
    owns = inputs if inputs is not None else [None] * len(masks)
    groups = [variants(mask, own) for mask, own in zip(masks, owns, strict=True)]
    batch = np.stack([image for group in groups for image in group])
    probs = apply_style_priors(batch, classifier.score(batch).probs)
    averaged = np.empty((len(masks), probs.shape[1]), np.float32)
    start = 0
    for index, group in enumerate(groups):
        averaged[index] = probs[start : start + len(group)].mean(axis=0)
        start += len(group)
    return averaged
