"""The recognizer's own crops of synthetic photos, labelled, as training data.

A network trained on MNIST alone has never seen what the photo pipeline makes of a digit:
strokes thinned by a pencil or thickened by a marker and then re-normalized, a bit eaten
by ruled-line removal, an edge lost to the threshold in a shadow, a slice of a touching
neighbour, a pen mark from the paper. Those differences cost more readings on photos than
the network's MNIST error does. So training also learns from the crops the recognizer
itself cuts out of photos of MNIST *train* digits (``training.synthetic_photos``): each
photo is segmented exactly as the bot would segment it, and every candidate crop whose
box matches a digit's is labelled with that digit. The cuts that are clearly not one
digit (two touching digits read as one, half a digit, a separator, a stray mark) can be
labelled too, as ``NOT_A_DIGIT``: they teach the network the eleventh output the
recognizer uses to choose between cuts (``recognizer.classifier.Scores.digit_like``).

The photos leave out the synthesiser's drawn glyphs and stroke breaks, which only the
accuracy test uses (see ``training.synthetic_photos``), and their seeds start far above
the test's and the benchmark's. With ``letters``, every ``WORDS_EVERY``-th photo also
has printed words beside its number, and their crops are labelled ``LETTER``: they teach
a network's "printed letter" output (``training.letter_output``).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from recognizer.classifier import LETTERS, NOT_ONE_DIGIT
from recognizer.image_io import load_image
from recognizer.normalization import normalize_batch
from recognizer.pipeline import box_in_photo
from recognizer.segmentation import segment

from .synthetic_photos import MnistDigits, make_photo

#: A crop whose box overlaps a digit's box this much (intersection over union) is read
#: as that digit: the right cut, give or take a separator's dot or a sliver of ink.
MATCH_IOU = 0.6
#: A crop that matches no digit is "not one digit" (``NOT_A_DIGIT``) when it overlaps
#: every digit less than this (a separator, a stray mark, a sliver of a cut digit)...
STRAY_IOU = 0.35
#: ...or holds this much of two digits' boxes (touching digits read as one).
COVERS_DIGIT = 0.4
#: The label of a crop that is not one whole digit: the classifier's output for it.
NOT_A_DIGIT = NOT_ONE_DIGIT
#: Seeds of training photos start here, far from the accuracy test's (0-199) and the
#: benchmark's.
SEED_BASE = 1_000_000
#: The label of a crop of printed words (a letter, a few of them, a word): the
#: classifier's "printed letters" output.
LETTER = LETTERS
#: With ``letters``, every this many photos one has printed words beside its number
#: (``make_photo``'s ``words``): their crops teach the network that letters are not
#: digits, so that a label on a form or a page of print is not read as a number.
WORDS_EVERY = 2
#: A crop of a word narrower than this share of its height is left out: a letter's
#: upright stroke alone (of an H, an N) is drawn as a 1 is.
WORD_STROKE_ASPECT = 0.4
#: Photos per task handed to a worker process.
CHUNK = 25


@dataclass(frozen=True)
class LabelledCrops:
    """28x28 crops (uint8, ink = 255, as the classifier gets them) and their digits."""

    images: np.ndarray
    labels: np.ndarray

    @classmethod
    def empty(cls) -> LabelledCrops:
        return cls(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))

    @classmethod
    def concatenate(cls, parts: list[LabelledCrops]) -> LabelledCrops:
        parts = [part for part in parts if len(part.labels)]
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([part.images for part in parts]),
            np.concatenate([part.labels for part in parts]),
        )


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw, bx + bw) - max(ax, bx)
    h = min(ay + ah, by + bh) - max(ay, by)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (aw * ah + bw * bh - inter)


def covered(box: tuple[int, int, int, int], by: tuple[int, int, int, int]) -> float:
    """How much of ``box`` lies inside ``by`` (0-1)."""
    x, y, w, h = box
    bx, by_, bw, bh = by
    inter_w = min(x + w, bx + bw) - max(x, bx)
    inter_h = min(y + h, by_ + bh) - max(y, by_)
    return max(0, inter_w) * max(0, inter_h) / max(1, w * h)


def crop_label(
    box: tuple[int, int, int, int], digits: tuple[tuple[int, tuple[int, int, int, int]], ...]
) -> int | None:
    """The digit a crop's box holds, ``NOT_A_DIGIT``, or None when it is neither clearly."""
    if not digits:
        return NOT_A_DIGIT
    overlaps = [iou(box, digit_box) for _, digit_box in digits]
    best = int(np.argmax(overlaps))
    if overlaps[best] >= MATCH_IOU:
        return digits[best][0]
    held = sum(covered(digit_box, box) >= COVERS_DIGIT for _, digit_box in digits)
    if overlaps[best] < STRAY_IOU or held >= 2:
        return NOT_A_DIGIT
    return None


