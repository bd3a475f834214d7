"""Fuzzing ``recognize``: whatever bytes or arrays arrive, it answers or raises a
``RecognitionError`` with a friendly message, in bounded time and memory.

CI runs a short fuzz (``FUZZ_EXAMPLES``, default 60 per strategy); a long run by hand:
``FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/test_fuzz_recognizer.py --hypothesis-show-statistics``.
"""

from __future__ import annotations

import functools
import io
import os
import resource
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from recognizer import Recognition, RecognitionError, recognize
from recognizer.segmentation import MAX_CANDIDATES

REPO = Path(__file__).resolve().parent.parent

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
#: A hang guard, not a speed target: the slowest input seen in long runs takes well
#: under a second (figures in the README); the issue's bound is 2 s per input.
MAX_SECONDS_PER_INPUT = 2.0
#: Peak memory may grow by at most this much over a whole fuzz run.
MAX_RSS_GROWTH_MB = 600

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


SEED_TEXT = "407"


def _seed_image() -> np.ndarray:
    """A small photo-like picture: three MNIST test digits in dark ink on off-white paper."""
    path = os.environ.get("MNIST_PATH") or str(REPO.parent / "shared" / "data" / "mnist.npz")
    with np.load(path) as data:
        x, y = data["x_test"], data["y_test"]
    canvas = np.full((110, 240), 235, np.uint8)
    for position, char in enumerate(SEED_TEXT):
        index = int(np.flatnonzero(y == int(char))[0])
        digit = cv2.resize(x[index], (70, 70), interpolation=cv2.INTER_LINEAR)
        region = canvas[20:90, 20 + position * 70 : 90 + position * 70]
        ink = (235 - digit.astype(np.int32) * 210 // 255).astype(np.uint8)
        np.minimum(region, ink, out=region)
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2RGB)


@functools.cache
def encoded_seeds() -> dict[str, bytes]:
    pil = Image.fromarray(_seed_image())
    seeds = {}
    for fmt, kwargs in (
        ("JPEG", {"quality": 80}),
        ("PNG", {}),
        ("WEBP", {"quality": 80}),
        ("GIF", {}),
        ("TIFF", {}),
        ("BMP", {}),
    ):
        buffer = io.BytesIO()
        pil.save(buffer, format=fmt, **kwargs)
        seeds[fmt] = buffer.getvalue()
    return seeds


def _check(source) -> Recognition | None:
    started = time.perf_counter()
    try:
        result = recognize(source)
    except RecognitionError as exc:
        assert exc.user_message and "Traceback" not in exc.user_message
        result = None
    elapsed = time.perf_counter() - started
    assert elapsed < MAX_SECONDS_PER_INPUT, f"one input took {elapsed:.2f} s"
    if result is not None:
        assert len(result.digits) <= MAX_CANDIDATES
        for digit in result.digits:
            assert 0 <= digit.label <= 9
            assert 0.0 <= digit.confidence <= 1.0 + 1e-6
    return result


@pytest.fixture(scope="module", autouse=True)
def bounded_memory():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert growth_mb < MAX_RSS_GROWTH_MB, f"peak memory grew by {growth_mb:.0f} MB"


def test_seed_images_are_read() -> None:
    # The mutations start from images the recognizer does read, in every format.
    for fmt, data in encoded_seeds().items():
        result = _check(data)
        assert result is not None, fmt
        assert result.text == SEED_TEXT, f"{fmt}: read {result.text!r}"


@FUZZ_SETTINGS
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _check(data)


@st.composite
def mutated_image(draw: st.DrawFn) -> bytes:
    seeds = encoded_seeds()
    data = bytearray(seeds[draw(st.sampled_from(sorted(seeds)))])
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "header"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 256))]
        elif kind == "header" and len(data) > 32:
            # Corrupt the header, where sizes and counts live.
            index = draw(st.integers(0, 31))
            data[index] = draw(st.integers(0, 255))
    return bytes(data)


@FUZZ_SETTINGS
@given(mutated_image())
def test_mutated_images(data: bytes) -> None:
    _check(data)


@st.composite
def random_array(draw: st.DrawFn) -> np.ndarray:
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int32, bool]))
    ndim = draw(st.integers(0, 4))
    # Sides up to 1200 but at most 2 million elements: the fuzz is about odd shapes and
    # values, not about filling memory in the test itself.
    shape: list[int] = []
    for _ in range(ndim):
        budget = 2_000_000 // max(1, int(np.prod(shape)))
        shape.append(draw(st.integers(0, min(1200, budget))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype is bool:
        return np.asarray(rng.random(shape) > 0.5)
    if np.issubdtype(dtype, np.floating):
        values = rng.normal(0.5, 2.0, shape).astype(dtype)
        if values.size and draw(st.booleans()):
            values.flat[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return values
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


@FUZZ_SETTINGS
@given(random_array())
def test_random_arrays(array: np.ndarray) -> None:
    _check(array)


def test_five_hundred_specks_are_not_digits() -> None:
    rng = np.random.default_rng(5)
    page = np.full((1200, 1600), 230, np.uint8)
    for x, y in rng.integers((10, 10), (1590, 1190), size=(500, 2)):
        cv2.circle(page, (int(x), int(y)), 2, 20, -1)
    result = _check(page)
    assert result is not None
    assert len(result.digits) <= 5, f"specks read as {result.text!r}"


def test_three_hundred_digits_are_capped() -> None:
    page = np.full((1500, 2000), 235, np.uint8)
    for row in range(15):
        for col in range(20):
            cv2.putText(
                page,
                str((row + col) % 10),
                (20 + col * 98, 80 + row * 96),
                cv2.FONT_HERSHEY_SIMPLEX,
                2.2,
                25,
                6,
            )
    started = time.perf_counter()
    result = recognize(page)
    elapsed = time.perf_counter() - started
    assert len(result.digits) == MAX_CANDIDATES
    assert result.truncated, "the reply must be able to say that only the first were read"
    assert elapsed < MAX_SECONDS_PER_INPUT * 2


def test_scribbles_are_capped_before_the_pairwise_steps() -> None:
    # 3,000 short random strokes: about 2,400 digit-sized pieces, which merging and line
    # grouping (pair by pair) took 20 s to compare before the cap; only the largest
    # MAX_PIECES go on.
    from recognizer.pieces import MAX_PIECES, find_pieces

    rng = np.random.default_rng(1)
    page = np.zeros((1200, 1600), np.uint8)
    starts = rng.integers((0, 0), (1600, 1200), size=(3000, 2))
    steps = rng.integers(-12, 12, size=(3000, 2))
    for (x, y), (dx, dy) in zip(starts, steps, strict=True):
        cv2.line(page, (int(x), int(y)), (int(x + dx), int(y + dy)), 255, 2)
    assert len(find_pieces(page).pieces) == MAX_PIECES
    result = recognize(255 - page)
    assert len(result.digits) <= MAX_CANDIDATES
