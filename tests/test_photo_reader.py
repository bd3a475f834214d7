"""The photo-reading processes: real photos read in workers, errors that keep their
user message, and a worker that dies (the pool is rebuilt; the bot goes on)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from bot.photo_reader import (
    PhotoReaderCrashError,
    PhotoReaderPool,
    PhotoReading,
    _read_in_worker,
)
from recognizer.classifier import shipped_model_path
from recognizer.types import ImageTooLargeError, NotAnImageError

MAX_PIXELS = 40_000_000


def digits_png(text: str) -> bytes:
    image = np.full((300, 120 + 110 * len(text)), 255, np.uint8)
    for k, char in enumerate(text):
        cv2.putText(image, char, (60 + 110 * k, 220), cv2.FONT_HERSHEY_SIMPLEX, 5, 0, 14)
    ok, png = cv2.imencode(".png", image)
    assert ok
    return png.tobytes()


def crash_on_marker(data: bytes, model_path: Path, max_pixels: int) -> PhotoReading:
    """Dies like a native crash would when the photo holds the marker; reads otherwise."""
    if data.startswith(b"CRASH"):
        os._exit(70)
    return _read_in_worker(data, model_path, max_pixels)


@pytest.fixture
def model() -> Path:
    return shipped_model_path()


async def test_a_photo_is_read_and_drawn_in_a_worker(model: Path) -> None:
    pool = PhotoReaderPool(1)
    try:
        reading = await pool.read(digits_png("307"), model, MAX_PIXELS)
    finally:
        pool.shutdown()
    assert reading.recognition.text == "307"
    assert reading.annotated_png is not None and reading.annotated_png.startswith(b"\x89PNG")
    assert reading.plot_png is not None and reading.plot_png.startswith(b"\x89PNG")
    # The photo's pixels stay in the worker: the bot needs the reading and the pictures.
    assert reading.recognition.preview is None
    assert all(digit.crop is not None for digit in reading.recognition.digits)


async def test_errors_from_a_worker_keep_their_user_message(model: Path) -> None:
    pool = PhotoReaderPool(1)
    try:
        with pytest.raises(NotAnImageError) as not_image:
            await pool.read(b"hello, not an image", model, MAX_PIXELS)
        with pytest.raises(ImageTooLargeError) as too_large:
            await pool.read(digits_png("1"), model, 1000)
    finally:
        pool.shutdown()
    assert "image" in not_image.value.user_message.lower()
    assert "230×300" in too_large.value.user_message  # the message made in the worker


async def test_several_photos_are_read_at_once(model: Path) -> None:
    pool = PhotoReaderPool(2)
    try:
        await pool.warm_up(model)
        texts = ["12", "345", "6789", "0"]
        readings = await asyncio.gather(
            *(pool.read(digits_png(t), model, MAX_PIXELS) for t in texts)
        )
    finally:
        pool.shutdown()
    assert [r.recognition.text for r in readings] == texts


async def test_a_dying_worker_is_replaced_and_the_photo_tried_again(model: Path) -> None:
    pool = PhotoReaderPool(1, reader=crash_on_marker)
    try:
        with pytest.raises(PhotoReaderCrashError) as crashed:
            await pool.read(b"CRASH and burn", model, MAX_PIXELS)
        # The pool works again after the crash.
        reading = await pool.read(digits_png("42"), model, MAX_PIXELS)
    finally:
        pool.shutdown()
    assert "something went wrong" in crashed.value.user_message.lower()
    assert reading.recognition.text == "42"


async def test_innocent_photos_in_flight_survive_a_crash(model: Path) -> None:
    pool = PhotoReaderPool(2, reader=crash_on_marker)
    try:
        await pool.warm_up(model)
        results = await asyncio.gather(
            pool.read(digits_png("47"), model, MAX_PIXELS),
            pool.read(b"CRASH", model, MAX_PIXELS),
            pool.read(digits_png("96"), model, MAX_PIXELS),
            return_exceptions=True,
        )
    finally:
        pool.shutdown()
    assert isinstance(results[1], PhotoReaderCrashError)
    assert [r.recognition.text for r in (results[0], results[2])] == ["47", "96"]


ORPHAN_SCRIPT = """
import asyncio, sys
from bot.photo_reader import PhotoReaderPool
from recognizer.classifier import shipped_model_path

async def main():
    pool = PhotoReaderPool(2)
    pids = await pool.warm_up(shipped_model_path())
    print(" ".join(map(str, pids)), flush=True)
    await asyncio.sleep(120)

if __name__ == "__main__":
    asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for its parent to collect it.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_workers_follow_a_bot_killed_with_sigkill(tmp_path: Path) -> None:
    script = tmp_path / "bot_like.py"
    script.write_text(ORPHAN_SCRIPT)
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo)}
    bot = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert bot.stdout is not None
        workers = [int(pid) for pid in bot.stdout.readline().split()]
        assert workers and all(alive(pid) for pid in workers)
    finally:
        bot.send_signal(signal.SIGKILL)
        bot.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers), "photo readers outlived the bot"


CRASH_THEN_EXIT_SCRIPT = """
import asyncio
from bot.photo_reader import PhotoReaderPool
from recognizer.classifier import shipped_model_path
from test_photo_reader import MAX_PIXELS, crash_on_marker, digits_png

async def main():
    model = shipped_model_path()
    pool = PhotoReaderPool(2, reader=crash_on_marker)
    await pool.warm_up(model)
    await asyncio.gather(
        pool.read(digits_png("47"), model, MAX_PIXELS),
        pool.read(b"CRASH", model, MAX_PIXELS),
        return_exceptions=True,
    )
    pool.shutdown()

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_the_bot_can_exit_after_a_worker_crashed(tmp_path: Path) -> None:
    """A broken pool terminates its other workers with SIGTERM and waits for them: a
    worker deaf to SIGTERM would hang the bot's exit for good."""
    script = tmp_path / "crash_then_exit.py"
    script.write_text(CRASH_THEN_EXIT_SCRIPT)
    tests = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests.parent), str(tests)])}
    done = subprocess.run([sys.executable, str(script)], env=env, timeout=120, capture_output=True)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