def crops_of_photo(
    jpeg: bytes,
    digits: tuple[tuple[int, tuple[int, int, int, int]], ...],
    not_digits: bool = False,
    words: tuple[tuple[int, int, int, int], ...] = (),
) -> LabelledCrops:
    """The candidate crops of one photo that match one of its ``digits`` (label, box),
    with ``not_digits`` those that are clearly not one digit (``NOT_A_DIGIT``), and the
    crops of its printed ``words`` (boxes) as ``LETTER``, but no upright stroke alone of
    a letter (an H's or an N's is drawn as a 1 is)."""
    loaded = load_image(jpeg)
    segmentation = segment(loaded.image)
    masks, labels = [], []
    for crop in segmentation.crops:
        found = box_in_photo(crop, loaded, segmentation.scale)
        box = (found.x, found.y, found.w, found.h)
        label: int | None
        if any(covered(box, word) >= 0.5 for word in words):
            label = LETTER if found.w >= WORD_STROKE_ASPECT * found.h else None
        else:
            label = crop_label(box, digits)
            if label == NOT_A_DIGIT and not not_digits:
                label = None
        if label is not None:
            masks.append(crop.mask)
            labels.append(label)
    if not masks:
        return LabelledCrops.empty()
    return LabelledCrops(normalize_batch(masks), np.asarray(labels, np.uint8))


_worker_digits: MnistDigits | None = None
_worker_not_digits = False
_worker_letters = False


def _use(digits: MnistDigits, not_digits: bool, letters: bool) -> None:
    global _worker_digits, _worker_not_digits, _worker_letters
    _worker_digits, _worker_not_digits, _worker_letters = digits, not_digits, letters


def _init_worker(digits: MnistDigits, not_digits: bool, letters: bool) -> None:
    _use(digits, not_digits, letters)
    cv2.setNumThreads(1)  # one process per CPU already


def _crops_of_seeds(seeds: range) -> LabelledCrops:
    assert _worker_digits is not None
    parts = []
    for seed in seeds:
        words = _worker_letters and seed % WORDS_EVERY == 0
        photo = make_photo(
            seed, _worker_digits, drawn_styles=False, broken_strokes=False, words=words
        )
        parts.append(crops_of_photo(photo.jpeg, photo.digits, _worker_not_digits, photo.words))
    return LabelledCrops.concatenate(parts)


#: ``progress(photos_done, photos_total)``: called as the photos' crops come in.
PhotoProgress = Callable[[int, int], None]


def photo_crops(
    photos: int,
    digits: MnistDigits,
    seed: int = 0,
    workers: int | None = None,
    not_digits: bool = False,
    progress: PhotoProgress | None = None,
    letters: bool = False,
) -> LabelledCrops:
    """Labelled crops of ``photos`` synthetic photos of ``digits`` (about 8 per photo),
    with ``not_digits`` their crops that are not one digit, and with ``letters`` the crops
    of the printed words every ``WORDS_EVERY``-th photo has (see ``crops_of_photo``).

    Photo ``k`` has seed ``SEED_BASE + seed * photos + k``, so the same arguments always
    give the same crops. The photos are made and segmented in ``workers`` processes
    (default: one per CPU), started fresh so that a parent holding TensorFlow is safe.

    Making thousands of photos takes minutes, so ``progress(done, photos)`` is called
    as each chunk of ``CHUNK`` photos is done (in seed order, like the crops): the crops
    are the same with or without it, and whatever the number of workers.
    """
    if photos <= 0:
        return LabelledCrops.empty()
    first = SEED_BASE + seed * photos
    last = first + photos
    chunks = [range(start, min(start + CHUNK, last)) for start in range(first, last, CHUNK)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(chunks)))
    parts: list[LabelledCrops] = []

    def collect(chunk: range, part: LabelledCrops) -> None:
        parts.append(part)
        if progress is not None:
            progress(chunk.stop - first, photos)

    if workers == 1:
        _use(digits, not_digits, letters)
        for chunk in chunks:
            collect(chunk, _crops_of_seeds(chunk))
        return LabelledCrops.concatenate(parts)
    context = multiprocessing.get_context("spawn")
    args = (digits, not_digits, letters)
    with ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=args) as pool:
        # ``map`` submits every chunk at once and yields their results in order as soon
        # as each one (and those before it) is done.
        for chunk, part in zip(chunks, pool.map(_crops_of_seeds, chunks), strict=True):
            collect(chunk, part)
    return LabelledCrops.concatenate(parts)
