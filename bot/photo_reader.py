"""Reading photos in worker processes: recognize, then draw the two pictures.

Why processes and not threads: OpenCV and LiteRT release the GIL, but matplotlib's
drawing and the Python glue around every step hold it, so threads made the bot use about
1.3 of 2 cores under load. A pool of WORKERS processes uses them all, and the event loop
keeps the main process's GIL to itself for talking to Telegram.

How: a ``ProcessPoolExecutor`` on the ``forkserver`` start method (the bot's main process
runs threads, which ``fork`` must not copy), whose server imports the recognizer once, so
a new worker starts in milliseconds. A worker loads a model the first time a photo asks
for it and keeps it: the job names the model file, never ships the model. A worker that
dies (a crash inside a native library on a hostile image) breaks the pool; the pool is
then rebuilt, and each photo it was reading is tried once more in a process of its own,
so the one photo that crashes again is told it could not be read and the others are
answered as usual. The bot itself goes on either way.
"""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from recognizer.classifier import Classifier
from recognizer.normalization import SIZE
from recognizer.pipeline import recognize
from recognizer.rendering import render_annotated, render_confidence_plot
from recognizer.types import ImageTooLargeError, Recognition, RecognitionError

from . import replies

log = logging.getLogger(__name__)

#: Modules the fork server imports once, so that every worker starts with them loaded.
PRELOAD = ("bot.photo_reader",)
#: Models a worker keeps loaded: the live one, and the one before a swap for the photos
#: still in flight.
MODELS_PER_WORKER = 2
#: How often an idle worker checks that the bot is still there (seconds).
ORPHAN_CHECK_SECONDS = 1.0


class PhotoReaderCrashError(RecognitionError):
    """The worker reading this photo died twice (a native crash on this image)."""

    user_message = "Sorry, something went wrong while reading this photo. Please try another one."


@dataclass(frozen=True, slots=True)
class PhotoReading:
    recognition: Recognition
    annotated_png: bytes | None
    plot_png: bytes | None


def read_photo(data: bytes, classifier: Classifier, max_pixels: int) -> PhotoReading:
    """Recognize and draw: the CPU work of one photo."""
    check_pixels(data, max_pixels)
    recognition = recognize(data, classifier=classifier)
    if not recognition.digits:
        return PhotoReading(_without_photo(recognition), None, None)
    return PhotoReading(
        _without_photo(recognition),
        render_annotated(recognition),
        render_confidence_plot(recognition),
    )


def _without_photo(recognition: Recognition) -> Recognition:
    """The reading without the image it was read from: the pictures are drawn here, and
    the megabytes of pixels need not travel back from a worker process."""
    return replace(recognition, preview=None)


def check_pixels(data: bytes, max_pixels: int) -> None:
    """Refuse an image above MAX_PIXELS from its header alone (nothing decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(str(exc)) from exc
    except Exception:
        return  # not an image Pillow knows: the recognizer gives the precise answer
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{width}x{height} is more than {max_pixels} pixels",
            user_message=replies.too_many_pixels(width, height, max_pixels),
        )


# --- inside a worker process ---------------------------------------------------------------

_worker_models: dict[Path, Classifier] = {}


def _start_worker(bot_pid: int) -> None:
    """Leave Ctrl+C to the bot: a SIGINT to the terminal's process group must not kill a
    photo half read; the bot shuts the pool down when its replies are done. SIGTERM
    keeps its default: the pool itself terminates the workers of a broken pool with it.
    And follow the bot when it dies without a word (``kill -9``): nothing else would
    tell a worker waiting for its next photo."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    Image.init()
    threading.Thread(target=_exit_with, args=(bot_pid,), name="follow-the-bot", daemon=True).start()


def _exit_with(bot_pid: int) -> None:
    while True:
        time.sleep(ORPHAN_CHECK_SECONDS)
        try:
            os.kill(bot_pid, 0)
        except (ProcessLookupError, PermissionError):  # gone, or its pid reused by another
            os._exit(0)


def _worker_classifier(path: Path) -> Classifier:
    classifier = _worker_models.get(path)
    if classifier is None:
        classifier = Classifier.load(path)
        while len(_worker_models) >= MODELS_PER_WORKER:
            _worker_models.pop(next(iter(_worker_models)))
        _worker_models[path] = classifier
    return classifier


def _read_in_worker(data: bytes, model_path: Path, max_pixels: int) -> PhotoReading:
    return read_photo(data, _worker_classifier(model_path), max_pixels)


def _warm_up(model_path: Path) -> int:
    """Load the model (and the libraries' lazy parts) before the first photo arrives."""
    _worker_classifier(model_path).predict(np.zeros((1, SIZE, SIZE), np.uint8))
    return os.getpid()


Reader = Callable[[bytes, Path, int], PhotoReading]


# --- in the bot ----------------------------------------------------------------------------


class PhotoReaderPool:
    """WORKERS processes that read photos; rebuilt when a worker dies."""

    def __init__(self, workers: int, reader: Reader | None = None) -> None:
        """``reader`` replaces the work done per photo (tests make workers crash with it);
        it must be a module-level function, since it travels to the worker by name."""
        self.workers = workers
        self._reader = reader or _read_in_worker
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(PRELOAD))
        self._executor = self._new_executor()
        self._closed = False

    def _new_executor(self, workers: int | None = None) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers or self.workers,
            mp_context=self._context,
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )

    async def warm_up(self, model_path: Path) -> list[int]:
        """Start the workers and load the model; the process ids that answered."""
        loop = asyncio.get_running_loop()
        executor = self._executor
        jobs = [loop.run_in_executor(executor, _warm_up, model_path) for _ in range(self.workers)]
        return sorted(set(await asyncio.gather(*jobs)))

    async def read(self, data: bytes, model_path: Path, max_pixels: int) -> PhotoReading:
        """Read one photo in a worker; RecognitionError subclasses for bad input.

        When the pool breaks, every photo it was reading is tried again, each in a
        process of its own: the photo that killed a worker then kills only its own,
        and the others are read.
        """
        loop = asyncio.get_running_loop()
        executor = self._executor
        try:
            return await loop.run_in_executor(executor, self._reader, data, model_path, max_pixels)
        except BrokenProcessPool:
            if self._closed:
                raise
            log.error("A photo reader process died; restarting the pool")
            self._replace(executor)
        alone = self._new_executor(workers=1)
        try:
            return await loop.run_in_executor(alone, self._reader, data, model_path, max_pixels)
        except BrokenProcessPool:
            log.error("A photo killed its photo reader twice; telling the user")
            raise PhotoReaderCrashError("the photo reader died twice on this photo") from None
        finally:
            alone.shutdown(wait=False)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A new pool in place of ``broken``, once, however many photos saw it break
        (they all run on the bot's event loop, so no lock is needed)."""
        if self._executor is broken and not self._closed:
            self._executor = self._new_executor()
        broken.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """Finish the photos being read, then stop the workers."""
        self._closed = True
        self._executor.shutdown(wait=True)
