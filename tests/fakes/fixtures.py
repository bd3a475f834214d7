"""Pytest fixtures for the end-to-end tests: the fake Bot API server and the real bot.

Registered from tests/conftest.py with ``pytest_plugins = ["fakes.fixtures"]``.

* ``fake_api``: a fresh fake server per test.
* ``bot_config``: the bot's settings for this test (fake URLs, a fresh DATA_DIR, admin 1).
* ``bot_app``: the real bot running in-process with those settings.
* ``start_bot``: ``async with start_bot(rate_limit_per_minute=2) as app`` for other settings
  (``build={"timeouts": ...}`` goes to build_application), or for stopping and starting
  again on the same DATA_DIR.
* ``bot_process``: ``python -m bot.cli run`` in a subprocess (kill -9, restarts).
* ``photo_of``: ``photo_of("1234")`` is a photo of those handwritten digits; its ``.text``
  is what the recognizer reads in it (the same, unless the recognizer cannot), so a wrong
  answer from the bot is the bot's fault.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fakes.bot_runner import BotProcess, bot_settings, running_bot
from fakes.digit_photos import digits_photo
from fakes.fake_bot_api import FakeBotApi

#: Seeds tried for a photo the recognizer reads right before giving up.
PHOTO_SEEDS = 40


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """A fresh fake Bot API server on a free port of 127.0.0.1, stopped after the test."""
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def bot_config(fake_api: FakeBotApi, data_dir: Path, mnist_path: Path) -> dict[str, Any]:
    """Settings (by name) that point the bot at ``fake_api`` and a fresh DATA_DIR."""
    return bot_settings(fake_api, data_dir, mnist_path=mnist_path)


@pytest.fixture
def start_bot(
    bot_config: dict[str, Any],
) -> Callable[..., AbstractAsyncContextManager[Any]]:
    """Start the in-process bot with ``bot_config`` plus overrides, as a context manager."""

    def start(
        *, build: dict[str, Any] | None = None, **overrides: Any
    ) -> AbstractAsyncContextManager[Any]:
        return running_bot({**bot_config, **overrides}, **(build or {}))

    return start


@pytest.fixture
async def bot_app(start_bot: Callable[..., AbstractAsyncContextManager[Any]]) -> AsyncIterator:
    """The real bot, polling the fake in this test's event loop."""
    async with start_bot() as app:
        yield app


@pytest.fixture
def bot_process(bot_config: dict[str, Any], tmp_path: Path) -> Iterator[BotProcess]:
    """The bot as ``python -m bot.cli run`` (not started yet); killed after the test."""
    process = BotProcess(bot_config, tmp_path / "bot.log", cwd=tmp_path)
    yield process
    process.kill()


class Photo(bytes):
    """Encoded photo bytes that also know the number the recognizer reads in them."""

    text: str

    def __new__(cls, data: bytes, text: str) -> Photo:
        photo = super().__new__(cls, data)
        photo.text = text
        return photo


@pytest.fixture(scope="session")
def photo_of(mnist_test: tuple[np.ndarray, np.ndarray], classifier: Any) -> Callable[..., Photo]:
    """A photo of handwritten ``text`` (JPEG, or PNG with png=True); ``.text`` is what the
    recognizer reads in it, which the bot must report.

    A photo read exactly right is preferred. If none of PHOTO_SEEDS is (the recognizer's
    accuracy is tested elsewhere), the first one read with as many digits is used, so that
    the end-to-end tests check the bot, not the recognizer.
    """
    from recognizer.pipeline import recognize

    images, labels = mnist_test
    cache: dict[tuple[str, bool], Photo] = {}

    def make(text: str, *, png: bool = False) -> Photo:
        key = (text, png)
        if key in cache:
            return cache[key]
        fallback = None
        for seed in range(PHOTO_SEEDS):
            data = digits_photo(images, labels, text, seed=seed, png=png)
            read = recognize(data, classifier=classifier).text
            if read == text:
                cache[key] = Photo(data, read)
                return cache[key]
            if fallback is None and len(read.replace(" ", "")) == len(text):
                fallback = Photo(data, read)
        if fallback is None:
            pytest.fail(
                f"no photo of {text!r} in {PHOTO_SEEDS} tries is read as {len(text)} digits"
            )
        cache[key] = fallback
        return fallback

    return make
